// An example page script against potok.d.ts: what a web developer writes with the browser client.
// It is not served; tsc checks it (e2e TestPotokDeclarations).
import type { PublishOptions, ReceiveStats, SendStats, Session, Stream } from '../static/potok';

const local = document.querySelector<HTMLVideoElement>('#local')!;
const remote = document.querySelector<HTMLVideoElement>('#remote')!;

function isReceive(s: ReceiveStats | SendStats): s is ReceiveStats {
  return 'FramesDecoded' in s;
}

async function twoWay(url: string, name: string): Promise<void> {
  const session: Session = await Potok.connect(url, { appKey: 'defaultApp', reconnect: true, reconnectFor: 30 });
  session.on('RECONNECTING', info => console.log('socket lost, re-attaching:', info));
  session.on('status', (status, info) => console.log('session', status, info));
  session.on('DISCONNECTED', info => console.log('lost:', info));
  session.on('data', (payload, event) => console.log('backend says', payload, event.operationId));
  const { available, info } = await session.availableStream(name);
  if (!available) console.log(name, 'is not published yet:', info);

  const options: PublishOptions = { name, display: local, video: { width: 640, height: 480 }, audio: true };
  const publisher: Stream = await session.publish(options);
  await publisher.waitFor('PUBLISHING');
  await publisher.muteAudio();
  await publisher.unmuteAudio();

  const player = await session.play({ name, display: remote, noAudio: false });
  player
    .on('status', (status, info, stream) => console.log(status, info, stream.mediaSessionId))
    .on('videoFormat', format => console.log(format.width, format.height))
    .on('streamEvent', event => console.log('publisher', event.type))
    .on('rate', (rate, kind) => console.log(kind, rate.mediaSessionId))
    .on('FAILED', info => console.error('failed:', info));
  await player.waitFor('PLAYING');
  const stats = await player.getStats();
  if (isReceive(stats)) console.log(`${stats.Width}x${stats.Height}`, stats.FramesDecoded, stats.VideoCodec);

  const reply = await session.sendData({ hello: 'backend' });
  console.log(reply.status, reply.info ?? '');
  await player.stop();
  await publisher.stop();
  await session.disconnect();
}

async function shareScreen(session: Session, canvas: HTMLCanvasElement): Promise<void> {
  const screen = await session.publish({ name: 'screen', screen: true });
  const drawn = await session.publish({ name: 'canvas', canvas, fps: 30, audio: false });
  console.log(screen.mediaStream.getVideoTracks().length, drawn.id, Potok.loadMs);
}

void twoWay('ws://localhost:8080', 'stream1');
void shareScreen;
