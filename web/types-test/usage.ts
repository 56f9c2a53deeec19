// Compiled (not run) by the build: the typical OpenTok.js app, and the promise and Room
// State forms, must type-check against the SDK's declarations.
import OT, { type OTError, type RoomState, type Stream, type SubscriberStats, Video } from '../src/index';

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
session.on('audioCensored', (e) => console.log(e.streamId, e.censored ? 'censored' : 'uncensored'));
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

// The Telnyx-style face: a @telnyx/video app's calls, events and State.
async function telnyxStyle(roomId: string, clientToken: string): Promise<void> {
  const room: Video.Room = await Video.initialize({ roomId, clientToken, context: JSON.stringify({ username: 'Ann' }), enableMessages: true, logLevel: 'DEBUG' });
  const off = room.on('stream_published', (participantId, key, state: Video.State) => {
    if (participantId !== state.localParticipantId) void room.addSubscription(participantId, key, { audio: true, video: true });
  });
  room.on('participant_leaving', (participantId, reason) => console.log(participantId, reason === 'kicked'));
  room.on('track_censored', (participantId, key, kind) => console.log(participantId, key, kind));
  room.on('message_received', (participantId, message: Video.Message, recipients) => console.log(participantId, message.payload, recipients?.length));
  room.on('disconnected', (reason: Video.DisconnectReason) => console.log(reason));
  await room.connect();
  const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  await room.addStream('self', { audio: media.getAudioTracks()[0], video: { track: media.getVideoTracks()[0], options: { enableSimulcast: false } } });
  await room.updateStream('self', { audio: undefined, video: media.getVideoTracks()[0] });
  const { participants, streams, subscriptions } = room.getState();
  for (const p of participants.values()) {
    const s: Video.Stream | undefined = p.streams.self ? streams.get(p.streams.self) : undefined;
    console.log(p.context, p.origin, s?.isAudioCensored, s?.videoTrack?.id, subscriptions.get(p.id)?.get('self')?.video);
  }
  const stats = await room.getWebRTCStatsForStream(room.getLocalParticipant().id, 'self');
  console.log(stats.senders.video?.framesEncoded);
  await room.sendMessage({ type: 'text', payload: 'hi' }, [room.getLocalParticipant().id]);
  await room.updateClientToken(clientToken);
  const { addStream, disconnect } = { ...room };
  void addStream;
  off();
  await disconnect();
}
void telnyxStyle;
