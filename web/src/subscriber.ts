// A Subscriber: one remote stream received over its own peer connection (recvonly audio and
// video offer → the router's answer), shown in its own element.

import { LevelMonitor } from './audio-level';
import { ExceptionCodes, OTError, asOTError, otError } from './errors';
import type { QualityScore, SubscriberEventMap } from './event-types';
import { EventEmitter } from './events';
import { logger } from './log';
import type { Dimensions, Stream } from './model';
import { snapshot } from './publisher';
import type { Session } from './session';
import { type SubscriberStats, audioLevelOf, subscriberStats } from './stats';
import type { P2pSignalMessage, VideoQualityState, WireStatsReport } from './protocol';
import { PeerLink } from './p2p';
import { type UpstreamMemory, upstreamReports } from './upstream-stats';
import { type Callback, complete, deferred, type Deferred, uniqueId, withTimeout } from './util';
import { Widget, type WidgetProperties, type WidgetStyle } from './widget';

/** How long a subscription may take to connect (the router allows 20 s for ICE/DTLS). */
const CONNECT_TIMEOUT_MS = 25_000;
/** After the server ends a subscription whose stream still exists, subscribe again after this. */
const RESUBSCRIBE_DELAY_MS = 1_000;
const MAX_RESUBSCRIBES = 3;

export interface SubscriberProperties extends WidgetProperties {
  subscribeToAudio?: boolean;
  subscribeToVideo?: boolean;
  /** Playback volume, 0–100 (default 100). */
  audioVolume?: number;
  /**
   * The video size to receive of a simulcast stream: the router forwards the smallest
   * layer that covers it. `'auto'`: the size this subscriber's element is shown at (times
   * the device pixel ratio), followed as it changes. Default: the largest layer.
   */
  preferredResolution?: 'auto' | Dimensions;
  /** The frame rate to receive of a simulcast stream: a layer at most this fast. */
  preferredFrameRate?: number;
  style?: WidgetStyle & { audioBlockedDisplayMode?: 'auto' | 'on' | 'off' };
  /**
   * A pre-call network test's subscriber (what `opentok-network-test-js` sets). Parlor
   * always routes, so the media path is the same; the Inspector shows its numbers as the
   * session's pre-call test.
   */
  testNetwork?: boolean;
}

export type SubscriptionStatus = 'pending' | 'started' | 'ended';

/** Every Subscriber of the page that is not destroyed (for OT.unblockAudio and audio output). */
const live = new Set<Subscriber>();

/** @internal */
export function liveSubscribers(): Subscriber[] {
  return [...live];
}

type Toggle = ((value: boolean) => Subscriber) & { promise(value: boolean): Promise<void> };

export class Subscriber extends EventEmitter<SubscriberEventMap> {
  readonly id: string;
  /** The element holding the video, or undefined with `insertDefaultUI: false` or once destroyed. */
  element: HTMLElement | undefined;
  readonly stream: Stream;
  readonly session: Session;

  /** Starts or stops receiving the stream's audio. */
  readonly subscribeToAudio: Toggle;
  /** Starts or stops receiving the stream's video. */
  readonly subscribeToVideo: Toggle;
  /** Sets the playback volume, 0–100. */
  readonly setAudioVolume: ((value: number) => Subscriber) & { promise(value: number): Promise<void> };

  private readonly props: SubscriberProperties;
  private widget?: Widget;
  private pc?: RTCPeerConnection;
  /** Relayed sessions: the signaling of the peer connection to the stream's publisher. */
  private link?: PeerLink;
  private subscriptionId?: string;
  private readonly upstream: UpstreamMemory = new Map();
  private connected?: Deferred<void>;
  private mediaStream = new MediaStream();
  private audioOn: boolean;
  private videoOn: boolean;
  /** The router turned this subscription's video off: its downlink is too narrow (`videoQuality`). */
  private qualityOff = false;
  private volume: number;
  private destroyed = false;
  private audioBlocked = false;
  private resubscribes = 0;
  private lastDimensions?: Dimensions;
  /** `preferredResolution: 'auto'`: watches the element's size. */
  private sizeWatch?: { observer: ResizeObserver; timer?: ReturnType<typeof setTimeout>; sent?: string };
  /** The last scores the server sent (qualityScoreChanged). */
  private qualityScore: QualityScore = {};
  private readonly levels: LevelMonitor;
  /** @internal */
  status: SubscriptionStatus = 'pending';

  /** @internal Use session.subscribe. */
  constructor(session: Session, stream: Stream, target: HTMLElement | undefined, properties: SubscriberProperties | undefined) {
    super();
    this.id = uniqueId('OT_subscriber');
    this.session = session;
    this.stream = stream;
    this.props = { ...properties };
    this.audioOn = this.props.subscribeToAudio !== false;
    this.videoOn = this.props.subscribeToVideo !== false;
    this.volume = clampVolume(this.props.audioVolume ?? 100);
    live.add(this);

    this.subscribeToAudio = Object.assign(
      (value: boolean) => {
        this.setAudio(value).catch((e: Error) => logger.warn('subscribeToAudio:', e.message));
        return this;
      },
      { promise: (value: boolean) => this.setAudio(value) },
    );
    this.subscribeToVideo = Object.assign(
      (value: boolean) => {
        this.setVideo(value).catch((e: Error) => logger.warn('subscribeToVideo:', e.message));
        return this;
      },
      { promise: (value: boolean) => this.setVideo(value) },
    );
    this.setAudioVolume = Object.assign(
      (value: number) => {
        this.applyVolume(value);
        return this;
      },
      {
        promise: async (value: number) => {
          this.applyVolume(value);
        },
      },
    );

    this.levels = new LevelMonitor(
      async () => (this.pc ? audioLevelOf(await this.pc.getStats(), 'inbound-rtp') : undefined),
      () => this.audioOn && this.stream.hasAudio && this.status === 'started' && (this.hasListeners('audioLevelUpdated') || this.session._wantsSpeaking()),
      (audioLevel) => this.emit('audioLevelUpdated', { audioLevel }),
      () => this.session._stateChanged('speaking'),
    );

    if (this.props.insertDefaultUI !== false) {
      this.widget = new Widget('subscriber', target, this.props, this.id);
      this.element = this.widget.root;
      this.widget.setName(stream.name);
      this.widget.setAudioOnly(!(stream.hasVideo && this.videoOn));
      const video = this.widget.video;
      video.volume = this.volume / 100;
      video.muted = !this.audioOn;
      video.addEventListener('resize', () => this.onResize());
    }
  }

  /** @internal Subscribes; resolves once media flows (the server reports it connected). */
  async _start(callback?: Callback): Promise<void> {
    const work = this.connect().then(
      () => {
        this.emit('connected', {});
        this.session._stateChanged('subscriptionStarted');
      },
      (e) => {
        const error = asOTError(e, 'OT_UNABLE_TO_SUBSCRIBE', ExceptionCodes.UNABLE_TO_SUBSCRIBE);
        this._destroy('subscribeFailed');
        throw error;
      },
    );
    return complete(work, callback);
  }

  /** @internal Plays the audio through this output device, where the browser can. */
  async _setSinkId(deviceId: string): Promise<void> {
    const video = this.widget?.video as (HTMLVideoElement & { setSinkId?: (id: string) => Promise<void> }) | undefined;
    await video?.setSinkId?.(deviceId);
  }

  getAudioVolume(): number {
    return this.volume;
  }

  isAudioBlocked(): boolean {
    return this.audioBlocked;
  }

  /** The width of the received video, in pixels. */
  videoWidth(): number | undefined {
    return this.widget?.video.videoWidth || undefined;
  }

  videoHeight(): number | undefined {
    return this.widget?.video.videoHeight || undefined;
  }

  /** OpenTok.js-style stats: `{audio, video, timestamp}` with bytes, packets and frame rate. */
  getStats(callback?: (error?: OTError, stats?: SubscriberStats) => void): Promise<SubscriberStats> {
    return complete(
      this.report().then((r) => subscriberStats(r)),
      callback,
    );
  }

  /** The browser's RTCStatsReport for this subscription's peer connection. */
  getRtcStatsReport(): Promise<RTCStatsReport> {
    return this.report();
  }

  getImgData(): string | null {
    return snapshot(this.widget?.video);
  }

  getStyle(): WidgetStyle {
    return { ...this.props.style };
  }

  setStyle(style: keyof WidgetStyle | WidgetStyle, value?: string): this {
    const next = typeof style === 'string' ? { [style]: value } : style;
    this.props.style = { ...this.props.style, ...next };
    if (this.widget && this.props.style.nameDisplayMode) {
      this.widget.root.classList.remove('OT_name-auto', 'OT_name-on', 'OT_name-off');
      this.widget.root.classList.add(`OT_name-${this.props.style.nameDisplayMode}`);
    }
    return this;
  }

  /**
   * Sets the video size to receive (see `preferredResolution`); `null` clears it. Of a
   * simulcast stream the router switches to the smallest layer that covers it, on that
   * layer's next keyframe.
   */
  async setPreferredResolution(resolution: Dimensions | 'auto' | null): Promise<void> {
    if (resolution !== null && resolution !== 'auto' && !(isSize(resolution?.width) && isSize(resolution?.height))) {
      throw otError('OT_INVALID_PARAMETER', "preferredResolution must be { width, height } in whole pixels, 'auto' or null", ExceptionCodes.INVALID_PARAMETER);
    }
    this.props.preferredResolution = resolution ?? undefined;
    this.watchSize();
    await this.sendPreferences();
  }

  /** Sets the frame rate to receive (see `preferredFrameRate`); `null` clears it. */
  async setPreferredFrameRate(frameRate: number | null): Promise<void> {
    if (frameRate !== null && !(typeof frameRate === 'number' && frameRate > 0 && frameRate <= 240)) {
      throw otError('OT_INVALID_PARAMETER', 'preferredFrameRate must be a number above 0 and at most 240, or null', ExceptionCodes.INVALID_PARAMETER);
    }
    this.props.preferredFrameRate = frameRate ?? undefined;
    await this.sendPreferences();
  }

  /** @internal Plays audio that the browser's autoplay policy blocked (from a user gesture). */
  async _unblockAudio(): Promise<void> {
    if (!this.audioBlocked || !this.widget) return;
    const video = this.widget.video;
    video.muted = !this.audioOn;
    await video.play();
    this.audioBlocked = false;
    this.emit('audioUnblocked', {});
  }

  // ----- internal, driven by Session -----

  /** @internal */
  _subscriptionId(): string | undefined {
    return this.subscriptionId;
  }

  /** @internal After a resumed connection: new ICE credentials (see Publisher._restartIce). */
  async _restartIce(): Promise<void> {
    const pc = this.pc;
    if (!pc || !this.subscriptionId || pc.signalingState !== 'stable') return;
    try {
      const offer = await pc.createOffer({ iceRestart: true });
      await pc.setLocalDescription(offer);
      const reply = await this.session._request({ type: 'restartIce', subscriptionId: this.subscriptionId, sdp: offer.sdp! });
      await pc.setRemoteDescription({ type: 'answer', sdp: reply.sdp });
    } catch (e) {
      logger.warn('subscriber: ICE restart failed:', (e as Error).message);
    }
  }

  /** @internal Relayed: the publisher's answer or candidate. */
  _onP2pSignal(msg: P2pSignalMessage): void {
    const link = this.link;
    if (!link || msg.subscriptionId !== this.subscriptionId) return;
    if (msg.kind === 'answer' && msg.sdp) {
      link.setRemote({ type: 'answer', sdp: msg.sdp }).catch((e: Error) => {
        this.connected?.reject(otError('OT_SET_REMOTE_DESCRIPTION_FAILED', `the publisher's answer was refused: ${e.message}`, ExceptionCodes.UNABLE_TO_SUBSCRIBE));
      });
    } else if (msg.kind === 'candidate' && msg.candidate) {
      void link.remoteCandidate(msg.candidate);
    }
  }

  /** @internal The server reports the subscription's media up. */
  _onConnected(): void {
    this.connected?.resolve();
  }

  /** @internal The server scored a window of this subscription's audio or video. */
  _onQualityScore(media: 'audio' | 'video', score: number): void {
    const key = media === 'audio' ? 'audioQualityScore' : 'videoQualityScore';
    if (this.qualityScore[key] === score) return;
    this.qualityScore = { ...this.qualityScore, [key]: score };
    this.emit('qualityScoreChanged', { qualityScore: { ...this.qualityScore } });
  }

  /**
   * @internal The router's audio-only fallback (OpenTok.js's reason `quality`): a warning,
   * its lifting, or this subscription's video turned off or back on. Shown like the
   * publisher turning video off; subscribeToVideo is unchanged.
   */
  _onVideoQuality(state: VideoQualityState): void {
    if (state === 'warning') this.emit('videoDisableWarning', {});
    else if (state === 'warningLifted') this.emit('videoDisableWarningLifted', {});
    else if ((state === 'disabled') !== this.qualityOff) {
      this.qualityOff = state === 'disabled';
      this.widget?.setAudioOnly(!(this.videoOn && this.stream.hasVideo && !this.qualityOff));
      if (this.videoOn && this.stream.hasVideo) this.emit(this.qualityOff ? 'videoDisabled' : 'videoEnabled', { reason: 'quality' });
    }
  }

  /** @internal The server ended the subscription (its stream went, or its media failed). */
  _onEnded(): void {
    this.closePeer();
    if (this.connected && !this.connected.settled) {
      this.connected.reject(otError('OT_STREAM_DESTROYED', 'the stream ended before the subscription connected', ExceptionCodes.UNABLE_TO_SUBSCRIBE));
      return;
    }
    if (this.destroyed) return;
    this.status = 'ended';
    this.emit('disconnected', {});
    this.session._stateChanged('subscriptionEnded');
    // A stream that still exists lost only this subscription's media: subscribe again.
    setTimeout(() => {
      if (this.destroyed || this.stream.destroyed || !this.session._isConnected()) return;
      if (this.resubscribes >= MAX_RESUBSCRIBES) return;
      this.resubscribes += 1;
      logger.info(`resubscribing to ${this.stream.streamId}`);
      this.status = 'pending';
      this.connect().then(
        () => {
          this.emit('connected', {});
          this.session._stateChanged('subscriptionStarted');
        },
        (e: Error) => logger.warn('resubscribe failed:', e.message),
      );
    }, RESUBSCRIBE_DELAY_MS);
  }

  /** @internal The stream changed a property. */
  _onStreamPropertyChanged(property: string, newValue: unknown): void {
    if (property === 'hasVideo') {
      this.widget?.setAudioOnly(!(newValue && this.videoOn && !this.qualityOff));
      if (this.videoOn) this.emit(newValue ? 'videoEnabled' : 'videoDisabled', { reason: 'publishVideo' });
    }
    if (property === 'hasAudio') this.session._stateChanged('streamPropertyChanged');
  }

  /** @internal The stream is gone but the app keeps the element (streamDestroyed prevented). */
  _end(): void {
    this.closePeer();
    this.status = 'ended';
  }

  /** @internal Unsubscribes (if still subscribed), removes the element, emits `destroyed`. */
  _destroy(reason: string): void {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    const id = this.subscriptionId;
    if (id && this.status !== 'ended' && this.session._isConnected()) {
      this.session._request({ type: 'unsubscribe', subscriptionId: id }).catch(() => undefined);
    }
    this.closePeer();
    this.status = 'ended';
    this.stopWatchingSize();
    this.widget?.destroy();
    this.widget = undefined;
    this.element = undefined;
    this.session._forgetSubscriber(this);
    this.emit('destroyed', { reason });
  }

  /** @internal */
  _isSpeaking(): boolean {
    return this.levels.speaking;
  }

  /** @internal */
  _isDestroyed(): boolean {
    return this.destroyed;
  }

  // ----- private -----

  private async connect(): Promise<void> {
    const session = this.session;
    // A new subscription (resubscribing) starts with video: undo an old one's fallback.
    if (this.qualityOff) this._onVideoQuality('enabled');
    const pc = new RTCPeerConnection(await session._rtcConfiguration());
    this.pc = pc;
    this.mediaStream = new MediaStream();
    this.connected = deferred<void>();
    const connected = this.connected;
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addEventListener('track', (e) => this.onTrack(e.track));
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'connected') connected.resolve();
      if (pc.connectionState === 'failed') {
        connected.reject(otError('OT_ICE_WORKFLOW_FAILED', 'the media connection to the server failed', ExceptionCodes.SUBSCRIBER_ICE_WORKFLOW_FAILED));
      }
    });
    const link = session._isRelayed() ? new PeerLink(pc, session) : undefined;
    this.link = link;
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    if (link) {
      // Relayed: the server registers the subscription; the offer goes to the publisher.
      const reply = await session._request(
        {
          type: 'subscribe',
          streamId: this.stream.streamId,
          audio: this.audioOn,
          video: this.videoOn,
          ...(this.props.testNetwork ? { testNetwork: true } : {}),
          sdp: '',
        },
        'subscribe',
      );
      this.subscriptionId = reply.subscriptionId;
      session._registerSubscription(reply.subscriptionId, this);
      if (this.pc !== pc) throw otError('OT_STREAM_DESTROYED', 'the subscription ended while it was being set up', ExceptionCodes.UNABLE_TO_SUBSCRIBE);
      link.route = { to: this.stream.connection.connectionId, streamId: this.stream.streamId, subscriptionId: reply.subscriptionId };
      await link.sendDescription('offer', offer.sdp!);
      await withTimeout(connected.promise, CONNECT_TIMEOUT_MS, 'subscribing', 'OT_ICE_WORKFLOW_FAILED', ExceptionCodes.SUBSCRIBER_ICE_WORKFLOW_FAILED);
      this.status = 'started';
      this.applyRelayedVideo();
      this.levels.start();
      return;
    }
    const reply = await session._request(
      {
        type: 'subscribe',
        streamId: this.stream.streamId,
        audio: this.audioOn,
        video: this.videoOn,
        ...(this.props.testNetwork ? { testNetwork: true } : {}),
        sdp: offer.sdp!,
      },
      'subscribe',
    );
    this.subscriptionId = reply.subscriptionId;
    session._registerSubscription(reply.subscriptionId, this);
    if (this.pc !== pc) throw otError('OT_STREAM_DESTROYED', 'the subscription ended while it was being set up', ExceptionCodes.UNABLE_TO_SUBSCRIBE);
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp: reply.sdp });
    } catch (e) {
      throw otError('OT_SET_REMOTE_DESCRIPTION_FAILED', `the server's answer was refused: ${(e as Error).message}`, ExceptionCodes.UNABLE_TO_SUBSCRIBE);
    }
    if (this.props.preferredResolution !== undefined || this.props.preferredFrameRate !== undefined) {
      this.watchSize();
      this.sendPreferences().catch((e: Error) => logger.warn('subscriber preferences:', e.message));
    }
    await withTimeout(connected.promise, CONNECT_TIMEOUT_MS, 'subscribing', 'OT_ICE_WORKFLOW_FAILED', ExceptionCodes.SUBSCRIBER_ICE_WORKFLOW_FAILED);
    this.status = 'started';
    this.levels.start();
  }

  /** The size to ask for: the preferred one, or (`'auto'`) the element's on screen. */
  private wantedResolution(): Dimensions | null {
    const r = this.props.preferredResolution;
    if (r !== 'auto') return r ?? null;
    const el = this.widget?.root;
    const dpr = globalThis.devicePixelRatio || 1;
    const width = Math.round((el?.clientWidth ?? 0) * dpr);
    const height = Math.round((el?.clientHeight ?? 0) * dpr);
    return width > 0 && height > 0 ? { width, height } : null;
  }

  /** Tells the server the preferences (routed sessions; a relayed stream has one layer). */
  private async sendPreferences(): Promise<void> {
    if (!this.subscriptionId || this.link || this.status === 'ended' || !this.session._isConnected()) return;
    const preferredResolution = this.wantedResolution();
    const key = JSON.stringify([preferredResolution, this.props.preferredFrameRate ?? null]);
    if (this.sizeWatch) this.sizeWatch.sent = key;
    await this.session._request({
      type: 'setSubscription',
      subscriptionId: this.subscriptionId,
      preferredResolution,
      preferredFrameRate: this.props.preferredFrameRate ?? null,
    });
  }

  /** `'auto'`: follows the element's size (debounced); otherwise stops following it. */
  private watchSize() {
    if (this.props.preferredResolution !== 'auto') return this.stopWatchingSize();
    const el = this.widget?.root;
    if (this.sizeWatch || !el || typeof ResizeObserver === 'undefined') return;
    const watch: NonNullable<Subscriber['sizeWatch']> = {
      observer: new ResizeObserver(() => {
        clearTimeout(watch.timer);
        watch.timer = setTimeout(() => {
          const key = JSON.stringify([this.wantedResolution(), this.props.preferredFrameRate ?? null]);
          if (key !== watch.sent) this.sendPreferences().catch((e: Error) => logger.warn('subscriber preferences:', e.message));
        }, 300);
      }),
    };
    watch.observer.observe(el);
    this.sizeWatch = watch;
  }

  private stopWatchingSize() {
    if (!this.sizeWatch) return;
    this.sizeWatch.observer.disconnect();
    clearTimeout(this.sizeWatch.timer);
    this.sizeWatch = undefined;
  }

  private onTrack(track: MediaStreamTrack) {
    this.mediaStream.addTrack(track);
    if (this.mediaStream.getTracks().length === 1) {
      this.emit('mediaStreamAvailable', { mediaStream: this.mediaStream });
    }
    if (!this.widget) return;
    const video = this.widget.video;
    const first = !video.srcObject;
    this.widget.attach(this.mediaStream);
    if (first) this.emit('videoElementCreated', { element: video });
    this.play(video);
  }

  private play(video: HTMLVideoElement) {
    video.play().catch((e: Error) => {
      if (e.name !== 'NotAllowedError' || video.muted) return;
      // The autoplay policy refused sound: play muted and let the app ask for a gesture.
      video.muted = true;
      video.play().catch(() => undefined);
      if (!this.audioBlocked) {
        this.audioBlocked = true;
        this.emit('audioBlocked', {});
      }
    });
  }

  private onResize() {
    const video = this.widget?.video;
    if (!video || !video.videoWidth) return;
    const next = { width: video.videoWidth, height: video.videoHeight };
    const prev = this.lastDimensions;
    this.lastDimensions = next;
    if (prev && (prev.width !== next.width || prev.height !== next.height)) {
      this.emit('videoDimensionsChanged', { oldValue: prev, newValue: next });
    }
  }

  private async setAudio(value: boolean): Promise<void> {
    const on = !!value;
    this.audioOn = on;
    if (this.widget && !this.audioBlocked) this.widget.video.muted = !on;
    await this.sendSubscription({ audio: on });
  }

  private async setVideo(value: boolean): Promise<void> {
    const on = !!value;
    if (on === this.videoOn) return;
    this.videoOn = on;
    this.widget?.setAudioOnly(!(on && this.stream.hasVideo && !this.qualityOff));
    this.applyRelayedVideo();
    if (this.stream.hasVideo) this.emit(on ? 'videoEnabled' : 'videoDisabled', { reason: 'subscribeToVideo' });
    await this.sendSubscription({ video: on });
  }

  /** Relayed: the publisher keeps sending; what is not wanted is not played. */
  private applyRelayedVideo() {
    if (!this.link) return;
    for (const t of this.mediaStream.getVideoTracks()) t.enabled = this.videoOn;
  }

  private async sendSubscription(change: { audio?: boolean; video?: boolean }) {
    if (!this.subscriptionId || this.status === 'ended' || !this.session._isConnected()) return;
    await this.session._request({ type: 'setSubscription', subscriptionId: this.subscriptionId, ...change });
  }

  private applyVolume(value: number) {
    this.volume = clampVolume(value);
    if (this.widget) this.widget.video.volume = this.volume / 100;
  }

  /** @internal What this subscription receives, for the server's `stats` (none before it is set up). */
  async _upstreamStats(): Promise<WireStatsReport[]> {
    const id = this.subscriptionId;
    if (!this.pc || !id || this.status !== 'started') return [];
    return upstreamReports(await this.pc.getStats(), { subscriptionId: id }, this.upstream);
  }

  private async report(): Promise<RTCStatsReport> {
    if (!this.pc) {
      throw otError('OT_PEER_CONNECTION_NOT_CONNECTED', 'the subscriber is not connected', ExceptionCodes.PEER_CONNECTION_NOT_CONNECTED);
    }
    return this.pc.getStats();
  }

  private closePeer() {
    this.levels.stop();
    this.pc?.close();
    this.pc = undefined;
    this.link = undefined;
  }
}

function clampVolume(v: number): number {
  const n = Number(v);
  return Number.isFinite(n) ? Math.max(0, Math.min(100, n)) : 100;
}

function isSize(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= 8192;
}
