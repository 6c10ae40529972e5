// demo.js: what the demo pages share. Not part of the client: pages of your own need only potok.js.
'use strict';

const demo = {
  query: new URLSearchParams(location.search),
  // window.__demo is what the tests (e2e/) read: statuses as they come, first frame, errors.
  state: (window.__demo = { statuses: [], errors: [], firstFrameMs: 0, loadMs: 0 }),

  // defaultServer is the WebSocket port of the potok serving the page: 8080 (wss 8443) as WCS.
  defaultServer() {
    if (demo.query.get('server')) return demo.query.get('server');
    const secure = location.protocol === 'https:';
    return (secure ? 'wss://' : 'ws://') + location.hostname + (secure ? ':8443' : ':8080');
  },
  $(id) { return document.getElementById(id); },

  setStatus(id, status, info) {
    const el = demo.$(id);
    el.textContent = status + (info ? ' (' + info + ')' : '');
    el.className = 'status ' + ({ PUBLISHING: 'ok', PLAYING: 'ok', ESTABLISHED: 'ok', FAILED: 'bad', DISCONNECTED: 'bad' }[status] || '');
    demo.state.statuses.push({ who: id, status, info: info || '', ms: Math.round(performance.now()) });
  },
  error(e) {
    const msg = e && e.message ? e.message : String(e);
    demo.$('error').textContent = msg;
    demo.state.errors.push(msg);
    console.error('demo:', msg);
  },
  clearError() { demo.$('error').textContent = ''; },

  // firstFrame records when the <video> shows its first remote picture, from navigation start.
  firstFrame(video) {
    const mark = () => { if (!demo.state.firstFrameMs) demo.state.firstFrameMs = Math.round(performance.now()); };
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(mark);
    else video.addEventListener('loadeddata', mark, { once: true });
  },

  // showStats refreshes a player's figures once a second while it plays.
  showStats(stream, id) {
    let last = null;
    const tick = async () => {
      if (['FAILED', 'STOPPED', 'UNPUBLISHED'].includes(stream.status())) return;
      try {
        const s = await stream.getStats();
        const now = performance.now();
        let rate = '';
        if (last && s.VideoBytes !== undefined) {
          const dt = (now - last.at) / 1000;
          rate = `  ${((s.FramesDecoded - last.s.FramesDecoded) / dt).toFixed(0)} fps  ${((s.VideoBytes - last.s.VideoBytes) * 8 / dt / 1000).toFixed(0)} kbit/s`;
        }
        last = { s, at: now };
        demo.$(id).textContent = s.VideoBytes !== undefined
          ? `${s.Width}x${s.Height} ${s.VideoCodec}  frames ${s.FramesDecoded}${rate}`
          : `video ${s.Video.Frames} frames ${s.Video.Packets} packets  audio ${s.Audio.Packets} packets`;
        demo.state['stats_' + id] = s;
      } catch (e) { /* the stream ended meanwhile */ }
      setTimeout(tick, 1000);
    };
    tick();
  },
};
