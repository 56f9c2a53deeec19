// The wire vocabulary of Parlor's signaling protocol, version 1 (docs/protocol.md): JSON
// text frames over a WebSocket at /v1/rtc. Field names are exactly the server's.

/** The protocol version this SDK speaks. */
export const PROTOCOL_VERSION = 1;

export type Role = 'publisher' | 'subscriber' | 'moderator' | 'publisheronly';
export type VideoType = 'camera' | 'screen' | 'custom';
export type ConnectionReason = 'clientDisconnected' | 'forceDisconnected' | 'networkDisconnected';
export type StreamReason = ConnectionReason | 'forceUnpublished' | 'mediaStopped';
/**
 * A Rooms participant's finer reason for leaving, when the server removed it
 * (`disconnected.detail`, `connectionDestroyed.detail`).
 */
export type DisconnectDetail = 'kicked' | 'session_terminated' | 'token_expired';

export interface WireDimensions {
  width: number;
  height: number;
}

export interface WireConnection {
  connectionId: string;
  creationTime: number;
  data: string;
}

export interface WireStream {
  streamId: string;
  connection: WireConnection;
  name: string;
  hasAudio: boolean;
  hasVideo: boolean;
  videoType: VideoType;
  videoDimensions: WireDimensions | null;
  creationTime: number;
}

export interface WireCapabilities {
  publish: boolean;
  subscribe: boolean;
  signal: boolean;
  forceDisconnect: boolean;
  forceUnpublish: boolean;
  forceMute: boolean;
}

export type ErrorCode =
  | 'badRequest'
  | 'authFailed'
  | 'notConnected'
  | 'permissionDenied'
  | 'notFound'
  | 'limitExceeded'
  | 'mediaError'
  | 'internal';

export interface ConnectedMessage {
  type: 'connected';
  version: number;
  sessionId: string;
  connection: WireConnection;
  role: Role;
  capabilities: WireCapabilities;
  connections: WireConnection[];
  streams: WireStream[];
  /** How often the server wants `stats` reports, in ms; 0: none. */
  statsInterval?: number;
  /** The server's STUN/TURN servers, TURN credentials minted for this connection; absent: none. */
  iceServers?: WireIceServer[];
  /** The session is relayed: media goes peer to peer (`p2pSignal`); absent: routed. */
  relayed?: boolean;
  /** How to resume this connection after a network failure (asked with `connect.reconnect`). */
  resume?: { token: string; graceMs: number };
}

/** The reply to `resume`: the connection is ours again; `heard` client messages reached the server. */
export interface ResumedMessage {
  type: 'resumed';
  connectionId: string;
  heard: number;
}

/** What a `p2pSignal` carries. */
export type P2pKind = 'offer' | 'answer' | 'candidate';

/** An ICE candidate (RTCIceCandidateInit without usernameFragment). */
export interface WireCandidate {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}

/** A STUN or TURN server (RTCIceServer). */
export interface WireIceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

/** One kind of media of a published stream or a subscription, as the browser measures it. */
export interface WireStatsReport {
  streamId?: string;
  subscriptionId?: string;
  media: 'audio' | 'video';
  fps?: number;
  width?: number;
  height?: number;
  freezes?: number;
  freezeMs?: number;
  concealed?: number;
  qualityLimitation?: 'none' | 'cpu' | 'bandwidth' | 'other';
  candidateType?: 'host' | 'srflx' | 'prflx' | 'relay';
  protocol?: 'udp' | 'tcp';
  rttMs?: number;
}

export interface ErrorMessage {
  type: 'error';
  id: string | null;
  code: ErrorCode;
  reason: string | null;
  message: string;
}

/** Replies, routed to the request with the same `id`. */
export type ReplyMessage =
  | { type: 'ok'; id: string | null }
  | { type: 'pong'; id: string | null }
  | { type: 'published'; id: string | null; streamId: string; sdp: string }
  | { type: 'subscribed'; id: string | null; subscriptionId: string; sdp: string }
  | { type: 'iceRestarted'; id: string | null; sdp: string }
  | ErrorMessage;

/** Events: every server message without an `id`. */
export type EventMessage =
  | { type: 'connectionCreated'; connection: WireConnection }
  | { type: 'connectionDestroyed'; connection: WireConnection; reason: ConnectionReason; detail?: DisconnectDetail | string }
  | { type: 'streamCreated'; stream: WireStream }
  | { type: 'streamDestroyed'; stream: WireStream; reason: StreamReason }
  | {
      type: 'streamPropertyChanged';
      stream: WireStream;
      changedProperty: 'hasAudio' | 'hasVideo' | 'videoDimensions';
      oldValue: boolean | WireDimensions | null;
      newValue: boolean | WireDimensions | null;
    }
  | { type: 'signal'; signalType: string; data: string; from: WireConnection | null }
  | { type: 'muteForced'; streamId: string }
  /**
   * Rooms: the app server censored (`actions/mute`, true) or uncensored (`actions/unmute`,
   * false) a stream's audio; sent to every connection. A censored stream's owner also gets
   * `muteForced`, and its `setStreamProperty` hasAudio true is refused (reason `censored`).
   */
  | { type: 'audioCensored'; streamId: string; censored: boolean }
  | { type: 'speakers'; speaking: string[]; dominant: string | null }
  /** Of our simulcast stream, the lowest `layers` are needed; the rest may pause. */
  | { type: 'layersNeeded'; streamId: string; layers: number }
  | { type: 'archiveStarted'; id: string; name: string | null }
  | { type: 'archiveStopped'; id: string; name: string | null }
  | { type: 'subscriptionConnected'; subscriptionId: string }
  | { type: 'qualityScore'; subscriptionId: string; media: 'audio' | 'video'; score: number }
  /** The router's audio-only fallback for a subscription whose downlink is too narrow. */
  | { type: 'videoQuality'; subscriptionId: string; state: VideoQualityState }
  | { type: 'subscriptionEnded'; subscriptionId: string; streamId: string }
  | P2pSignalMessage
  | { type: 'disconnected'; reason: ConnectionReason; detail?: DisconnectDetail | string };

/**
 * A step of a subscription's audio-only fallback: `warning` (even the lowest video layer
 * does not fit the downlink), then `warningLifted` or `disabled` (video off, audio on), and
 * after `disabled`, `enabled`.
 */
export type VideoQualityState = 'warning' | 'warningLifted' | 'disabled' | 'enabled';

/** Relayed sessions: the other party's offer, answer or candidate. */
export interface P2pSignalMessage {
  type: 'p2pSignal';
  from: string;
  streamId: string;
  subscriptionId: string;
  kind: P2pKind;
  sdp?: string;
  candidate?: WireCandidate;
}

export type ServerMessage = ConnectedMessage | ResumedMessage | ReplyMessage | EventMessage;

/** A simulcast layer as `publish` describes it. */
export interface WireSimulcastLayer {
  width: number;
  height: number;
  maxFrameRate?: number;
}

/** Requests (client → server), without the `id` the channel adds. */
export type Request =
  | {
      type: 'publish';
      name: string;
      hasAudio: boolean;
      hasVideo: boolean;
      videoType: VideoType;
      videoDimensions: WireDimensions | null;
      /** Simulcast layers, lowest first (absent: one layer). */
      simulcast?: WireSimulcastLayer[];
      sdp: string;
    }
  | { type: 'unpublish'; streamId: string }
  | { type: 'subscribe'; streamId: string; audio: boolean; video: boolean; testNetwork?: boolean; sdp: string }
  | {
      type: 'setSubscription';
      subscriptionId: string;
      audio?: boolean;
      video?: boolean;
      /** `null` clears the preference. */
      preferredResolution?: WireDimensions | null;
      preferredFrameRate?: number | null;
    }
  | { type: 'unsubscribe'; subscriptionId: string }
  | {
      type: 'setStreamProperty';
      streamId: string;
      hasAudio?: boolean;
      hasVideo?: boolean;
      videoDimensions?: WireDimensions;
    }
  | { type: 'signal'; to?: string; signalType: string; data: string }
  | { type: 'forceDisconnect'; connectionId: string }
  | { type: 'forceUnpublish'; streamId: string }
  | { type: 'forceMuteStream'; streamId: string }
  | { type: 'forceMuteAll'; excludedStreamIds: string[] }
  | { type: 'p2pSignal'; to: string; streamId: string; subscriptionId: string; kind: P2pKind; sdp?: string; candidate?: WireCandidate }
  /** Rooms join tokens: replaces the connection's token with a refreshed one before it expires. */
  | { type: 'updateToken'; token: string }
  /** After a network failure: new ICE credentials for one of our peer connections. */
  | { type: 'restartIce'; streamId?: string; subscriptionId?: string; sdp: string }
  | { type: 'ping' };

/** Messages sent without an id: the server does not answer them. */
export type Notice = { type: 'stats'; reports: WireStatsReport[] };

/** The reply each request type gets on success. */
export type ReplyFor<R extends Request> = R['type'] extends 'publish'
  ? { type: 'published'; streamId: string; sdp: string }
  : R['type'] extends 'subscribe'
    ? { type: 'subscribed'; subscriptionId: string; sdp: string }
    : R['type'] extends 'ping'
      ? { type: 'pong' }
      : R['type'] extends 'restartIce'
        ? { type: 'iceRestarted'; sdp: string }
        : { type: 'ok' };

/** Limits the server enforces (docs/protocol.md §7), checked before sending. */
export const LIMITS = {
  signalTypeChars: 128,
  signalDataBytes: 8192,
  streamNameChars: 256,
  /** A Rooms participant's context (`connect.context`), in UTF-8 bytes. */
  contextBytes: 1000,
} as const;
