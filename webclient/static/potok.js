// potok.js: the Potok browser client. A promise and event API in the spirit of the Flashphoner
// WebSDK over Potok's Go client (wasmclient) compiled to WebAssembly: the wasm speaks the WCS
// protocol and drives the browser's RTCPeerConnection; this file loads it and wraps it.
//
//   Potok.connect('ws://host:8080')
//     .then(session => session.publish({name: 'cam1', display: document.querySelector('#local')}))
//     .then(stream => stream.waitFor('PUBLISHING'));
//
// Types: potok.d.ts beside this file. Served by potok at /client/potok.js.
(function (global) {
  'use strict';

  const script = document.currentScript;
  const base = script && script.src ? new URL('.', script.src).href : new URL('.', location.href).href;
  const terminal = ['FAILED', 'STOPPED', 'UNPUBLISHED'];
  let loading = null;

  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = src;
      s.onload = resolve;
      s.onerror = () => reject(new Error('potok: cannot load ' + src));
      document.head.appendChild(s);
    });
  }

  // load fetches and starts the wasm once; connect calls it.
  function load(options) {
    if (loading) return loading;
    const o = options || {};
    loading = (async () => {
      const t0 = performance.now();
      if (!global.Go) await loadScript(o.wasmExecUrl || base + 'wasm_exec.js');
      const go = new global.Go();
      const ready = new Promise(resolve => { global.__potokReady = resolve; });
      const url = o.wasmUrl || base + 'potok.wasm';
      let result;
      if (WebAssembly.instantiateStreaming) {
        result = await WebAssembly.instantiateStreaming(fetch(url), go.importObject);
      } else {
        const bytes = await (await fetch(url)).arrayBuffer();
        result = await WebAssembly.instantiate(bytes, go.importObject);
      }
      // go.run settles only when the Go program exits, which it does only when it crashed.
      go.run(result.instance).then(() => console.error('potok: the wasm client exited; reload the page'));
      await ready;
      Potok.loadMs = performance.now() - t0;
      return global.__potokGo;
    })();
    loading.catch(() => { loading = null; });
    return loading;
  }

  class Emitter {
    constructor() { this._handlers = {}; }
    // on(event, handler): see potok.d.ts for the events of a Session and a Stream.
    on(event, handler) { (this._handlers[event] = this._handlers[event] || []).push(handler); return this; }
    off(event, handler) {
      this._handlers[event] = (this._handlers[event] || []).filter(h => h !== handler);
      return this;
    }
    _emit(event, ...args) {
      for (const h of (this._handlers[event] || []).slice()) {
        try { h.apply(this, args); } catch (e) { console.error('potok: handler of ' + event, e); }
      }
    }
  }

  class Stream extends Emitter {
    constructor(name, published) {
      super();
      this.name = name;
      this.published = published;
      this.id = null;
      this.mediaStream = null;
      this._status = 'PENDING';
      this._info = '';
      this._queue = []; // events before the promise resolved: replayed after the caller's then
      this._h = null;
    }
    _attach(h) {
      this._h = h;
      this.id = h.id;
      this.mediaStream = h.mediaStream;
      setTimeout(() => { const q = this._queue; this._queue = null; q.forEach(e => this._dispatch(e[0], e[1])); }, 0);
    }
    _event(kind, ev) {
      if (kind === 'status') { this._status = ev.status; this._info = ev.info || ''; }
      if (this._queue) this._queue.push([kind, ev]); else this._dispatch(kind, ev);
    }
    _dispatch(kind, ev) {
      switch (kind) {
        case 'status':
          this._emit('status', ev.status, ev.info || '', ev.stream);
          this._emit(ev.status, ev.info || '', ev.stream);
          break;
        case 'notifyVideoFormat': this._emit('videoFormat', ev.videoFormat); break;
        case 'notifyStreamEvent': this._emit('streamEvent', ev.event); break;
        case 'inboundVideoRate': case 'outboundVideoRate': this._emit('rate', ev.rate, kind); break;
      }
    }
    status() { return this._status; }
    info() { return this._info; }
    // waitFor resolves when the stream reaches one of the statuses, rejects when it ends otherwise.
    waitFor(...statuses) {
      return new Promise((resolve, reject) => {
        const check = (status, info) => {
          if (statuses.includes(status)) { this.off('status', check); resolve(status); return true; }
          if (terminal.includes(status)) { this.off('status', check); reject(new Error(status + ': ' + info)); return true; }
          return false;
        };
        if (!check(this._status, this._info)) this.on('status', check);
      });
    }
    stop() { return this._h.stop(); }
    muteAudio() { return this._h.muteAudio(); }
    unmuteAudio() { return this._h.unmuteAudio(); }
    muteVideo() { return this._h.muteVideo(); }
    unmuteVideo() { return this._h.unmuteVideo(); }
    getStats() { return this._h.getStats(); }
  }

  class Session extends Emitter {
    constructor(url) { super(); this.url = url; this._h = null; this._status = 'PENDING'; this.authToken = ''; }
    _attach(h) { this._h = h; this.authToken = h.authToken; this._status = 'ESTABLISHED'; }
    _event(kind, ev) {
      if (kind === 'data') { this._emit('data', ev.payload, ev); return; }
      if (kind !== 'session') return;
      this._status = ev.status;
      this._emit('status', ev.status, ev.info || '');
      this._emit(ev.status, ev.info || '');
    }
    status() { return this._status; }
    publish(options) { return this._stream(options, true); }
    play(options) { return this._stream(options, false); }
    _stream(options, published) {
      const o = options || {};
      const s = new Stream(o.name, published);
      const fn = published ? this._h.publish : this._h.play;
      return fn.call(this._h, o, (kind, ev) => s._event(kind, ev)).then(h => { s._attach(h); return s; });
    }
    sendData(payload) { return this._h.sendData(payload); }
    availableStream(name) { return this._h.availableStream(name); }
    disconnect() { return this._h.disconnect(); }
  }

  const Potok = {
    load,
    loadMs: 0,
    // connect resolves with an ESTABLISHED session (getUserData received).
    connect(url, options) {
      const s = new Session(url);
      return load(options).then(api => api.connect(url, options || {}, (kind, ev) => s._event(kind, ev)))
        .then(h => { s._attach(h); return s; });
    },
  };
  global.Potok = Potok;
})(typeof window !== 'undefined' ? window : globalThis);
