// A Session: one connection to one Parlor session. It owns the signaling channel, keeps the
// session's connections and streams, turns server events into OpenTok.js events, and routes
// media events to its Publishers and Subscribers.

import { ExceptionCodes, OTError, otError, type Operation } from './errors';
import type { SessionEventMap } from './event-types';
import { EventEmitter, makeEvent } from './events';
import { type IceConfig, type IceServer, checkIceConfig, iceSettings } from './ice';
import { logger } from './log';
import { Collection, Connection, Stream } from './model';
import type {
  ConnectedMessage,
  ConnectionReason,
  EventMessage,
  ReplyFor,
  Request,
  WireCapabilities,
  WireConnection,
  WireStream,
} from './protocol';
import { LIMITS } from './protocol';
import { Publisher, type PublisherProperties } from './publisher';
import { sharedCertificate } from './rtc';
import { SignalingChannel } from './signaling';
import { type RoomState, type RoomStatus, type StreamFacts, buildRoomState } from './state';
import { Subscriber, type SubscriberProperties } from './subscriber';
import { type Callback, complete, isElement, signalingUrl, utf8Length } from './util';
import { resolveTarget } from './widget';

/** Most reports in one `stats` message (the server's limit). */
const MAX_STATS_REPORTS = 32;

export type { IceConfig, IceServer };

export interface SessionOptions {
  /** The Parlor server, e.g. `https://video.example.com`. Default: where the SDK was loaded from. */
  serverUrl?: string;
  /** TURN servers and transport policy of the peer connections, as in OpenTok.js. */
  iceConfig?: IceConfig;
  connectionEventsSuppressed?: boolean;
  /** @internal With a Rooms join token: the participant's context, sent with `connect`. */
  context?: string;
}

/** What this client may do, as OpenTok.js reports it (1 = yes, 0 = no). */
export interface Capabilities {
  publish: 0 | 1;
  subscribe: 0 | 1;
  signal: 0 | 1;
  forceDisconnect: 0 | 1;
  forceUnpublish: 0 | 1;
  forceMute: 0 | 1;
  permittedTo(action: string): boolean;
}

export interface SignalOptions {
  type?: string;
  data?: string;
  to?: Connection;
  retryAfterReconnect?: boolean;
}

/** @internal Everything the SDK needs from OT (kept out of the Session to avoid an import cycle). */
export interface Host {
  defaultServerUrl(): string;
  exception(error: OTError, target: unknown): void;
  initPublisher(target: HTMLElement | string | undefined, props: PublisherProperties | undefined, cb?: Callback): Publisher;
}

type ConnectFn = ((token: string, callback?: Callback) => Session) & { promise(token: string): Promise<Session> };
type PublishFn = {
  (publisher: Publisher, callback?: Callback): Publisher;
  (target: HTMLElement | string | undefined, properties?: PublisherProperties, callback?: Callback): Publisher;
  promise(publisherOrTarget?: Publisher | HTMLElement | string, properties?: PublisherProperties): Promise<Publisher>;
};
type SubscribeFn = {
  (stream: Stream, target?: HTMLElement | string, properties?: SubscriberProperties, callback?: Callback): Subscriber;
  promise(stream: Stream, target?: HTMLElement | string, properties?: SubscriberProperties): Promise<Subscriber>;
};

const NO_CAPABILITIES: WireCapabilities = {
  publish: false,
  subscribe: false,
  signal: false,
  forceDisconnect: false,
  forceUnpublish: false,
  forceMute: false,
};

export class Session extends EventEmitter<SessionEventMap> {
  readonly apiKey: string;
  readonly sessionId: string;
  /** This client's connection, once connected. */
  connection: Connection | undefined;
  /** This client's role (`publisher`, `subscriber`, `moderator`, `publisheronly`), once connected. */
  role: string | undefined;
  capabilities: Capabilities = capabilities(NO_CAPABILITIES);
  /** Every connection in the session, this client's included. */
  readonly connections = new Collection<Connection>();
  /** Every stream in the session, this client's included. */
  readonly streams = new Collection<Stream>();

  /** Connects with a client token; `.promise(token)` resolves with the session. */
  readonly connect: ConnectFn;
  /** Publishes a Publisher (or creates one in `target`); `.promise(...)` resolves once it is live. */
  readonly publish: PublishFn;
  /** Subscribes to a stream into `target`; `.promise(...)` resolves once media flows. */
  readonly subscribe: SubscribeFn;

  private readonly host: Host;
  private readonly options: SessionOptions;
  private iceConfig: IceConfig | undefined;
  /** The server's STUN/TURN servers for this connection (`connected.iceServers`). */
  private serverIceServers: IceServer[] = [];
  /** The session is relayed (`connected.relayed`): media goes peer to peer. */
  private relayed = false;
  /** Streams speaking, and the dominant speaker, as the server announced (`speakers`). */
  private speaking = new Set<string>();
  private channel?: SignalingChannel;
  private status: RoomStatus = 'initialized';
  private publishers = new Map<string, Publisher>();
  private allPublishers = new Set<Publisher>();
  private subscribers = new Set<Subscriber>();
  private subscriptions = new Map<string, Subscriber>();
  private statsTimer?: ReturnType<typeof setInterval>;
  /** Subscriptions / streams the server ended before its reply named them (protocol.md Note 5). */
  private endedEarly = new Set<string>();
  private mutedEarly = new Set<string>();
  /** The `detail` of the server's `disconnected` (Rooms), for `sessionDisconnected`. */
  private disconnectDetail: string | undefined;

  /** @internal Use OT.initSession. */
  constructor(apiKey: string, sessionId: string, options: SessionOptions | undefined, host: Host) {
    super();
    this.apiKey = String(apiKey ?? '');
    this.sessionId = String(sessionId ?? '');
    this.options = { ...options };
    this.iceConfig = checkIceConfig(this.options.iceConfig);
    this.host = host;

    this.connect = Object.assign(
      (token: string, callback?: Callback) => {
        void complete(this.doConnect(token), callback).catch((e: OTError) => {
          if (!callback) logger.error(`connect failed: ${e.name}: ${e.message}`);
        });
        return this;
      },
      { promise: (token: string) => this.doConnect(token).then(() => this) },
    );

    const publish = (a?: Publisher | HTMLElement | string, b?: PublisherProperties | Callback, c?: Callback): Publisher => {
      const { publisher, callback } = this.publisherFor(a, b, c);
      void complete(this.doPublish(publisher), callback).catch(() => undefined);
      return publisher;
    };
    this.publish = Object.assign(publish, {
      promise: (a?: Publisher | HTMLElement | string, props?: PublisherProperties) => {
        const { publisher } = this.publisherFor(a, props, undefined);
        return this.doPublish(publisher).then(() => publisher);
      },
    }) as PublishFn;

    const subscribe = (stream: Stream, target?: HTMLElement | string | SubscriberProperties | Callback, props?: SubscriberProperties | Callback, callback?: Callback) => {
      const args = subscribeArgs(target, props, callback);
      const { subscriber, started } = this.doSubscribe(stream, args.target, args.props);
      void complete(started, args.callback).catch(() => undefined);
      return subscriber;
    };
    this.subscribe = Object.assign(subscribe, {
      promise: (stream: Stream, target?: HTMLElement | string, props?: SubscriberProperties) => {
        const args = subscribeArgs(target, props, undefined);
        const { subscriber, started } = this.doSubscribe(stream, args.target, args.props);
        return started.then(() => subscriber);
      },
    }) as SubscribeFn;
  }

  /** Whether the session is connected. */
  isConnected(): boolean {
    return this.status === 'connected';
  }

  /** Leaves the session; `sessionDisconnected` follows. */
  disconnect(): Promise<void> {
    if (this.channel && this.status === 'connected') {
      this.setStatus('disconnecting');
      this.channel.close();
    } else if (this.status === 'connecting') {
      // connect() sees this when the server answers, and leaves at once.
      this.setStatus('disconnecting');
    }
    return Promise.resolve();
  }

  /** Stops publishing `publisher` (its element is removed unless its streamDestroyed is prevented). */
  unpublish(publisher: Publisher): void {
    if (!(publisher instanceof Publisher)) {
      throw otError('OT_INVALID_PARAMETER', 'unpublish needs a Publisher', ExceptionCodes.INVALID_PARAMETER);
    }
    if (publisher.session !== this) return;
    publisher._unpublish();
  }

  /** Stops a subscription and removes its element. */
  unsubscribe(subscriber: Subscriber): void {
    if (!(subscriber instanceof Subscriber)) {
      throw otError('OT_INVALID_PARAMETER', 'unsubscribe needs a Subscriber', ExceptionCodes.INVALID_PARAMETER);
    }
    subscriber._destroy('unsubscribe');
  }

  /** Sends a signal to everyone (or to `to`): the `signal` and `signal:<type>` events. */
  signal(options: SignalOptions | Callback | undefined, callback?: Callback): Promise<void> {
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    return complete(this.doSignal(options ?? {}), callback);
  }

  /** Moderators: disconnects another client. */
  forceDisconnect(connection: Connection | string, callback?: Callback): Promise<void> {
    const work = (async () => {
      const connectionId = typeof connection === 'string' ? connection : connection?.connectionId;
      this.check('forceDisconnect', ExceptionCodes.UNABLE_TO_FORCE_DISCONNECT, 'forceDisconnect');
      if (!connectionId) throw otError('OT_INVALID_PARAMETER', 'forceDisconnect needs a Connection', ExceptionCodes.INVALID_PARAMETER);
      await this._request({ type: 'forceDisconnect', connectionId }, 'forceDisconnect');
    })();
    return complete(work, callback);
  }

  /** Moderators: stops another client's stream. */
  forceUnpublish(stream: Stream | string, callback?: Callback): Promise<void> {
    const work = (async () => {
      const streamId = typeof stream === 'string' ? stream : stream?.streamId;
      this.check('forceUnpublish', ExceptionCodes.UNABLE_TO_FORCE_UNPUBLISH, 'forceUnpublish');
      if (!streamId) throw otError('OT_INVALID_PARAMETER', 'forceUnpublish needs a Stream', ExceptionCodes.INVALID_PARAMETER);
      await this._request({ type: 'forceUnpublish', streamId }, 'forceUnpublish');
    })();
    return complete(work, callback);
  }

  /** Moderators: mutes one stream's audio (the publisher may unmute). */
  async forceMuteStream(stream: Stream | string): Promise<void> {
    const streamId = typeof stream === 'string' ? stream : stream?.streamId;
    this.check('forceMute', ExceptionCodes.UNABLE_TO_FORCE_MUTE, 'forceMuteStream');
    if (!streamId) throw otError('OT_INVALID_PARAMETER', 'forceMuteStream needs a Stream', ExceptionCodes.INVALID_PARAMETER);
    await this._request({ type: 'forceMuteStream', streamId }, 'forceMute');
  }

  /** Moderators: mutes every stream's audio but the excluded ones. */
  async forceMuteAll(excludedStreams?: Array<Stream | string>): Promise<void> {
    this.check('forceMute', ExceptionCodes.UNABLE_TO_FORCE_MUTE, 'forceMuteAll');
    const excludedStreamIds = (excludedStreams ?? []).map((s) => (typeof s === 'string' ? s : s.streamId));
    await this._request({ type: 'forceMuteAll', excludedStreamIds }, 'forceMute');
  }

  /** The local Publisher publishing `stream`, if any. */
  getPublisherForStream(stream: Stream | string): Publisher | undefined {
    const id = typeof stream === 'string' ? stream : stream?.streamId;
    return id ? this.publishers.get(id) : undefined;
  }

  /** The Subscribers receiving `stream`. */
  getSubscribersForStream(stream: Stream | string): Subscriber[] {
    const id = typeof stream === 'string' ? stream : stream?.streamId;
    return [...this.subscribers].filter((s) => s.stream.streamId === id);
  }

  /** The Room State: participants and streams, as one plain object (see `stateChanged`). */
  getState(): RoomState {
    const facts: StreamFacts[] = [];
    for (const stream of this.streams) {
      const publisher = this.publishers.get(stream.streamId);
      if (publisher) {
        facts.push({ stream, isRemote: false, isPublishing: publisher._isPublishing(), isSpeaking: this.isSpeaking(stream, [publisher]), subscription: null });
        continue;
      }
      const subs = this.getSubscribersForStream(stream).filter((s) => !s._isDestroyed());
      const order = ['started', 'pending', 'ended'] as const;
      const status = subs.length ? order.find((o) => subs.some((s) => s.status === o))! : 'none';
      facts.push({
        stream,
        isRemote: stream.connection.connectionId !== this.connection?.connectionId,
        isPublishing: false,
        isSpeaking: this.isSpeaking(stream, subs),
        subscription: { status, subscribers: subs.length },
      });
    }
    return buildRoomState({
      status: this.status,
      sessionId: this.sessionId,
      local: this.status === 'disconnected' ? undefined : this.connection,
      connections: this.connections.toArray(),
      streams: facts,
    });
  }

  // ----- internal API for Publisher and Subscriber -----

  /** @internal */
  _request<R extends Request>(req: R, op: Operation = 'other'): Promise<ReplyFor<R>> {
    if (!this.channel || !this.channel.isOpen) {
      return Promise.reject(otError('OT_NOT_CONNECTED', `cannot send '${req.type}': not connected to the session`, ExceptionCodes.NOT_CONNECTED));
    }
    return this.channel.request(req, op);
  }

  /** @internal */
  _isConnected(): boolean {
    return this.status === 'connected' && !!this.channel?.isOpen;
  }

  /**
   * Replaces the `iceConfig` given to OT.initSession (OpenTok.js's Session.setIceConfig): it
   * applies to the peer connections made from now on. Throws OT_INVALID_PARAMETER as
   * initSession does for a malformed one.
   */
  setIceConfig(iceConfig: IceConfig): void {
    this.iceConfig = checkIceConfig(iceConfig);
  }

  /** @internal */
  async _rtcConfiguration(): Promise<RTCConfiguration> {
    const config: RTCConfiguration = { ...iceSettings(this.iceConfig, this.serverIceServers), bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' };
    const certificate = await sharedCertificate();
    if (certificate) config.certificates = [certificate];
    return config;
  }

  /** @internal Whether the session is relayed (peer-to-peer media, `p2pSignal`). */
  _isRelayed(): boolean {
    return this.relayed;
  }

  /** @internal */
  _registerPublisher(streamId: string, publisher: Publisher): void {
    this.publishers.set(streamId, publisher);
    // A relayed stream is announced right after the reply: it may be known already.
    const announced = this.streams.get(streamId);
    if (announced) publisher._onStreamCreated(announced);
    if (this.mutedEarly.delete(streamId)) publisher._onMuteForced();
    if (this.endedEarly.delete(streamId)) publisher._onStreamDestroyed('mediaStopped', undefined);
  }

  /** @internal */
  _unregisterPublisher(publisher: Publisher): void {
    for (const [id, p] of this.publishers) if (p === publisher) this.publishers.delete(id);
    this.allPublishers.delete(publisher);
  }

  /** @internal */
  _registerSubscription(subscriptionId: string, subscriber: Subscriber): void {
    this.subscriptions.set(subscriptionId, subscriber);
    if (this.endedEarly.delete(subscriptionId)) subscriber._onEnded();
  }

  /** @internal */
  _forgetSubscriber(subscriber: Subscriber): void {
    this.subscribers.delete(subscriber);
    const id = subscriber._subscriptionId();
    if (id) this.subscriptions.delete(id);
    this._stateChanged('unsubscribed');
  }

  /**
   * @internal Whether this client must detect speaking itself (someone listens to
   * stateChanged in a relayed session; a routed session's server announces `speakers`).
   */
  _wantsSpeaking(): boolean {
    return this.relayed && this.hasListeners('stateChanged');
  }

  /** Room State's isSpeaking: the server's word, or in a relayed session our own levels. */
  private isSpeaking(stream: Stream, local: { _isSpeaking(): boolean }[]): boolean {
    return this.relayed ? local.some((l) => l._isSpeaking()) : this.speaking.has(stream.streamId);
  }

  /** @internal Re-issues the Room State. */
  _stateChanged(reason: string): void {
    if (!this.hasListeners('stateChanged')) return;
    this.emit('stateChanged', { state: this.getState(), reason });
  }

  // ----- connecting -----

  private async doConnect(token: string): Promise<void> {
    if (this.status === 'connected' || this.status === 'connecting') {
      throw otError('OT_INVALID_PARAMETER', 'this session is already connected or connecting', ExceptionCodes.INVALID_PARAMETER);
    }
    if (!this.sessionId) {
      throw this.fail(otError('OT_INVALID_SESSION_ID', 'the session ID is empty', ExceptionCodes.INVALID_SESSION_ID));
    }
    if (typeof token !== 'string' || !token) {
      throw this.fail(otError('OT_INVALID_PARAMETER', 'connect needs a client token', ExceptionCodes.INVALID_PARAMETER));
    }
    const key = apiKeyOfSession(this.sessionId);
    if (key && this.apiKey && key !== this.apiKey) {
      throw this.fail(otError('OT_AUTHENTICATION_ERROR', `the API key ${this.apiKey} does not match the session (project ${key})`, ExceptionCodes.AUTHENTICATION_ERROR));
    }
    let url: string;
    try {
      url = signalingUrl(this.options.serverUrl ?? this.host.defaultServerUrl());
    } catch (e) {
      throw this.fail(e as OTError);
    }
    this.setStatus('connecting');
    void sharedCertificate();
    let opened: { channel: SignalingChannel; connected: ConnectedMessage };
    try {
      opened = await SignalingChannel.open(
        url,
        this.sessionId,
        token,
        {
          onEvent: (m) => this.onEvent(m),
          onClose: (reason) => this.onClosed(reason),
          onReconnecting: () => this.onReconnecting(),
          onReconnected: () => this.onReconnected(),
        },
        this.options.context,
      );
    } catch (e) {
      this.setStatus('disconnected');
      throw this.fail(e as OTError);
    }
    if ((this.status as RoomStatus) !== 'connecting') {
      // disconnect() was called while connecting.
      opened.channel.close();
      this.setStatus('disconnected');
      throw otError('OT_CONNECT_FAILED', 'disconnect() was called before the session connected', ExceptionCodes.CONNECT_FAILED);
    }
    this.channel = opened.channel;
    this.onConnected(opened.connected);
  }

  private onConnected(msg: ConnectedMessage) {
    this.connection = this.addConnection(msg.connection);
    this.role = msg.role;
    this.capabilities = capabilities(msg.capabilities);
    this.serverIceServers = msg.iceServers ?? [];
    this.relayed = msg.relayed === true;
    const others = msg.connections.map((c) => this.addConnection(c));
    const streams = msg.streams.map((s) => this.addStream(s));
    this.setStatus('connected');
    this.startStatsReports(msg.statsInterval ?? 0);
    this.emit('sessionConnected', { connections: others, streams });
    // As OpenTok.js does: connectionCreated for every connection, this one's too, then
    // streamCreated for the streams already published.
    queueMicrotask(() => {
      if (this.status !== 'connected') return;
      if (!this.options.connectionEventsSuppressed) {
        this.emit('connectionCreated', { connection: this.connection });
        for (const c of others) if (this.connections.has(c.connectionId)) this.emit('connectionCreated', { connection: c });
      }
      for (const s of streams) if (!s.destroyed) this.emit('streamCreated', { stream: s });
    });
  }

  /** Sends the server what this client measures of its media, every `interval` ms. */
  private startStatsReports(interval: number) {
    clearInterval(this.statsTimer);
    if (!(interval > 0)) return;
    this.statsTimer = setInterval(() => {
      if (!this._isConnected()) {
        clearInterval(this.statsTimer);
        return;
      }
      const sources = [...new Set(this.publishers.values()), ...new Set(this.subscriptions.values())];
      void Promise.all(sources.map((s) => s._upstreamStats().catch(() => [])))
        .then((lists) => {
          const reports = lists.flat().slice(0, MAX_STATS_REPORTS);
          if (reports.length && this.channel) this.channel.notify({ type: 'stats', reports });
        })
        .catch(() => undefined);
    }, interval);
  }

  private fail(error: OTError): OTError {
    this.host.exception(error, this);
    return error;
  }

  // ----- server events -----

  private onEvent(msg: EventMessage) {
    switch (msg.type) {
      case 'connectionCreated': {
        const connection = this.addConnection(msg.connection);
        if (!this.options.connectionEventsSuppressed) this.emit('connectionCreated', { connection });
        this._stateChanged('connectionCreated');
        break;
      }
      case 'connectionDestroyed': {
        const connection = this.connections.get(msg.connection.connectionId) ?? new Connection(msg.connection);
        this.connections.items.delete(connection.connectionId);
        for (const s of this.streams) {
          // Streams were destroyed first; anything left of that connection goes now.
          if (s.connection.connectionId === connection.connectionId) this.removeStream(s, msg.reason);
        }
        if (!this.options.connectionEventsSuppressed) {
          this.emit('connectionDestroyed', { connection, reason: msg.reason, ...(msg.detail ? { detail: msg.detail } : {}) });
        }
        this._stateChanged('connectionDestroyed');
        break;
      }
      case 'streamCreated': {
        const stream = this.addStream(msg.stream);
        const publisher = this.publishers.get(stream.streamId);
        if (publisher) publisher._onStreamCreated(stream);
        else if (!this.isOwn(stream)) this.emit('streamCreated', { stream });
        this._stateChanged('streamCreated');
        break;
      }
      case 'streamDestroyed': {
        const stream = this.streams.get(msg.stream.streamId);
        const publisher = this.publishers.get(msg.stream.streamId);
        if (publisher) {
          if (stream) this.streams.items.delete(stream.streamId);
          if (stream) stream.destroyed = true;
          publisher._onStreamDestroyed(msg.reason, stream);
        } else if (stream) {
          this.removeStream(stream, msg.reason);
        } else if (this.isOwnWire(msg.stream)) {
          // Our stream ended before the `published` reply named it (Note 5).
          this.endedEarly.add(msg.stream.streamId);
        }
        this._stateChanged('streamDestroyed');
        break;
      }
      case 'streamPropertyChanged': {
        const stream = this.streams.get(msg.stream.streamId);
        if (!stream) break;
        stream.update(msg.stream);
        this.emit('streamPropertyChanged', {
          stream,
          changedProperty: msg.changedProperty,
          oldValue: msg.oldValue,
          newValue: msg.newValue,
        });
        for (const s of this.getSubscribersForStream(stream)) s._onStreamPropertyChanged(msg.changedProperty, msg.newValue);
        this._stateChanged('streamPropertyChanged');
        break;
      }
      case 'signal': {
        const from = msg.from ? (this.connections.get(msg.from.connectionId) ?? new Connection(msg.from)) : null;
        const type = msg.signalType ? `signal:${msg.signalType}` : 'signal';
        const event = makeEvent(type, this, { data: msg.data, from });
        this.dispatchEvent(event, 'signal');
        if (msg.signalType) this.dispatchEvent(event);
        break;
      }
      case 'layersNeeded':
        this.publishers.get(msg.streamId)?._onLayersNeeded(msg.layers);
        break;
      case 'muteForced': {
        const publisher = this.publishers.get(msg.streamId);
        if (publisher) publisher._onMuteForced();
        else this.mutedEarly.add(msg.streamId);
        this.emit('muteForced', { streamId: msg.streamId });
        this._stateChanged('muteForced');
        break;
      }
      case 'audioCensored':
        // Told before the censored stream's muteForced / streamPropertyChanged.
        this.emit('audioCensored', { streamId: msg.streamId, censored: msg.censored === true });
        break;
      case 'speakers': {
        this.speaking = new Set(msg.speaking);
        const streamOf = (id: string) => this.streams.get(id);
        this.emit('speakersChanged', {
          speaking: msg.speaking.map(streamOf).filter((s): s is Stream => s !== undefined),
          dominantSpeaker: (msg.dominant && streamOf(msg.dominant)) || null,
        });
        this._stateChanged('speaking');
        break;
      }
      case 'archiveStarted':
      case 'archiveStopped':
        this.emit(msg.type, { id: msg.id, name: msg.name ?? '' });
        this._stateChanged(msg.type);
        break;
      case 'subscriptionConnected':
        this.subscriptions.get(msg.subscriptionId)?._onConnected();
        break;
      case 'qualityScore':
        this.subscriptions.get(msg.subscriptionId)?._onQualityScore(msg.media, msg.score);
        break;
      case 'videoQuality':
        this.subscriptions.get(msg.subscriptionId)?._onVideoQuality(msg.state);
        break;
      case 'subscriptionEnded': {
        const sub = this.subscriptions.get(msg.subscriptionId);
        const publisher = this.publishers.get(msg.streamId);
        if (sub) sub._onEnded();
        // Relayed: a subscriber of our stream left; close its peer connection.
        else if (publisher) publisher._onPeerEnded(msg.subscriptionId);
        else this.endedEarly.add(msg.subscriptionId);
        break;
      }
      case 'p2pSignal': {
        // Offers and the subscriber's candidates are for our stream's publisher; answers and
        // the publisher's candidates for our subscription.
        const publisher = msg.kind !== 'answer' ? this.publishers.get(msg.streamId) : undefined;
        const sub = this.subscriptions.get(msg.subscriptionId);
        if (publisher && (msg.kind === 'offer' || !sub)) publisher._onP2pSignal(msg);
        else if (sub) sub._onP2pSignal(msg);
        else logger.debug('p2pSignal for nothing of ours', msg.streamId, msg.subscriptionId);
        break;
      }
      case 'disconnected':
        // The close (4003) that follows ends the session.
        this.disconnectDetail = msg.detail;
        break;
      default:
        logger.debug('ignoring unknown event', (msg as { type: string }).type);
    }
  }

  /** The signaling connection was lost; the channel is resuming it. */
  private onReconnecting() {
    this.emit('sessionReconnecting', {});
    this._stateChanged('reconnecting');
  }

  /** Resumed: nobody saw us leave. Media paths may have changed too: restart ICE. */
  private onReconnected() {
    this.emit('sessionReconnected', {});
    this._stateChanged('reconnected');
    if (this.relayed) return;
    for (const p of new Set(this.publishers.values())) void p._restartIce();
    for (const s of this.subscribers) void s._restartIce();
  }

  private onClosed(reason: ConnectionReason) {
    this.channel = undefined;
    this.speaking.clear();
    this.setStatus('disconnected', false);
    for (const publisher of [...this.publishers.values(), ...this.allPublishers]) publisher._onSessionEnded(reason);
    this.publishers.clear();
    this.allPublishers.clear();
    const detail = this.disconnectDetail;
    this.disconnectDetail = undefined;
    const event = this.emit('sessionDisconnected', { reason, ...(detail ? { detail } : {}) }, true);
    for (const sub of [...this.subscribers]) {
      if (event.isDefaultPrevented()) sub._end();
      else sub._destroy(reason);
    }
    for (const s of this.streams) s.destroyed = true;
    this.streams.items.clear();
    this.connections.items.clear();
    this.endedEarly.clear();
    this.mutedEarly.clear();
    this._stateChanged('disconnected');
  }

  // ----- publishing, subscribing, signaling -----

  private publisherFor(
    a: Publisher | HTMLElement | string | undefined,
    b: PublisherProperties | Callback | undefined,
    c: Callback | undefined,
  ): { publisher: Publisher; callback?: Callback } {
    if (a instanceof Publisher) return { publisher: a, callback: typeof b === 'function' ? b : c };
    const props = typeof b === 'function' ? undefined : b;
    const callback = typeof b === 'function' ? b : c;
    // The media error (if any) reaches the callback through doPublish.
    return { publisher: this.host.initPublisher(a, props), callback };
  }

  private async doPublish(publisher: Publisher): Promise<void> {
    if (!this._isConnected()) {
      throw this.fail(otError('OT_NOT_CONNECTED', 'publish: connect to the session first', ExceptionCodes.NOT_CONNECTED));
    }
    if (!this.capabilities.publish) {
      throw this.fail(
        otError('OT_PERMISSION_DENIED', 'This token does not allow publishing. The role must be at least `publisher` to enable this functionality', ExceptionCodes.UNABLE_TO_PUBLISH),
      );
    }
    this.allPublishers.add(publisher);
    try {
      await publisher._publish(this);
    } catch (e) {
      this.allPublishers.delete(publisher);
      throw this.fail(e as OTError);
    }
  }

  private doSubscribe(stream: Stream, target: HTMLElement | string | undefined, props: SubscriberProperties | undefined) {
    const fail = (error: OTError) => {
      this.fail(error);
      return { subscriber: undefined as unknown as Subscriber, started: Promise.reject(error) as Promise<void> };
    };
    if (!this._isConnected()) return fail(otError('OT_NOT_CONNECTED', 'subscribe: connect to the session first', ExceptionCodes.NOT_CONNECTED));
    if (!(stream instanceof Stream)) return fail(otError('OT_INVALID_PARAMETER', 'subscribe needs a Stream', ExceptionCodes.INVALID_PARAMETER));
    if (!this.capabilities.subscribe) {
      return fail(otError('OT_PERMISSION_DENIED', 'This token does not allow subscribing', ExceptionCodes.UNABLE_TO_SUBSCRIBE));
    }
    if (stream.destroyed || !this.streams.has(stream.streamId)) {
      return fail(otError('OT_STREAM_NOT_FOUND', `stream ${stream.streamId} is not in the session`, ExceptionCodes.UNABLE_TO_SUBSCRIBE));
    }
    const resolved = resolveTarget(target);
    if (resolved instanceof OTError) return fail(resolved);
    const subscriber = new Subscriber(this, stream, resolved, props);
    this.subscribers.add(subscriber);
    this._stateChanged('subscribing');
    const started = subscriber._start().catch((e: OTError) => {
      throw this.fail(e);
    });
    return { subscriber, started };
  }

  private async doSignal(o: SignalOptions): Promise<void> {
    if (!this._isConnected()) throw otError('OT_NOT_CONNECTED', 'Unable to send signal - you are not connected to the session.', 500);
    const signalType = o.type ?? '';
    const data = o.data ?? '';
    if (typeof signalType !== 'string' || typeof data !== 'string') {
      throw otError('OT_INVALID_PARAMETER', 'signal type and data must be strings', 400);
    }
    if (signalType.length > LIMITS.signalTypeChars) {
      throw otError('OT_INVALID_PARAMETER', `The signal type was too long, the maximum length of it is ${LIMITS.signalTypeChars} characters`, 413);
    }
    if (signalType && !/^[A-Za-z0-9\-_~]+$/.test(signalType)) {
      throw otError('OT_INVALID_PARAMETER', "The signal type was invalid, it can only contain letters, numbers, '-', '_', and '~'.", 400);
    }
    if (utf8Length(data) > LIMITS.signalDataBytes) {
      throw otError('OT_INVALID_PARAMETER', `The data field was too long, the maximum size of it is ${LIMITS.signalDataBytes} bytes`, 413);
    }
    let to: string | undefined;
    if (o.to !== undefined && o.to !== null) {
      to = o.to instanceof Connection ? o.to.connectionId : (o.to as { connectionId?: string }).connectionId;
      if (!to) throw otError('OT_INVALID_PARAMETER', 'The To field was invalid', 400);
    }
    await this._request({ type: 'signal', signalType, data, ...(to ? { to } : {}) }, 'signal');
  }

  // ----- bookkeeping -----

  private check(capability: 'forceDisconnect' | 'forceUnpublish' | 'forceMute', code: number, what: string) {
    if (!this._isConnected()) throw otError('OT_NOT_CONNECTED', `${what}: not connected to the session`, ExceptionCodes.NOT_CONNECTED);
    if (!this.capabilities[capability]) {
      throw otError('OT_PERMISSION_DENIED', `This token does not allow ${what}. The role must be at least \`moderator\` to enable this functionality`, code);
    }
  }

  private addConnection(wire: WireConnection): Connection {
    const existing = this.connections.get(wire.connectionId);
    if (existing) return existing;
    const c = new Connection(wire);
    this.connections.items.set(c.connectionId, c);
    return c;
  }

  private addStream(wire: WireStream): Stream {
    const existing = this.streams.get(wire.streamId);
    if (existing) {
      existing.update(wire);
      return existing;
    }
    const connection = this.connections.get(wire.connection.connectionId) ?? new Connection(wire.connection);
    const s = new Stream(wire, connection);
    this.streams.items.set(s.streamId, s);
    return s;
  }

  private removeStream(stream: Stream, reason: string) {
    this.streams.items.delete(stream.streamId);
    stream.destroyed = true;
    if (this.isOwn(stream)) return;
    const event = this.emit('streamDestroyed', { stream, reason }, true);
    for (const sub of this.getSubscribersForStream(stream)) {
      if (event.isDefaultPrevented()) sub._end();
      else sub._destroy(reason);
    }
  }

  private isOwn(stream: Stream): boolean {
    return stream.connection.connectionId === this.connection?.connectionId;
  }

  private isOwnWire(stream: WireStream): boolean {
    return stream.connection.connectionId === this.connection?.connectionId;
  }

  private setStatus(status: RoomStatus, notify = true) {
    this.status = status;
    if (status === 'disconnected') clearInterval(this.statsTimer);
    if (notify) this._stateChanged(status);
  }
}

function capabilities(c: WireCapabilities): Capabilities {
  const n = (b: boolean): 0 | 1 => (b ? 1 : 0);
  const caps = {
    publish: n(c.publish),
    subscribe: n(c.subscribe),
    signal: n(c.signal),
    forceDisconnect: n(c.forceDisconnect),
    forceUnpublish: n(c.forceUnpublish),
    forceMute: n(c.forceMute),
  };
  return {
    ...caps,
    permittedTo(action: string) {
      return (caps as Record<string, number>)[action] === 1;
    },
  };
}

/** The API key inside a Parlor/OpenTok session ID (`1_` + base64url of `1~key~…`), if it has one. */
function apiKeyOfSession(sessionId: string): string | undefined {
  try {
    const b64 = sessionId.slice(2).replace(/-/g, '+').replace(/_/g, '/');
    const fields = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)).split('~');
    return fields.length >= 5 && /^\d+$/.test(fields[1] ?? '') ? fields[1] : undefined;
  } catch {
    return undefined;
  }
}

function subscribeArgs(
  target: HTMLElement | string | SubscriberProperties | Callback | undefined,
  props: SubscriberProperties | Callback | undefined,
  callback: Callback | undefined,
): { target?: HTMLElement | string; props?: SubscriberProperties; callback?: Callback } {
  if (typeof target === 'function') return { callback: target };
  if (target && typeof target === 'object' && !isElement(target)) {
    return { props: target, callback: typeof props === 'function' ? props : callback };
  }
  if (typeof props === 'function') return { target: target as HTMLElement | string | undefined, callback: props };
  return { target: target as HTMLElement | string | undefined, props, callback };
}

