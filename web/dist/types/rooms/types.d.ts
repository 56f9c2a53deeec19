/** Log levels of `initialize({ logLevel })`. */
export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'NONE';
export interface InitializeOptions {
    /** The room's id (`POST /v2/rooms` → `data.id`). */
    roomId: string;
    /** A join token (`POST /v2/rooms/{id}/actions/generate_join_client_token` → `data.token`). */
    clientToken: string;
    /** This participant's context (others see it; at most 1000 bytes of UTF-8). */
    context?: string;
    logLevel?: LogLevel;
    /** Send and receive messages (`sendMessage`, `message_received`); default false. */
    enableMessages?: boolean;
    /** Parlor: the server, e.g. `https://video.example.com`. Default: where the SDK was loaded from. */
    serverUrl?: string;
}
export type RoomStatus = 'initialized' | 'connecting' | 'connected' | 'disconnecting' | 'disconnected';
/** Why this client left the room (`disconnected(reason)`). */
export type DisconnectReason = 'user_initiated' | 'network_error' | 'timed_out' | 'unauthorized' | 'forbidden' | 'kicked' | 'session_terminated' | 'room_expired' | 'unknown';
export type TrackKind = 'audio' | 'video';
export interface Participant {
    /** The participant id (Parlor: the connection id; the REST API's participant id). */
    id: string;
    /** The context the participant joined with (`''` if none). */
    context: string;
    /** The participant's streams: key → stream id. */
    streams: Record<string, string>;
    /** Whether messages reach this participant (the local one: `enableMessages`). */
    canReceiveMessages: boolean;
    origin: 'local' | 'remote';
}
export interface Stream {
    /** The stream id (Parlor's; a local stream has a provisional id `local:<key>` until published). */
    id: string;
    /** The stream key given to addStream (`self`, `presentation`, …). */
    key: string;
    participantId: string;
    /** Audio is sent and not censored. */
    isAudioEnabled: boolean;
    isVideoEnabled: boolean;
    /** The app server censored the stream's audio (REST `mute`), until it uncensors it (`unmute`). */
    isAudioCensored: boolean;
    isVideoCensored: boolean;
    /** Local streams: the app's track; remote streams: the received track, once subscribed. */
    audioTrack?: MediaStreamTrack;
    videoTrack?: MediaStreamTrack;
    /** Local streams: published (media flows to the server); remote streams: always true. */
    isConfigured: boolean;
}
/** What a subscription receives. */
export interface SubscriptionConfig {
    audio: boolean;
    video: boolean;
}
export interface State {
    status: RoomStatus;
    /** This client's participant id, once connected. */
    localParticipantId: string;
    /** Everyone in the room, this client included (`origin: 'local'`). */
    participants: Map<string, Participant>;
    /** Every stream, this client's included, by stream id. */
    streams: Map<string, Stream>;
    /** This client's subscriptions: participant id → stream key → what it receives. */
    subscriptions: Map<string, Map<string, SubscriptionConfig>>;
    /** Not provided by Parlor (each subscription's audio track is in `streams`). */
    mixedAudioTrack?: MediaStreamTrack;
}
export interface Message {
    type: 'text';
    payload: string;
    meta?: Record<string, unknown>;
}
/** A track for addStream / updateStream: the track, or the track with options. */
export type TrackOption = MediaStreamTrack | {
    track?: MediaStreamTrack;
    options?: {
        enableSimulcast?: boolean;
    };
} | undefined;
export interface StreamOptions {
    audio?: TrackOption;
    video?: TrackOption;
}
/** The WebRTC stats of one stream: `senders` for a local stream, `receivers` for a subscribed one. */
export interface WebRTCStats {
    senders: {
        audio?: Record<string, unknown>;
        video?: Record<string, unknown>;
    };
    receivers: {
        audio?: Record<string, unknown>;
        video?: Record<string, unknown>;
    };
}
/**
 * `network_metrics_report`: per participant of `enableNetworkMetricsReport`, the quality
 * of what this client receives from it, 0 (none) to 5 (excellent): the server's quality
 * scores of this client's subscriptions to that participant (the worst of audio and video).
 */
export type NetworkMetrics = Record<string, {
    connectionQuality: number;
    audioQuality?: number;
    videoQuality?: number;
}>;
/** The events and their arguments; every handler also gets the State as its last argument. */
export interface Events {
    state_changed: (state: State) => void;
    connected: (state: State) => void;
    disconnected: (reason: DisconnectReason, state: State) => void;
    participant_joined: (participantId: string, state: State) => void;
    /** `reason`: `kicked` when a moderator removed it, else null. */
    participant_leaving: (participantId: string, reason: 'kicked' | null, state: State) => void;
    participant_left: (participantId: string, state: State) => void;
    stream_published: (participantId: string, key: string, state: State) => void;
    stream_unpublished: (participantId: string, key: string, state: State) => void;
    track_enabled: (participantId: string, key: string, kind: TrackKind, state: State) => void;
    track_disabled: (participantId: string, key: string, kind: TrackKind, state: State) => void;
    track_censored: (participantId: string, key: string, kind: TrackKind, state: State) => void;
    track_uncensored: (participantId: string, key: string, kind: TrackKind, state: State) => void;
    audio_activity: (participantId: string, key: string, state: State) => void;
    subscription_started: (participantId: string, key: string, state: State) => void;
    subscription_reconfigured: (participantId: string, key: string, state: State) => void;
    subscription_ended: (participantId: string, key: string, state: State) => void;
    /** `participantId`: the sender, or null for a message from the app server (REST signal). */
    message_received: (participantId: string | null, message: Message, recipients: string[] | null, state: State) => void;
    network_metrics_report: (metrics: NetworkMetrics, state: State) => void;
}
export type EventName = keyof Events;
