// Compiled (not run) by the build: the typical OpenTok.js app, and the promise and Room
// State forms, must type-check against the SDK's declarations.
import OT, { type OTError, type RoomState, type Stream, type SubscriberStats } from '../src/index';

declare const apiKey: string;
declare const sessionId: string;
declare const token: string;

function handleError(error?: OTError): void {
  if (error) console.log(error.name, error.code, error.message);
}

const session = OT.initSession(apiKey, sessionId, { serverUrl: 'https://video.example.com' });
// OpenTok.js's configurable TURN: only the app's own TURN server, relayed media only.
OT.initSession(apiKey, sessionId, {
  iceConfig: {
    includeServers: 'custom',
    transportPolicy: 'relay',
    customServers: [{ urls: ['turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:443?transport=tcp'], username: 'u', credential: 'p' }],
  },
});
session.setIceConfig({ transportPolicy: 'relay' });
session.on('streamCreated', (event) => {
  const stream: Stream = event.stream;
  session.subscribe(stream, 'subscriber', { insertMode: 'append', width: '100%', height: '100%' }, handleError);
});
session.on({
  streamPropertyChanged: (e: { changedProperty: string }) => console.log(e.changedProperty),
  'signal:chat': (e: { data: string }) => console.log(e.data),
});
session.on('signal', (e) => console.log(e.data, e.from?.connectionId));
session.on('sessionDisconnected', (e) => console.log(e.reason));
session.on('stateChanged', (e) => {
  const state: RoomState = e.state;
  for (const p of Object.values(state.participants)) console.log(p.id, p.streams.self, p.streams.presentation);
});
const publisher = OT.initPublisher('publisher', { insertMode: 'append', resolution: '640x480', frameRate: 30 }, handleError);
publisher.on('audioLevelUpdated', (e) => console.log(e.audioLevel.toFixed(2)));
session.connect(token, (error) => (error ? handleError(error) : session.publish(publisher, handleError)));
session.signal({ type: 'chat', data: 'hi' }, handleError);
publisher.publishVideo(false).publishAudio(true);

async function modern(): Promise<void> {
  await session.connect.promise(token);
  const pub = await OT.initPublisher.promise(undefined, { videoSource: 'screen' });
  await session.publish.promise(pub);
  const stream = session.streams.toArray()[0]!;
  const sub = await session.subscribe.promise(stream, undefined, { subscribeToAudio: false });
  const stats: SubscriberStats = await sub.getStats();
  console.log(stats.video.frameRate, stats.audio.packetsLost, (await sub.getRtcStatsReport()).size);
  await sub.subscribeToVideo.promise(false);
  await session.forceMuteAll([stream]);
  await session.signal({ type: 'chat', data: 'x', to: stream.connection });
  const devices = await OT.getDevices();
  console.log(devices.map((d) => d.kind), OT.checkSystemRequirements() === 1, session.getState().status);
  await session.disconnect();
}
void modern;
