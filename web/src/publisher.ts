// A Publisher: local camera/microphone/screen media, shown in its own element, published to
// a session over its own peer connection (sendonly offer → the router's answer).

import { LevelMonitor, LocalAudioMeter } from './audio-level';
import { ExceptionCodes, OTError, asOTError, otError } from './errors';
import type { PublisherEventMap } from './event-types';
import { EventEmitter } from './events';
import { logger } from './log';
import type { P2pSignalMessage, WireStatsReport } from './protocol';
import { PeerLink } from './p2p';
import { type Layer, applyNeeded, cameraLayers, sendEncodings } from './simulcast';
import { type UpstreamMemory, upstreamReports } from './upstream-stats';
import { type CaptureOptions, type Captured, capture, isScreenSource, listDevices } from './media';
import type { Dimensions, Stream } from './model';
import type { StreamReason, VideoType, WireDimensions } from './protocol';
import type { Session } from './session';
import {
  type PublisherRtcStatsReportContainer,
  type PublisherStatContainer,
  audioLevelOf,
  publisherStats,
} from './stats';
import { type Callback, complete, deferred, type Deferred, uniqueId, withTimeout } from './util';
import { Widget, type WidgetProperties, type WidgetStyle, resolveTarget } from './widget';

/** How long a published stream may take to be announced (the router allows 20 s for ICE/DTLS). */
const ANNOUNCE_TIMEOUT_MS = 25_000;
/** How long to wait for getUserMedia before telling the app a permission dialog is open. */
const ACCESS_DIALOG_MS = 500;

export interface PublisherProperties extends WidgetProperties, CaptureOptions {
  /** The stream's name, shown to the others. */
  name?: string;
  publishAudio?: boolean;
  publishVideo?: boolean;
  /** Mirror the local preview (default: true for a camera, false for a screen). */
  mirror?: boolean;
  /** Target Opus bitrate, bits per second. */
  audioBitrate?: number;
  enableDtx?: boolean;
  enableStereo?: boolean;
  videoContentHint?: '' | 'motion' | 'detail' | 'text';
  /**
   * The video codecs to prefer, in order (`'vp8'`, `'h264'`; case-insensitive), or
   * `'automatic'` (the default: the browser's order, VP8 first in Chromium). A preference,
   * not a restriction: the others stay offered. Codecs Parlor's router does not forward
   * (VP9, AV1) are ignored.
   */
  preferredVideoCodecs?: 'automatic' | string[];
  /**
   * Send a camera's video in simulcast layers (OpenTok's property; default true): up to
   * three sizes by the capture size (two from 640×360, three from 960×540), of which the
   * router forwards each subscriber the one it prefers. Screens send one layer.
   */
  scalableVideo?: boolean;
  style?: WidgetStyle;
}

/** The video codecs the router forwards, by the names `preferredVideoCodecs` takes. */
const ROUTED_CODECS: Record<string, string> = { vp8: 'video/vp8', h264: 'video/h264' };

/** Orders a video transceiver's codecs by `preferred` (the rest keep the browser's order). */
function preferCodecs(transceiver: RTCRtpTransceiver, preferred: PublisherProperties['preferredVideoCodecs']) {
  if (!Array.isArray(preferred) || typeof transceiver.setCodecPreferences !== 'function') return;
  const mimes = preferred.map((c) => ROUTED_CODECS[String(c).toLowerCase()]).filter((m): m is string => !!m);
  const codecs = RTCRtpReceiver.getCapabilities('video')?.codecs ?? [];
  if (!mimes.length || !codecs.length) return;
  const rank = (c: RTCRtpCodec) => {
    const i = mimes.indexOf(c.mimeType.toLowerCase());
    return i < 0 ? mimes.length : i;
  };
  // A stable sort: within one codec, the browser's profile order stays.
  transceiver.setCodecPreferences([...codecs].sort((a, b) => rank(a) - rank(b)));
}

type Toggle = ((value: boolean) => Publisher) & { promise(value: boolean): Promise<void> };

export class Publisher extends EventEmitter<PublisherEventMap> {
  readonly id: string;
  /** The element holding the video, or undefined with `insertDefaultUI: false` or once destroyed. */
  element: HTMLElement | undefined;
  /** The published stream, once the session has announced it. */
  stream: Stream | undefined;
  /** The session this publisher publishes to. */
  session: Session | undefined;
  /** Whether the user allowed camera/microphone access. */
  accessAllowed = false;

  /** Starts (true) or stops (false) publishing audio; `.promise(value)` waits for the server. */
  readonly publishAudio: Toggle;
  /** Starts (true) or stops (false) publishing video; `.promise(value)` waits for the server. */
  readonly publishVideo: Toggle;
  /** Unpublishes, stops the media and removes the element. */
  readonly destroy: (() => Publisher) & { promise(): Promise<void> };

  private readonly props: PublisherProperties;
  private widget?: Widget;
  private captured?: Captured;
  /** Resolves once media is captured. */
  private readonly ready: Promise<void>;
  private pc?: RTCPeerConnection;
  /** The simulcast layers sent to the router (empty: one layer). */
  private layers: Layer[] = [];
  /** Relayed sessions: one peer connection per subscription (its subscriber's connection). */
  private readonly peers = new Map<string, { link: PeerLink; connectionId: string }>();
  private streamId?: string;
  private readonly upstream: UpstreamMemory = new Map();
  private announced?: Deferred<Stream>;
  private audioOn: boolean;
  private videoOn: boolean;
  private destroyed = false;
  private unpublishing = false;
  private style: WidgetStyle;
  private readonly levels: LevelMonitor;
  private meter?: LocalAudioMeter;
  private lastDimensions?: Dimensions;
  /** Tracks the app passed in (sources, setAudioSource/setVideoSource): never stopped here. */
  private readonly appTracks = new Set<MediaStreamTrack>();

  /** @internal Use OT.initPublisher. */
  constructor(
    target: HTMLElement | string | null | undefined,
    properties: PublisherProperties | undefined,
    completion: Callback | undefined,
    private readonly onException: (error: OTError, target: unknown) => void,
  ) {
    super();
    this.id = uniqueId('OT_publisher');
    this.props = { ...properties };
    for (const source of [this.props.audioSource, this.props.videoSource]) {
      if (source instanceof MediaStreamTrack) this.appTracks.add(source);
    }
    this.style = { ...this.props.style };
    this.audioOn = this.props.publishAudio !== false;
    this.videoOn = this.props.publishVideo !== false;

    const publishAudio = (value: boolean) => {
      void this.setAudio(value).catch((e) => logger.warn('publishAudio:', e.message));
      return this;
    };
    const publishVideo = (value: boolean, callback?: Callback) => {
      const done = this.setVideo(value);
      if (callback) void complete(done, callback);
      else done.catch((e) => logger.warn('publishVideo:', e.message));
      return this;
    };
    this.publishAudio = Object.assign(publishAudio, { promise: (v: boolean) => this.setAudio(v) });
    this.publishVideo = Object.assign(publishVideo, { promise: (v: boolean) => this.setVideo(v) });
    this.destroy = Object.assign(
      () => {
        this.teardown('destroyed');
        return this;
      },
      {
        promise: async () => {
          this.teardown('destroyed');
        },
      },
    );

    this.levels = new LevelMonitor(
      () => this.sampleLevel(),
      () => this.audioOn && !!this.captured?.audioTrack && (this.hasListeners('audioLevelUpdated') || !!this.session?._wantsSpeaking()),
      (audioLevel) => this.emit('audioLevelUpdated', { audioLevel }),
      () => this.session?._stateChanged('speaking'),
    );

    const resolved = resolveTarget(target);
    if (resolved instanceof OTError) {
      this.ready = Promise.reject(resolved);
    } else {
      if (this.props.insertDefaultUI !== false) {
        this.widget = new Widget('publisher', resolved, this.props, this.id);
        this.element = this.widget.root;
        this.widget.setName(this.props.name ?? '');
        this.widget.setMirror(this.props.mirror ?? !isScreenSource(this.props.videoSource));
        this.widget.setAudioOnly(!this.videoOn);
      }
      this.ready = this.acquire();
    }
    this.ready.catch(() => undefined);
    void complete(this.ready, completion).catch((e: OTError) => {
      this.onException(e, this);
      this.teardown('mediaFailed');
    });
  }

  /** The width of the captured video, in pixels. */
  videoWidth(): number | undefined {
    return this.widget?.video.videoWidth || this.captured?.videoTrack?.getSettings().width;
  }

  videoHeight(): number | undefined {
    return this.widget?.video.videoHeight || this.captured?.videoTrack?.getSettings().height;
  }

  /**
   * OpenTok.js-style stats: in a routed session one entry (the connection to the server); in a
   * relayed session one per subscriber, with its `connectionId` and `subscriberId`.
   */
  getStats(callback?: (error?: OTError, stats?: PublisherStatContainer[]) => void): Promise<PublisherStatContainer[]> {
    return complete(
      this.reports().then((list) => list.map(({ rtcStatsReport, ...who }) => ({ ...who, stats: publisherStats(rtcStatsReport) }))),
      callback,
    );
  }

  /** The browser's RTCStatsReport of each of the publisher's peer connections. */
  getRtcStatsReport(): Promise<PublisherRtcStatsReportContainer[]> {
    return this.reports();
  }

  /** The current video frame as a base64 PNG (no `data:` prefix), or null. */
  getImgData(): string | null {
    return snapshot(this.widget?.video);
  }

  getStyle(): WidgetStyle {
    return { ...this.style };
  }

  setStyle(style: keyof WidgetStyle | WidgetStyle, value?: string): this {
    const next = typeof style === 'string' ? { [style]: value } : style;
    this.style = { ...this.style, ...next };
    if (this.widget && this.style.nameDisplayMode) {
      const root = this.widget.root;
      root.classList.remove('OT_name-auto', 'OT_name-on', 'OT_name-off');
      root.classList.add(`OT_name-${this.style.nameDisplayMode}`);
    }
    return this;
  }

  getVideoSource(): { deviceId: string | null; type: 'camera' | 'screen' | 'custom' | null; track: MediaStreamTrack | null } {
    const track = this.captured?.videoTrack ?? null;
    return {
      deviceId: track?.getSettings().deviceId ?? null,
      type: track ? this.videoType() : null,
      track,
    };
  }

  getAudioSource(): MediaStreamTrack | null {
    return this.captured?.audioTrack ?? null;
  }

  /** Switches to the next camera. */
  async cycleVideo(): Promise<{ deviceId: string }> {
    await this.ready;
    const cams = (await listDevices()).filter((d) => d.kind === 'videoInput');
    const current = this.captured?.videoTrack?.getSettings().deviceId;
    if (!cams.length || this.videoType() !== 'camera') {
      throw otError('OT_NOT_SUPPORTED', 'there is no other camera to switch to', ExceptionCodes.UNABLE_TO_PUBLISH);
    }
    const next = cams[(cams.findIndex((c) => c.deviceId === current) + 1) % cams.length]!;
    await this.setVideoSource(next.deviceId);
    return { deviceId: next.deviceId };
  }

  /**
   * Switches the camera to the device with this id, or the video to a track the app brings
   * (which stays the app's to stop).
   */
  async setVideoSource(source: string | MediaStreamTrack): Promise<void> {
    await this.ready;
    if (source instanceof MediaStreamTrack) {
      if (!this.captured?.videoTrack) {
        throw otError('OT_NOT_SUPPORTED', 'this publisher has no video', ExceptionCodes.UNABLE_TO_PUBLISH);
      }
      this.appTracks.add(source);
      await this.replaceTrack('video', source);
      return;
    }
    if (this.videoType() !== 'camera') {
      throw otError('OT_NOT_SUPPORTED', 'setVideoSource works on camera publishers only', ExceptionCodes.UNABLE_TO_PUBLISH);
    }
    const { videoTrack } = await capture({ ...this.props, audioSource: null, videoSource: source });
    await this.replaceTrack('video', videoTrack!);
  }

  /** Switches the microphone to a device id or a track. */
  async setAudioSource(source: string | MediaStreamTrack): Promise<void> {
    await this.ready;
    if (!this.captured?.audioTrack) {
      throw otError('OT_NOT_SUPPORTED', 'this publisher has no audio', ExceptionCodes.UNABLE_TO_PUBLISH);
    }
    const track = typeof source === 'string' ? (await capture({ ...this.props, videoSource: null, audioSource: source })).audioTrack! : source;
    if (track === source) this.appTracks.add(track);
    await this.replaceTrack('audio', track);
  }

  /** Parlor does not use simulcast; accepted for compatibility. */
  async setPreferredResolution(_resolution: Dimensions): Promise<void> {}

  async setPreferredFrameRate(_frameRate: number): Promise<void> {}

  // ----- internal, driven by Session -----

  /** @internal Publishes to `session`; resolves once the server announced the stream. */
  async _publish(session: Session): Promise<void> {
    if (this.destroyed) throw otError('OT_INVALID_PARAMETER', 'this publisher was destroyed', ExceptionCodes.UNABLE_TO_PUBLISH);
    if (this.session) {
      if (this.session === session) return this.announced?.promise.then(() => undefined);
      throw otError('OT_INVALID_PARAMETER', 'this publisher is already publishing to another session', ExceptionCodes.UNABLE_TO_PUBLISH);
    }
    this.session = session;
    this.unpublishing = false;
    try {
      await this.ready;
      await this.negotiate(session);
    } catch (e) {
      const error = asOTError(e, 'OT_STREAM_CREATE_FAILED', ExceptionCodes.UNABLE_TO_PUBLISH);
      this.abandon(session);
      throw error;
    }
  }

  private async negotiate(session: Session) {
    if (session._isRelayed()) return this.negotiateRelayed(session);
    const cap = this.captured!;
    const pc = new RTCPeerConnection(await session._rtcConfiguration());
    this.pc = pc;
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'failed' && this.announced && !this.announced.settled) {
        this.announced.reject(otError('OT_ICE_WORKFLOW_FAILED', 'the media connection to the server failed', ExceptionCodes.PUBLISHER_ICE_WORKFLOW_FAILED));
      }
    });
    this.layers = this.simulcastLayers();
    for (const track of [cap.audioTrack, cap.videoTrack]) {
      if (!track) continue;
      const init: RTCRtpTransceiverInit = { direction: 'sendonly', streams: [cap.stream] };
      if (track.kind === 'video' && this.layers.length) init.sendEncodings = sendEncodings(this.layers);
      const transceiver = pc.addTransceiver(track, init);
      if (track.kind === 'video') preferCodecs(transceiver, this.props.preferredVideoCodecs);
    }
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const { reply, neither } = await this.requestPublish(session, offer.sdp!);
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp: reply.sdp });
    } catch (e) {
      throw otError('OT_SET_REMOTE_DESCRIPTION_FAILED', `the server's answer was refused: ${(e as Error).message}`, ExceptionCodes.UNABLE_TO_PUBLISH);
    }
    await this.applyBitrate(pc);
    await this.awaitAnnounced(session, neither);
  }

  /** @internal After a resumed connection: new ICE credentials, in case the network path
   *  changed (the media connection itself, DTLS and all, is kept). */
  async _restartIce(): Promise<void> {
    const pc = this.pc;
    const session = this.session;
    if (!pc || !session || !this.streamId || pc.signalingState !== 'stable') return;
    try {
      const offer = await pc.createOffer({ iceRestart: true });
      await pc.setLocalDescription(offer);
      const reply = await session._request({ type: 'restartIce', streamId: this.streamId, sdp: offer.sdp! });
      await pc.setRemoteDescription({ type: 'answer', sdp: reply.sdp });
    } catch (e) {
      logger.warn('publisher: ICE restart failed:', (e as Error).message);
    }
  }

  /** Relayed: the stream is registered and announced at once; media goes to each subscriber
   *  over its own peer connection, set up when its offer comes ({@link _onP2pSignal}). */
  private async negotiateRelayed(session: Session) {
    const { neither } = await this.requestPublish(session, '');
    await this.awaitAnnounced(session, neither);
  }

  /** Asks the server to publish (with the SDP offer, or none in a relayed session) and
   *  registers the stream it names. `neither`: announced with a track it turns off next. */
  private async requestPublish(session: Session, sdp: string) {
    const cap = this.captured!;
    const hasAudio = !!cap.audioTrack && this.audioOn;
    const hasVideo = !!cap.videoTrack && this.videoOn;
    // The server refuses a stream announced with neither: announce the track there is, and
    // turn it off right after.
    const neither = !hasAudio && !hasVideo;
    this.announced = deferred<Stream>();
    const reply = await session._request(
      {
        type: 'publish',
        name: this.props.name ?? '',
        hasAudio: neither ? !cap.videoTrack : hasAudio,
        hasVideo: neither ? !!cap.videoTrack : hasVideo,
        videoType: this.videoType(),
        videoDimensions: this.dimensions() ?? null,
        ...(sdp && this.layers.length
          ? { simulcast: this.layers.map((l) => ({ width: l.width, height: l.height, ...(l.frameRate ? { maxFrameRate: l.frameRate } : {}) })) }
          : {}),
        sdp,
      },
      'publish',
    );
    this.streamId = reply.streamId;
    if (this.destroyed || this.session !== session) {
      throw otError('OT_CANCEL', 'the publisher was unpublished while publishing', ExceptionCodes.UNABLE_TO_PUBLISH);
    }
    session._registerPublisher(reply.streamId, this);
    return { reply, neither };
  }

  /** Waits for the server's `streamCreated` of our stream, then tells the app. */
  private async awaitAnnounced(session: Session, neither: boolean) {
    if (neither) void this.sendProperty({ hasAudio: false, hasVideo: false }).catch(() => undefined);
    const stream = await withTimeout(this.announced!.promise, ANNOUNCE_TIMEOUT_MS, 'publishing', 'OT_TIMEOUT', ExceptionCodes.UNABLE_TO_PUBLISH);
    this.stream = stream;
    stream.frameRate = this.props.frameRate;
    this.emit('streamCreated', { stream });
    session._stateChanged('published');
    this.levels.start();
  }

  /** @internal Relayed: a subscriber's offer or candidate for its peer connection. */
  _onP2pSignal(msg: P2pSignalMessage): void {
    if (msg.streamId !== this.streamId) return;
    if (msg.kind === 'offer' && msg.sdp) {
      this.answerSubscriber(msg.from, msg.subscriptionId, msg.sdp).catch((e: Error) => {
        logger.warn(`relayed subscriber ${msg.subscriptionId}: ${e.message}`);
        this._onPeerEnded(msg.subscriptionId);
      });
    } else if (msg.kind === 'candidate' && msg.candidate) {
      void this.peers.get(msg.subscriptionId)?.link.remoteCandidate(msg.candidate);
    }
  }

  /** @internal Relayed: a subscription to our stream ended; close its peer connection. */
  _onPeerEnded(subscriptionId: string): void {
    const peer = this.peers.get(subscriptionId);
    if (!peer) return;
    this.peers.delete(subscriptionId);
    peer.link.pc.close();
  }

  private async answerSubscriber(connectionId: string, subscriptionId: string, sdp: string) {
    const session = this.session;
    const cap = this.captured;
    if (!session || !cap || !this.streamId || this.peers.has(subscriptionId)) return;
    const pc = new RTCPeerConnection(await session._rtcConfiguration());
    const link = new PeerLink(pc, session);
    link.route = { to: connectionId, streamId: this.streamId, subscriptionId };
    this.peers.set(subscriptionId, { link, connectionId });
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'failed') logger.warn(`the peer connection to subscriber ${subscriptionId} failed`);
    });
    await link.setRemote({ type: 'offer', sdp });
    if (this.peers.get(subscriptionId)?.link !== link) return; // ended meanwhile
    for (const t of pc.getTransceivers()) {
      const kind = t.receiver.track.kind;
      const track = kind === 'audio' ? cap.audioTrack : kind === 'video' ? cap.videoTrack : undefined;
      if (track) {
        await t.sender.replaceTrack(track);
        t.sender.setStreams?.(cap.stream);
        t.direction = 'sendonly';
      } else {
        t.direction = 'inactive';
      }
    }
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    await this.applyBitrate(pc);
    await link.sendDescription('answer', answer.sdp!);
  }

  /** The simulcast layers for the captured camera (none for a screen, with
   *  `scalableVideo: false`, or below 640×360). */
  private simulcastLayers(): Layer[] {
    const cap = this.captured;
    if (!cap?.videoTrack || cap.screen || this.props.scalableVideo === false) return [];
    const s = cap.videoTrack.getSettings();
    if (!s.width || !s.height) return [];
    return cameraLayers(s.width, s.height, s.frameRate);
  }

  /** @internal The router needs only our lowest `layers` layers: pause the others. */
  _onLayersNeeded(layers: number): void {
    const sender = this.pc?.getSenders().find((s) => s.track?.kind === 'video');
    if (!sender || this.layers.length < 2) return;
    const params = sender.getParameters();
    if (!params.encodings?.length || !applyNeeded(params.encodings, layers)) return;
    sender.setParameters(params).catch((e: Error) => logger.warn('publisher: pausing layers:', e.message));
  }

  /** @internal The server announced our stream (media is up). */
  _onStreamCreated(stream: Stream): void {
    this.announced?.resolve(stream);
  }

  /** @internal Our stream ended on the server (unpublish, forceUnpublish, media failure, leaving). */
  _onStreamDestroyed(reason: StreamReason | 'unpublished', stream: Stream | undefined): void {
    const session = this.session;
    if (this.announced && !this.announced.settled) {
      this.announced.reject(otError('OT_ICE_WORKFLOW_FAILED', `the stream ended before it was announced (${reason})`, ExceptionCodes.PUBLISHER_ICE_WORKFLOW_FAILED));
      return;
    }
    this.closePeer();
    if (session) session._unregisterPublisher(this);
    this.session = undefined;
    this.streamId = undefined;
    if (this.destroyed) return;
    const ended = stream ?? this.stream;
    if (this.unpublishing && reason === 'clientDisconnected') reason = 'unpublished';
    this.unpublishing = false;
    const event = this.emit('streamDestroyed', { stream: ended, reason }, true);
    this.stream = undefined;
    if (!event.isDefaultPrevented()) this.teardown(reason);
    session?._stateChanged('unpublished');
  }

  /** @internal A moderator muted our audio. */
  _onMuteForced(): void {
    this.audioOn = false;
    if (this.captured?.audioTrack) this.captured.audioTrack.enabled = false;
    this.emit('muteForced', {});
  }

  /** @internal Asks the server to stop our stream; its `streamDestroyed` does the rest. */
  _unpublish(): void {
    const session = this.session;
    if (!session) return;
    this.unpublishing = true;
    if (this.streamId && session._isConnected()) {
      const streamId = this.streamId;
      session._request({ type: 'unpublish', streamId }).catch((e: OTError) => {
        logger.warn(`unpublish: ${e.message}`);
        this._onStreamDestroyed('unpublished', undefined);
      });
    } else {
      this._onStreamDestroyed('unpublished', undefined);
    }
  }

  /** @internal The session ended: the stream is gone with it. */
  _onSessionEnded(reason: StreamReason): void {
    if (this.announced && !this.announced.settled) {
      this.announced.reject(otError('OT_NOT_CONNECTED', 'the session ended while publishing', ExceptionCodes.NOT_CONNECTED));
    }
    if (this.session) this._onStreamDestroyed(reason, undefined);
  }

  /** @internal */
  _isSpeaking(): boolean {
    return this.levels.speaking;
  }

  /** @internal */
  _isPublishing(): boolean {
    return !!this.stream && this.pc?.connectionState !== 'failed';
  }

  // ----- private -----

  private async acquire(): Promise<void> {
    let dialogOpen = false;
    const dialogTimer = setTimeout(() => {
      dialogOpen = true;
      this.emit('accessDialogOpened', {});
    }, ACCESS_DIALOG_MS);
    let captured: Captured;
    try {
      captured = await capture(this.props);
    } catch (e) {
      const error = asOTError(e, 'OT_UNABLE_TO_CAPTURE_MEDIA', ExceptionCodes.UNABLE_TO_PUBLISH);
      if (error.name === 'OT_USER_MEDIA_ACCESS_DENIED') this.emit('accessDenied', { message: error.message });
      throw error;
    } finally {
      clearTimeout(dialogTimer);
      if (dialogOpen) this.emit('accessDialogClosed', {});
    }
    if (this.destroyed) {
      this.stopTracks(captured);
      throw otError('OT_INVALID_PARAMETER', 'the publisher was destroyed while capturing', ExceptionCodes.UNABLE_TO_PUBLISH);
    }
    this.captured = captured;
    this.accessAllowed = true;
    if (captured.audioTrack) {
      captured.audioTrack.enabled = this.audioOn;
      this.meter = new LocalAudioMeter(captured.audioTrack);
    }
    if (captured.videoTrack) {
      captured.videoTrack.enabled = this.videoOn;
      if (this.props.videoContentHint !== undefined) captured.videoTrack.contentHint = this.props.videoContentHint;
      else if (captured.screen) captured.videoTrack.contentHint = 'detail';
    } else {
      this.widget?.setAudioOnly(true);
    }
    for (const track of captured.stream.getTracks()) {
      track.addEventListener('ended', () => this.onTrackEnded(track));
    }
    this.emit('accessAllowed', {});
    if (this.widget) {
      const video = this.widget.video;
      video.addEventListener('resize', () => this.onResize());
      this.widget.attach(captured.stream);
      video.play().catch(() => undefined);
      this.emit('videoElementCreated', { element: video });
    }
    this.emit('mediaStreamAvailable', { mediaStream: captured.stream });
    this.levels.start();
  }

  private videoType(): VideoType {
    if (this.props.videoSource instanceof MediaStreamTrack) return 'custom';
    return this.captured?.screen || isScreenSource(this.props.videoSource) ? 'screen' : 'camera';
  }

  private dimensions(): WireDimensions | undefined {
    const s = this.captured?.videoTrack?.getSettings();
    const w = this.widget?.video.videoWidth || s?.width;
    const h = this.widget?.video.videoHeight || s?.height;
    return w && h ? { width: w, height: h } : undefined;
  }

  private async setAudio(value: boolean): Promise<void> {
    const on = !!value;
    this.audioOn = on;
    if (this.captured?.audioTrack) this.captured.audioTrack.enabled = on;
    if (this.streamId && this.stream?.hasAudio !== on) await this.sendProperty({ hasAudio: on });
    this.session?._stateChanged('publishAudio');
  }

  private async setVideo(value: boolean): Promise<void> {
    const on = !!value;
    this.videoOn = on;
    if (this.captured?.videoTrack) this.captured.videoTrack.enabled = on;
    this.widget?.setAudioOnly(!on || !this.captured?.videoTrack);
    if (this.streamId && this.stream?.hasVideo !== on) await this.sendProperty({ hasVideo: on });
    this.session?._stateChanged('publishVideo');
  }

  private async sendProperty(p: { hasAudio?: boolean; hasVideo?: boolean; videoDimensions?: WireDimensions }) {
    const session = this.session;
    if (!session || !this.streamId || !session._isConnected()) return;
    await session._request({ type: 'setStreamProperty', streamId: this.streamId, ...p });
  }

  private onResize() {
    const video = this.widget?.video;
    if (!video || !video.videoWidth) return;
    const next = { width: video.videoWidth, height: video.videoHeight };
    const prev = this.lastDimensions;
    this.lastDimensions = next;
    if (!prev || (prev.width === next.width && prev.height === next.height)) return;
    this.emit('videoDimensionsChanged', { oldValue: prev, newValue: next });
    if (this.stream) void this.sendProperty({ videoDimensions: next }).catch(() => undefined);
  }

  private onTrackEnded(track: MediaStreamTrack) {
    if (this.destroyed) return;
    const event = this.emit('mediaStopped', { track }, true);
    if (event.isDefaultPrevented()) return;
    this.teardown('mediaStopped'); // unpublishes (once) if published
  }

  private async replaceTrack(kind: 'audio' | 'video', track: MediaStreamTrack) {
    const cap = this.captured!;
    const old = kind === 'audio' ? cap.audioTrack : cap.videoTrack;
    for (const pc of this.peerConnections()) {
      const sender = pc.getSenders().find((s) => s.track?.kind === kind);
      if (sender) await sender.replaceTrack(track);
    }
    track.enabled = kind === 'audio' ? this.audioOn : this.videoOn;
    if (old) {
      cap.stream.removeTrack(old);
      if (!this.appTracks.has(old)) old.stop();
    }
    cap.stream.addTrack(track);
    track.addEventListener('ended', () => this.onTrackEnded(track));
    if (kind === 'audio') {
      cap.audioTrack = track;
      this.meter?.close();
      this.meter = new LocalAudioMeter(track);
    } else {
      cap.videoTrack = track;
    }
  }

  private async applyBitrate(pc: RTCPeerConnection) {
    if (!this.props.audioBitrate) return;
    const sender = pc.getSenders().find((s) => s.track?.kind === 'audio');
    if (!sender) return;
    const params = sender.getParameters();
    if (!params.encodings?.length) return;
    params.encodings[0]!.maxBitrate = this.props.audioBitrate;
    await sender.setParameters(params).catch(() => undefined);
  }

  private async sampleLevel(): Promise<number | undefined> {
    const level = this.meter?.level();
    if (level !== undefined) return level;
    const pc = this.peerConnections()[0];
    if (!pc) return undefined;
    return audioLevelOf(await pc.getStats(), 'media-source');
  }

  /** @internal What this publisher sends, for the server's `stats` (none before it publishes). */
  async _upstreamStats(): Promise<WireStatsReport[]> {
    const streamId = this.streamId;
    // Relayed: the first subscriber's connection stands for the stream.
    const pc = this.peerConnections()[0];
    if (!pc || !streamId) return [];
    return upstreamReports(await pc.getStats(), { streamId }, this.upstream);
  }

  /** The publisher's peer connections: the one to the server, or (relayed) one per subscriber. */
  private peerConnections(): RTCPeerConnection[] {
    return [...(this.pc ? [this.pc] : []), ...[...this.peers.values()].map((p) => p.link.pc)];
  }

  private async reports(): Promise<PublisherRtcStatsReportContainer[]> {
    if (this.pc) return [{ rtcStatsReport: await this.pc.getStats() }];
    if (!this.streamId) {
      throw otError('OT_PEER_CONNECTION_NOT_CONNECTED', 'the publisher is not publishing', ExceptionCodes.PEER_CONNECTION_NOT_CONNECTED);
    }
    return Promise.all(
      [...this.peers].map(async ([subscriberId, p]) => ({ subscriberId, connectionId: p.connectionId, rtcStatsReport: await p.link.pc.getStats() })),
    );
  }

  /** Undoes a failed publish attempt. */
  private abandon(session: Session) {
    if (this.streamId && session._isConnected()) {
      session._request({ type: 'unpublish', streamId: this.streamId }).catch(() => undefined);
    }
    session._unregisterPublisher(this);
    this.closePeer();
    this.streamId = undefined;
    this.session = undefined;
    this.announced = undefined;
  }

  private closePeer() {
    this.levels.stop();
    this.pc?.close();
    this.pc = undefined;
    this.closeRelayedPeers();
    if (this.captured && !this.destroyed) this.levels.start();
  }

  private closeRelayedPeers() {
    for (const p of this.peers.values()) p.link.pc.close();
    this.peers.clear();
  }

  private stopTracks(captured: Captured) {
    for (const track of captured.stream.getTracks()) {
      // Tracks the app passed in are the app's to stop.
      if (!this.appTracks.has(track)) track.stop();
    }
  }

  private teardown(reason: string) {
    if (this.destroyed) return;
    this.destroyed = true;
    const session = this.session;
    if (session) {
      this._unpublish();
      session._unregisterPublisher(this);
      this.session = undefined;
    }
    this.levels.stop();
    this.meter?.close();
    this.pc?.close();
    this.pc = undefined;
    this.closeRelayedPeers();
    if (this.captured) this.stopTracks(this.captured);
    this.widget?.destroy();
    this.widget = undefined;
    this.element = undefined;
    this.emit('destroyed', { reason });
  }
}

/** A video element's current frame as base64 PNG. */
export function snapshot(video: HTMLVideoElement | undefined): string | null {
  if (!video || !video.videoWidth) return null;
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d')?.drawImage(video, 0, 0);
  return canvas.toDataURL('image/png').replace(/^data:image\/png;base64,/, '');
}
