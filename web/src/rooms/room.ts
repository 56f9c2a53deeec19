// The Telnyx-style Room (`Video.initialize` → Room): the `@telnyx/video` programming model
// over one Parlor Session. A stream key is carried as the published stream's name; messages
// are signals (./signals.ts); the app server's censoring (REST mute / unmute) comes as the
// session's `audioCensored` events. The Room's methods are own properties, bound, as
// `@telnyx/video`'s are (apps spread the room: `{...room}`).

import { ExceptionCodes, type OTError, otError } from '../errors';
import { logger } from '../log';
import type { Connection, Stream as OTStream } from '../model';
import { OT } from '../ot';
import type { Publisher } from '../publisher';
import type { Session } from '../session';
import type { RoomState as OTRoomState } from '../state';
import type { Subscriber } from '../subscriber';
import { utf8Length } from '../util';
import { RoomEvents } from './events';
import { blackVideoTrack, silentAudioTrack } from './placeholder';
import { MESSAGE_SIGNAL, decodeMessage, encodeMessage } from './signals';
import {
  type LocalStreamRecord,
  type RemoteStreamRecord,
  type RoomModel,
  type SubscriptionRecord,
  buildState,
  subscriptionKey,
} from './state';
import type {
  DisconnectReason,
  EventName,
  Events,
  InitializeOptions,
  Message,
  NetworkMetrics,
  Participant,
  State,
  Stream,
  StreamOptions,
  SubscriptionConfig,
  TrackKind,
  TrackOption,
  WebRTCStats,
} from './types';

/** How often `network_metrics_report` is emitted while enabled. */
const NETWORK_METRICS_INTERVAL_MS = 5_000;
const DEFAULT_KEYS: Record<string, string> = { camera: 'self', screen: 'presentation', custom: 'custom' };

/** The reason `disconnected` reports for how the session ended (documented in web/README.md). */
export function disconnectReason(reason: string, detail: string | undefined): DisconnectReason {
  switch (detail) {
    case 'kicked':
      return 'kicked';
    case 'session_terminated':
      return 'session_terminated';
    case 'token_expired':
      return 'unauthorized';
  }
  switch (reason) {
    case 'clientDisconnected':
      return 'user_initiated';
    case 'networkDisconnected':
      return 'network_error';
    case 'forceDisconnected':
      return 'kicked';
    default:
      return 'unknown';
  }
}

function trackOf(option: TrackOption): MediaStreamTrack | undefined {
  if (!option) return undefined;
  if (option instanceof MediaStreamTrack) return option;
  return option.track ?? undefined;
}

/** Telnyx's `{ track, options: { enableSimulcast: true } }` (off by default, as there). */
function simulcastOf(option: TrackOption): boolean {
  return !!option && !(option instanceof MediaStreamTrack) && option.options?.enableSimulcast === true;
}

function roomError(message: string, code: number = ExceptionCodes.INVALID_PARAMETER): OTError {
  return otError('OT_INVALID_PARAMETER', message, code);
}

function statsByKind(report: RTCStatsReport | undefined, type: string): { audio?: Record<string, unknown>; video?: Record<string, unknown> } {
  const out: { audio?: Record<string, unknown>; video?: Record<string, unknown> } = {};
  report?.forEach((s: Record<string, unknown>) => {
    if (s.type !== type) return;
    const kind = (s.kind ?? s.mediaType) as string;
    if (kind === 'audio' || kind === 'video') out[kind] = { ...s };
  });
  return out;
}

export class Room {
  /** Joins the room: resolves once connected (`connected` is emitted first). */
  readonly connect: () => Promise<void>;
  /** Leaves the room (`disconnected('user_initiated')`). */
  readonly disconnect: () => Promise<void>;
  /** Hands the live connection a refreshed join token (before the current one expires). */
  readonly updateClientToken: (clientToken: string) => Promise<void>;
  /** The current State; the same object until something changes. */
  readonly getState: () => State;
  readonly getLocalParticipant: () => Participant;
  /** This client's streams by key. */
  readonly getLocalStreams: () => Record<string, Stream>;
  /** A participant's streams by key. */
  readonly getParticipantStreams: (participantId: string) => Record<string, Stream>;
  readonly getParticipantStream: (participantId: string, key: string) => Stream | undefined;
  /** Publishes the app's tracks as stream `key`; resolves once published (`stream_published`). */
  readonly addStream: (key: string, options?: StreamOptions) => Promise<void>;
  /** Replaces, removes (undefined) or adds the stream's tracks. */
  readonly updateStream: (key: string, options?: StreamOptions) => Promise<void>;
  readonly removeStream: (key: string) => Promise<void>;
  /** Subscribes to a participant's stream; resolves once media flows (`subscription_started`). */
  readonly addSubscription: (participantId: string, key: string, config?: Partial<SubscriptionConfig>) => Promise<void>;
  readonly updateSubscription: (participantId: string, key: string, config: Partial<SubscriptionConfig>) => Promise<void>;
  readonly removeSubscription: (participantId: string, key: string) => Promise<void>;
  /** The stream's RTCStats: `senders` (local stream) or `receivers` (subscribed stream), by kind. */
  readonly getWebRTCStatsForStream: (participantId: string, key: string) => Promise<WebRTCStats>;
  /** Sends a message to everyone, or to `recipients` (participant ids). Needs `enableMessages`. */
  readonly sendMessage: (message: Message, recipients?: string[] | null) => Promise<void>;
  readonly enableNetworkMetricsReport: (participantIds: string[]) => void;
  readonly disableNetworkMetricsReport: (participantIds: string[]) => void;
  /** Adds an event handler; returns a function that removes it. */
  readonly on: <K extends EventName>(event: K, handler: Events[K]) => () => void;

  private readonly options: InitializeOptions;
  private token: string;
  private session?: Session;
  private readonly model: RoomModel;
  private snapshot?: State;
  private readonly events = new RoomEvents();
  /** Streams whose audio the app server censored (`audioCensored`), ours included. */
  private readonly censored = new Set<string>();
  private readonly metricsFor = new Set<string>();
  private metricsTimer?: ReturnType<typeof setInterval>;
  private speaking = new Set<string>();
  private speakingHooked = false;

  /** @internal Use Video.initialize. */
  constructor(options: InitializeOptions) {
    this.options = { ...options };
    this.token = options.clientToken;
    this.model = {
      status: 'initialized',
      localParticipantId: '',
      localContext: options.context ?? '',
      enableMessages: options.enableMessages === true,
      participants: new Map(),
      localStreams: new Map(),
      remoteStreams: new Map(),
      subscriptions: new Map(),
    };

    this.connect = () => this.doConnect();
    this.disconnect = async () => {
      const s = this.session;
      if (!s || (this.model.status !== 'connected' && this.model.status !== 'connecting')) return;
      this.setStatus('disconnecting');
      await s.disconnect();
    };
    this.updateClientToken = async (clientToken: string) => {
      if (typeof clientToken !== 'string' || !clientToken) throw roomError('updateClientToken needs a token');
      this.token = clientToken;
      const s = this.session;
      if (s && this.model.status === 'connected') await s._request({ type: 'updateToken', token: clientToken });
    };
    this.getState = () => (this.snapshot ??= buildState(this.model));
    this.getLocalParticipant = () => {
      const id = this.model.localParticipantId;
      return (
        this.getState().participants.get(id) ?? {
          id,
          context: this.model.localContext,
          streams: {},
          canReceiveMessages: this.model.enableMessages,
          origin: 'local',
        }
      );
    };
    this.getLocalStreams = () => this.getParticipantStreams(this.model.localParticipantId);
    this.getParticipantStreams = (participantId: string) => {
      const state = this.getState();
      const out: Record<string, Stream> = {};
      const p = state.participants.get(participantId);
      if (p) for (const [key, id] of Object.entries(p.streams)) out[key] = state.streams.get(id)!;
      return out;
    };
    this.getParticipantStream = (participantId: string, key: string) => this.getParticipantStreams(participantId)[key];
    this.addStream = (key, opts) => this.doAddStream(key, opts ?? {});
    this.updateStream = (key, opts) => this.doUpdateStream(key, opts ?? {});
    this.removeStream = async (key: string) => {
      const rec = this.model.localStreams.get(key);
      if (!rec) throw roomError(`there is no local stream '${key}'`);
      this.dropLocalStream(rec, true);
    };
    this.addSubscription = (participantId, key, config) => this.doAddSubscription(participantId, key, config);
    this.updateSubscription = (participantId, key, config) => this.doUpdateSubscription(participantId, key, config);
    this.removeSubscription = async (participantId: string, key: string) => {
      const sub = this.model.subscriptions.get(subscriptionKey(participantId, key));
      if (!sub) throw roomError(`there is no subscription to '${key}' of ${participantId}`);
      if (sub.subscriber && this.session) this.session.unsubscribe(sub.subscriber);
      else this.endSubscription(sub);
    };
    this.getWebRTCStatsForStream = (participantId, key) => this.doStats(participantId, key);
    this.sendMessage = (message, recipients) => this.doSendMessage(message, recipients ?? null);
    this.enableNetworkMetricsReport = (participantIds: string[]) => {
      for (const id of participantIds ?? []) this.metricsFor.add(id);
      if (this.metricsFor.size && !this.metricsTimer) {
        this.metricsTimer = setInterval(() => this.reportNetworkMetrics(), NETWORK_METRICS_INTERVAL_MS);
      }
    };
    this.disableNetworkMetricsReport = (participantIds: string[]) => {
      for (const id of participantIds ?? []) this.metricsFor.delete(id);
      if (!this.metricsFor.size) this.stopMetrics();
    };
    this.on = (event, handler) => {
      const off = this.events.on(event, handler);
      if (event === 'audio_activity') this.hookSpeaking();
      return off;
    };
  }

  // ----- connecting -----

  private async doConnect(): Promise<void> {
    if (this.model.status === 'connecting' || this.model.status === 'connected') {
      throw roomError('the room is already connected or connecting');
    }
    const session = OT.initSession('', this.options.roomId, {
      ...(this.options.serverUrl ? { serverUrl: this.options.serverUrl } : {}),
      context: this.options.context ?? '',
    });
    this.session = session;
    this.listen(session);
    this.setStatus('connecting');
    try {
      await session.connect.promise(this.token);
    } catch (e) {
      if (this.session === session) {
        this.session = undefined;
        this.setStatus('disconnected');
      }
      throw e;
    }
  }

  private listen(session: Session) {
    const mine = () => this.session === session;
    session.on('sessionConnected', (e) => mine() && this.onConnected(session, e.connections, e.streams));
    session.on('connectionCreated', (e) => mine() && this.onParticipantJoined(e.connection));
    session.on('connectionDestroyed', (e) => mine() && this.onParticipantGone(e.connection, e.reason, e.detail));
    session.on('streamCreated', (e) => mine() && this.onRemoteStream(e.stream, true));
    session.on('streamDestroyed', (e) => mine() && this.onRemoteStreamGone(e.stream));
    session.on('streamPropertyChanged', (e) => {
      if (mine() && (e.changedProperty === 'hasAudio' || e.changedProperty === 'hasVideo')) {
        this.onRemoteTrack(e.stream, e.changedProperty === 'hasAudio' ? 'audio' : 'video', e.newValue === true);
      }
    });
    session.on(`signal:${MESSAGE_SIGNAL}`, (e: { data: string; from: Connection | null }) => mine() && this.onMessage(e.data, e.from));
    session.on('audioCensored', (e) => mine() && this.onAudioCensored(e.streamId, e.censored));
    session.on('sessionDisconnected', (e) => mine() && this.onDisconnected(e.reason, e.detail));
    if (this.events.has('audio_activity')) this.hookSpeaking();
  }

  private onConnected(session: Session, others: Connection[], streams: OTStream[]) {
    const local = session.connection!;
    this.model.localParticipantId = local.connectionId;
    this.model.participants.clear();
    this.model.participants.set(local.connectionId, { id: local.connectionId, context: local.data, origin: 'local' });
    for (const c of others) this.model.participants.set(c.connectionId, { id: c.connectionId, context: c.data, origin: 'remote' });
    for (const s of streams) this.onRemoteStream(s, false);
    this.model.status = 'connected';
    this.changed();
    this.emit('connected');
  }

  private onDisconnected(reason: string, detail: string | undefined) {
    const why = disconnectReason(reason, detail);
    const localId = this.model.localParticipantId;
    if (why === 'kicked' && localId) this.emit('participant_leaving', localId, 'kicked');
    this.stopMetrics();
    for (const rec of this.model.localStreams.values()) this.stopPlaceholders(rec);
    this.model.localStreams.clear();
    this.model.remoteStreams.clear();
    this.model.subscriptions.clear();
    for (const id of [...this.model.participants.keys()]) if (id !== localId) this.model.participants.delete(id);
    this.censored.clear();
    this.speaking.clear();
    this.session = undefined;
    this.speakingHooked = false;
    this.model.status = 'disconnected';
    this.changed();
    this.emit('disconnected', why);
  }

  // ----- participants and their streams -----

  private onParticipantJoined(c: Connection) {
    if (c.connectionId === this.model.localParticipantId || this.model.participants.has(c.connectionId)) return;
    this.model.participants.set(c.connectionId, { id: c.connectionId, context: c.data, origin: 'remote' });
    this.changed();
    this.emit('participant_joined', c.connectionId);
  }

  private onParticipantGone(c: Connection, reason: string, detail: string | undefined) {
    const id = c.connectionId;
    if (!this.model.participants.has(id) || id === this.model.localParticipantId) return;
    const leaving = detail === 'kicked' || (!detail && reason === 'forceDisconnected') ? 'kicked' : null;
    this.emit('participant_leaving', id, leaving);
    for (const r of [...this.model.remoteStreams.values()]) if (r.participantId === id) this.removeRemoteStream(r);
    this.model.participants.delete(id);
    this.metricsFor.delete(id);
    this.changed();
    this.emit('participant_left', id);
  }

  private onRemoteStream(stream: OTStream, announce: boolean) {
    const pid = stream.connection.connectionId;
    if (pid === this.model.localParticipantId || this.model.remoteStreams.has(stream.streamId)) return;
    if (!this.model.participants.has(pid)) {
      this.model.participants.set(pid, { id: pid, context: stream.connection.data, origin: 'remote' });
    }
    const taken = new Set([...this.model.remoteStreams.values()].filter((r) => r.participantId === pid).map((r) => r.key));
    const base = stream.name || DEFAULT_KEYS[stream.videoType] || 'self';
    let key = base;
    for (let n = 2; taken.has(key); n += 1) key = `${base}-${n}`;
    this.model.remoteStreams.set(stream.streamId, { stream, key, participantId: pid, audioCensored: this.censored.has(stream.streamId) });
    if (!announce) return;
    this.changed();
    this.emit('stream_published', pid, key);
  }

  private onRemoteStreamGone(stream: OTStream) {
    const rec = this.model.remoteStreams.get(stream.streamId);
    if (!rec) return;
    this.removeRemoteStream(rec);
  }

  private removeRemoteStream(rec: RemoteStreamRecord) {
    const sub = this.model.subscriptions.get(subscriptionKey(rec.participantId, rec.key));
    if (sub && sub.streamId === rec.stream.streamId) this.endSubscription(sub);
    this.model.remoteStreams.delete(rec.stream.streamId);
    this.censored.delete(rec.stream.streamId);
    this.changed();
    this.emit('stream_unpublished', rec.participantId, rec.key);
  }

  /** A remote stream's hasAudio / hasVideo changed. */
  private onRemoteTrack(stream: OTStream, kind: TrackKind, on: boolean) {
    const rec = this.model.remoteStreams.get(stream.streamId);
    if (!rec) return; // our own streams are reported where we change them
    this.changed();
    // A censor's mute (track_censored was emitted on its audioCensored, which comes first).
    if (kind === 'audio' && !on && rec.audioCensored) return;
    this.emit(on ? 'track_enabled' : 'track_disabled', rec.participantId, rec.key, kind);
  }

  /** The app server censored or uncensored a stream's audio (REST mute / unmute). */
  private onAudioCensored(streamId: string, censored: boolean) {
    if (censored) this.censored.add(streamId);
    else this.censored.delete(streamId);
    const remote = this.model.remoteStreams.get(streamId);
    if (remote) {
      if (remote.audioCensored === censored) return;
      remote.audioCensored = censored;
      this.changed();
      this.emit(censored ? 'track_censored' : 'track_uncensored', remote.participantId, remote.key, 'audio');
      return;
    }
    for (const rec of this.model.localStreams.values()) {
      if (rec.stream?.streamId !== streamId) continue;
      if (censored) this.censorLocal(rec, true);
      else void this.uncensorLocal(rec);
    }
  }

  /**
   * Our stream's audio is censored: by the app server (`byServer`: it refuses to turn the
   * audio on until it uncensors it), or muted by an OpenTok-face moderator (`muteForced`
   * alone), which the participant may lift itself.
   */
  private censorLocal(rec: LocalStreamRecord, byServer: boolean) {
    if (rec.removed) return;
    if (rec.audioCensored) {
      if (byServer) rec.censoredByServer = true;
      return;
    }
    rec.audioCensored = true;
    rec.censoredByServer = byServer;
    this.changed();
    this.emit('track_censored', this.model.localParticipantId, rec.key, 'audio');
  }

  /** The app server uncensored our stream: the audio comes back on if the app has its track set. */
  private async uncensorLocal(rec: LocalStreamRecord) {
    if (rec.removed || !rec.audioCensored) return;
    rec.audioCensored = false;
    rec.censoredByServer = false;
    const pid = this.model.localParticipantId;
    this.changed();
    this.emit('track_uncensored', pid, rec.key, 'audio');
    const track = rec.audioTrack;
    if (!track) return;
    try {
      await rec.publisher.publishAudio.promise(true);
    } catch (e) {
      logger.warn(`turning the audio back on after an unmute: ${(e as Error).message}`);
      return;
    }
    // Unless the app changed it meanwhile (or another censor came).
    if (rec.removed || rec.audioTrack !== track || rec.audioCensored) return;
    this.changed();
    this.emit('track_enabled', pid, rec.key, 'audio');
  }

  // ----- local streams -----

  private requireSession(what: string): Session {
    const s = this.session;
    if (!s || this.model.status !== 'connected') {
      throw otError('OT_NOT_CONNECTED', `${what}: the room is not connected`, ExceptionCodes.NOT_CONNECTED);
    }
    return s;
  }

  private async doAddStream(key: string, opts: StreamOptions): Promise<void> {
    const session = this.requireSession('addStream');
    if (typeof key !== 'string' || !key || key.length > 256) throw roomError('addStream needs a stream key (1 to 256 characters)');
    if (this.model.localStreams.has(key)) throw roomError(`there is already a local stream '${key}'`);
    const audio = trackOf(opts.audio);
    const video = trackOf(opts.video);
    const rec: LocalStreamRecord = {
      key,
      id: `local:${key}`,
      publisher: undefined as unknown as Publisher,
      audioTrack: audio,
      videoTrack: video,
      placeholders: {},
      isConfigured: false,
      audioCensored: false,
      censoredByServer: false,
      removed: false,
    };
    if (!audio) rec.placeholders.audio = silentAudioTrack();
    if (!video) rec.placeholders.video = blackVideoTrack();
    const audioSource = audio ?? rec.placeholders.audio ?? null;
    const videoSource = video ?? rec.placeholders.video ?? null;
    const publisher = OT.initPublisher(undefined, {
      insertDefaultUI: false,
      name: key,
      audioSource,
      videoSource,
      publishAudio: !!audio,
      publishVideo: !!video,
      scalableVideo: simulcastOf(opts.video),
    });
    rec.publisher = publisher;
    publisher.on('streamCreated', (e) => {
      if (rec.removed) return;
      rec.stream = e.stream;
      rec.id = e.stream.streamId;
      rec.isConfigured = true;
      this.changed();
      this.emit('stream_published', this.model.localParticipantId, key);
      // Censored before we knew the stream's id.
      if (this.censored.has(e.stream.streamId)) this.censorLocal(rec, true);
    });
    publisher.on('streamDestroyed', (e) => {
      // forceUnpublish, media failure, or the session's end.
      if (rec.removed) return;
      e.preventDefault();
      this.dropLocalStream(rec, this.session === session && this.model.status === 'connected');
    });
    // A track the app stopped, or the browser's "stop sharing": the app decides (removeStream).
    publisher.on('mediaStopped', (e) => e.preventDefault());
    // After the app server's audioCensored (a censor), or alone (an OpenTok-face moderator's mute).
    publisher.on('muteForced', () => {
      const id = rec.stream?.streamId ?? publisher.stream?.streamId;
      this.censorLocal(rec, !!id && this.censored.has(id));
    });
    this.model.localStreams.set(key, rec);
    this.changed();
    try {
      await session.publish.promise(publisher);
    } catch (e) {
      if (!rec.removed) this.dropLocalStream(rec, false);
      throw e;
    }
  }

  /** Forgets a local stream (unpublishing it); `announce`: emit stream_unpublished. */
  private dropLocalStream(rec: LocalStreamRecord, announce: boolean) {
    if (rec.removed) return;
    rec.removed = true;
    const wasPublished = rec.isConfigured;
    rec.publisher.destroy();
    this.stopPlaceholders(rec);
    if (this.model.localStreams.get(rec.key) === rec) this.model.localStreams.delete(rec.key);
    this.changed();
    if (announce && wasPublished) this.emit('stream_unpublished', this.model.localParticipantId, rec.key);
  }

  private stopPlaceholders(rec: LocalStreamRecord) {
    rec.placeholders.audio?.stop();
    rec.placeholders.video?.stop();
    rec.placeholders = {};
  }

  private async doUpdateStream(key: string, opts: StreamOptions): Promise<void> {
    this.requireSession('updateStream');
    const rec = this.model.localStreams.get(key);
    if (!rec) throw roomError(`there is no local stream '${key}'`);
    await this.updateTrack(rec, 'audio', trackOf(opts.audio));
    await this.updateTrack(rec, 'video', trackOf(opts.video));
  }

  private async updateTrack(rec: LocalStreamRecord, kind: TrackKind, track: MediaStreamTrack | undefined) {
    const current = kind === 'audio' ? rec.audioTrack : rec.videoTrack;
    // The same track again changes nothing, but lifts a moderator's mute (below).
    const lifts = kind === 'audio' && !!track && rec.audioCensored && !rec.censoredByServer;
    if (track === current && !lifts) return;
    const pub = rec.publisher;
    const setSource = (t: MediaStreamTrack) => (kind === 'audio' ? pub.setAudioSource(t) : pub.setVideoSource(t));
    const publishKind = (on: boolean) => (kind === 'audio' ? pub.publishAudio.promise(on) : pub.publishVideo.promise(on));
    const pid = this.model.localParticipantId;
    if (track) {
      if (track !== current) await setSource(track);
      if (kind === 'audio') rec.audioTrack = track;
      else rec.videoTrack = track;
      if (kind === 'audio' && rec.audioCensored) {
        if (rec.censoredByServer) {
          // Kept, and sent once the app server uncensors the stream (it refuses it until then).
          this.changed();
          return;
        }
        // An OpenTok-face moderator's mute: the participant may lift it (OpenTok's model).
        await publishKind(true);
        rec.audioCensored = false;
        this.changed();
        this.emit('track_uncensored', pid, rec.key, 'audio');
        this.emit('track_enabled', pid, rec.key, 'audio');
        return;
      }
      if (!current) await publishKind(true);
      this.changed();
      if (!current) this.emit('track_enabled', pid, rec.key, kind);
      return;
    }
    await publishKind(false);
    const stand = kind === 'audio' ? (rec.placeholders.audio ??= silentAudioTrack()) : (rec.placeholders.video ??= blackVideoTrack());
    if (stand) await setSource(stand);
    if (kind === 'audio') rec.audioTrack = undefined;
    else rec.videoTrack = undefined;
    this.changed();
    this.emit('track_disabled', pid, rec.key, kind);
  }

  // ----- subscriptions -----

  private findRemote(participantId: string, key: string): RemoteStreamRecord | undefined {
    for (const r of this.model.remoteStreams.values()) if (r.participantId === participantId && r.key === key) return r;
    return undefined;
  }

  private doAddSubscription(participantId: string, key: string, config: Partial<SubscriptionConfig> | undefined): Promise<void> {
    let session: Session;
    try {
      session = this.requireSession('addSubscription');
    } catch (e) {
      return Promise.reject(e);
    }
    const remote = this.findRemote(participantId, key);
    if (!remote) return Promise.reject(roomError(`participant ${participantId} has no stream '${key}'`));
    const sk = subscriptionKey(participantId, key);
    if (this.model.subscriptions.has(sk)) return Promise.reject(roomError(`already subscribed to '${key}' of ${participantId}`));
    const sub: SubscriptionRecord = {
      participantId,
      key,
      streamId: remote.stream.streamId,
      config: { audio: config?.audio !== false, video: config?.video !== false },
      started: false,
      quality: {},
    };
    this.model.subscriptions.set(sk, sub);
    this.changed();
    return new Promise<void>((resolve, reject) => {
      const subscriber: Subscriber | undefined = session.subscribe(
        remote.stream,
        undefined,
        { insertDefaultUI: false, subscribeToAudio: sub.config.audio, subscribeToVideo: sub.config.video },
        (error?: OTError) => {
          if (!error) return resolve();
          this.endSubscription(sub);
          reject(error);
        },
      );
      if (!subscriber) return;
      sub.subscriber = subscriber;
      subscriber.on('mediaStreamAvailable', (e) => {
        sub.mediaStream = e.mediaStream;
        if (this.model.subscriptions.get(sk) === sub) this.changed();
      });
      subscriber.on('connected', () => {
        if (this.model.subscriptions.get(sk) !== sub) return;
        sub.started = true;
        this.changed();
        this.emit('subscription_started', participantId, key);
      });
      subscriber.on('qualityScoreChanged', (e) => {
        sub.quality = { audio: e.qualityScore.audioQualityScore, video: e.qualityScore.videoQualityScore };
      });
      subscriber.on('destroyed', () => this.endSubscription(sub));
    });
  }

  /** Forgets a subscription (its subscriber is gone or going); emits subscription_ended if it started. */
  private endSubscription(sub: SubscriptionRecord) {
    const sk = subscriptionKey(sub.participantId, sub.key);
    if (this.model.subscriptions.get(sk) !== sub) return;
    this.model.subscriptions.delete(sk);
    this.changed();
    if (sub.started) this.emit('subscription_ended', sub.participantId, sub.key);
  }

  private async doUpdateSubscription(participantId: string, key: string, config: Partial<SubscriptionConfig>): Promise<void> {
    const sub = this.model.subscriptions.get(subscriptionKey(participantId, key));
    if (!sub || !sub.subscriber) throw roomError(`there is no subscription to '${key}' of ${participantId}`);
    const next = { audio: config?.audio ?? sub.config.audio, video: config?.video ?? sub.config.video };
    if (next.audio !== sub.config.audio) await sub.subscriber.subscribeToAudio.promise(next.audio);
    if (next.video !== sub.config.video) await sub.subscriber.subscribeToVideo.promise(next.video);
    sub.config = next;
    this.changed();
    this.emit('subscription_reconfigured', participantId, key);
  }

  private async doStats(participantId: string, key: string): Promise<WebRTCStats> {
    if (participantId === this.model.localParticipantId) {
      const rec = this.model.localStreams.get(key);
      if (!rec) throw roomError(`there is no local stream '${key}'`);
      const reports = await rec.publisher.getRtcStatsReport();
      return { senders: statsByKind(reports[0]?.rtcStatsReport, 'outbound-rtp'), receivers: {} };
    }
    const sub = this.model.subscriptions.get(subscriptionKey(participantId, key));
    if (!sub?.subscriber) throw roomError(`there is no subscription to '${key}' of ${participantId}`);
    return { senders: {}, receivers: statsByKind(await sub.subscriber.getRtcStatsReport(), 'inbound-rtp') };
  }

  // ----- messages -----

  private async doSendMessage(message: Message, recipients: string[] | null): Promise<void> {
    const session = this.requireSession('sendMessage');
    if (!this.model.enableMessages) throw roomError('messages are off: initialize the room with enableMessages: true');
    if (!message || message.type !== 'text' || typeof message.payload !== 'string') {
      throw roomError("sendMessage needs a message { type: 'text', payload: string, meta? }");
    }
    const to = recipients && recipients.length ? [...new Set(recipients)] : null;
    const data = encodeMessage(message, to);
    if (!to) {
      await session.signal({ type: MESSAGE_SIGNAL, data });
      return;
    }
    const connections = to.map((id) => {
      const c = session.connections.get(id);
      if (!c) throw roomError(`no participant ${id} in the room`);
      return c;
    });
    await Promise.all(connections.map((c) => session.signal({ type: MESSAGE_SIGNAL, data, to: c })));
  }

  private onMessage(data: string, from: Connection | null) {
    if (!this.model.enableMessages) return;
    const envelope = decodeMessage(data);
    if (!envelope) {
      logger.warn('ignoring a malformed message');
      return;
    }
    this.emit('message_received', from ? from.connectionId : null, envelope.message, envelope.recipients);
  }

  // ----- speaking and network metrics -----

  /** Speaking detection runs while the Session's Room State has a listener: only when asked. */
  private hookSpeaking() {
    const session = this.session;
    if (!session || this.speakingHooked) return;
    this.speakingHooked = true;
    session.on('stateChanged', (e) => {
      if (this.session === session) this.onSpeaking(e.state);
    });
  }

  private onSpeaking(state: OTRoomState) {
    const now = new Set<string>();
    for (const s of Object.values(state.streams)) if (s.isSpeaking) now.add(s.id);
    for (const id of now) {
      if (this.speaking.has(id)) continue;
      const remote = this.model.remoteStreams.get(id);
      if (remote) this.emit('audio_activity', remote.participantId, remote.key);
      for (const l of this.model.localStreams.values()) if (l.id === id) this.emit('audio_activity', this.model.localParticipantId, l.key);
    }
    this.speaking = now;
  }

  private reportNetworkMetrics() {
    if (this.model.status !== 'connected') return;
    const metrics: NetworkMetrics = {};
    for (const pid of this.metricsFor) {
      const scores: Array<{ audio?: number; video?: number }> = [];
      for (const sub of this.model.subscriptions.values()) if (sub.participantId === pid && sub.started) scores.push(sub.quality);
      if (!scores.length) continue;
      const audio = scores.map((s) => s.audio).filter((n): n is number => n !== undefined);
      const video = scores.map((s) => s.video).filter((n): n is number => n !== undefined);
      const all = [...audio, ...video];
      if (!all.length) continue;
      metrics[pid] = {
        connectionQuality: Math.min(...all),
        ...(audio.length ? { audioQuality: Math.min(...audio) } : {}),
        ...(video.length ? { videoQuality: Math.min(...video) } : {}),
      };
    }
    if (Object.keys(metrics).length) this.emit('network_metrics_report', metrics);
  }

  private stopMetrics() {
    clearInterval(this.metricsTimer);
    this.metricsTimer = undefined;
  }

  // ----- state and events -----

  private setStatus(status: State['status']) {
    this.model.status = status;
    this.changed();
  }

  /** The model changed: a new snapshot, and `state_changed`. */
  private changed() {
    this.snapshot = undefined;
    this.events.emit('state_changed', [this.getState()]);
  }

  private emit(event: EventName, ...args: unknown[]) {
    this.events.emit(event, [...args, this.getState()]);
  }
}

/** Checks the options and makes a Room (not connected yet: call `room.connect()`). */
export function createRoom(options: InitializeOptions): Room {
  if (!options || typeof options !== 'object') throw roomError('initialize needs { roomId, clientToken }');
  if (typeof options.roomId !== 'string' || !options.roomId) throw roomError('initialize needs a roomId');
  if (typeof options.clientToken !== 'string' || !options.clientToken) throw roomError('initialize needs a clientToken');
  if (options.context !== undefined && (typeof options.context !== 'string' || utf8Length(options.context) > 1000)) {
    throw roomError('the context must be a string of at most 1000 bytes');
  }
  return new Room(options);
}
