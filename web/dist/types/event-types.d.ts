import type { Event } from './events';
import type { Connection, Dimensions, Stream } from './model';
import type { Publisher } from './publisher';
import type { Session } from './session';
import type { RoomState } from './state';
import type { Subscriber } from './subscriber';
export type SessionEvent<F = object> = Event<Session> & F;
export type PublisherEvent<F = object> = Event<Publisher> & F;
export type SubscriberEvent<F = object> = Event<Subscriber> & F;
export interface SignalEvent extends Event<Session> {
    /** The signal's data. (`type` is `signal` or `signal:<its type>`.) */
    data: string;
    /** The sender's connection; null for signals from the app server. */
    from: Connection | null;
}
export interface SessionEventMap {
    sessionConnected: SessionEvent<{
        connections: Connection[];
        streams: Stream[];
    }>;
    /**
     * `detail`: a Rooms participant's finer reason, when the server removed it (`kicked`,
     * `session_terminated`, `token_expired`); absent otherwise.
     */
    sessionDisconnected: SessionEvent<{
        reason: 'clientDisconnected' | 'forceDisconnected' | 'networkDisconnected';
        detail?: string;
    }>;
    /**
     * The connection to the session was lost (a network failure): the SDK is resuming it
     * within the server's grace period (20 s by default). Meanwhile nobody sees this client
     * leave; its streams and subscriptions stay, and requests wait.
     */
    sessionReconnecting: SessionEvent;
    /** Resumed after sessionReconnecting: events missed meanwhile follow, media resumes. If
     * it cannot be resumed, sessionDisconnected (`networkDisconnected`) comes instead. */
    sessionReconnected: SessionEvent;
    connectionCreated: SessionEvent<{
        connection: Connection;
    }>;
    /** `detail`: as sessionDisconnected's (Rooms participants the server removed). */
    connectionDestroyed: SessionEvent<{
        connection: Connection;
        reason: string;
        detail?: string;
    }>;
    streamCreated: SessionEvent<{
        stream: Stream;
    }>;
    /** Cancelable: preventDefault() keeps the Subscribers' elements. */
    streamDestroyed: SessionEvent<{
        stream: Stream;
        reason: string;
    }>;
    streamPropertyChanged: SessionEvent<{
        stream: Stream;
        changedProperty: 'hasAudio' | 'hasVideo' | 'videoDimensions';
        oldValue: boolean | Dimensions | null;
        newValue: boolean | Dimensions | null;
    }>;
    signal: SignalEvent;
    muteForced: SessionEvent<{
        streamId: string;
    }>;
    /**
     * Parlor extension (sessions of Telnyx-style rooms): the room's app server censored
     * (`censored` true: REST `actions/mute`) or uncensored (false: `actions/unmute`) a stream's
     * audio. A censored stream's audio is off (`streamPropertyChanged` hasAudio false; its
     * publisher gets `muteForced`) and its publisher cannot turn it on until it is uncensored.
     */
    audioCensored: SessionEvent<{
        streamId: string;
        censored: boolean;
    }>;
    /**
     * Parlor extension: who is speaking, as the media router hears it (each stream's audio
     * level, RFC 6464): the streams speaking now and the dominant speaker (the one speaking
     * most and loudest; kept while nobody else speaks, `null` once gone). Fired when either
     * changes, with hysteresis: a cough does not make a speaker, a pause does not end one.
     * Routed sessions only (a relayed session's Room State uses each subscriber's level).
     */
    speakersChanged: SessionEvent<{
        speaking: Stream[];
        dominantSpeaker: Stream | null;
    }>;
    /** An archive of the session started (also fired on connecting while one runs). */
    archiveStarted: SessionEvent<{
        id: string;
        name: string;
    }>;
    /** An archive of the session stopped. */
    archiveStopped: SessionEvent<{
        id: string;
        name: string;
    }>;
    /** Room State: the whole state, after every change, with what changed. */
    stateChanged: SessionEvent<{
        state: RoomState;
        reason: string;
    }>;
}
export interface PublisherEventMap {
    accessAllowed: PublisherEvent;
    accessDenied: PublisherEvent<{
        message: string;
    }>;
    accessDialogOpened: PublisherEvent;
    accessDialogClosed: PublisherEvent;
    videoElementCreated: PublisherEvent<{
        element: HTMLVideoElement;
    }>;
    mediaStreamAvailable: PublisherEvent<{
        mediaStream: MediaStream;
    }>;
    streamCreated: PublisherEvent<{
        stream: Stream;
    }>;
    /** Cancelable: preventDefault() keeps the publisher (element and media) for later. */
    streamDestroyed: PublisherEvent<{
        stream: Stream | undefined;
        reason: string;
    }>;
    audioLevelUpdated: PublisherEvent<{
        audioLevel: number;
    }>;
    /** Cancelable: a track ended (e.g. the browser's "Stop sharing"); by default the publisher is destroyed. */
    mediaStopped: PublisherEvent<{
        track: MediaStreamTrack;
    }>;
    videoDimensionsChanged: PublisherEvent<{
        oldValue: Dimensions;
        newValue: Dimensions;
    }>;
    muteForced: PublisherEvent;
    destroyed: PublisherEvent<{
        reason: string;
    }>;
    /** Reserved: no quality-based video disabling yet. */
    videoDisabled: PublisherEvent<{
        reason: string;
    }>;
    /** Reserved: see videoDisabled. */
    videoEnabled: PublisherEvent<{
        reason: string;
    }>;
    videoDisableWarning: PublisherEvent;
    videoDisableWarningLifted: PublisherEvent;
}
/** A subscriber's quality scores (OpenTok.js's `qualityScoreChanged`). */
export interface QualityScore {
    audioQualityScore?: number;
    videoQualityScore?: number;
}
export interface SubscriberEventMap {
    connected: SubscriberEvent;
    /** The server ended this subscription's media; it resubscribes if the stream still exists. */
    disconnected: SubscriberEvent;
    destroyed: SubscriberEvent<{
        reason: string;
    }>;
    videoElementCreated: SubscriberEvent<{
        element: HTMLVideoElement;
    }>;
    mediaStreamAvailable: SubscriberEvent<{
        mediaStream: MediaStream;
    }>;
    /**
     * reason: `publishVideo` (the publisher), `subscribeToVideo` (this subscriber) or
     * `quality` (this subscriber's downlink cannot carry even the stream's lowest video layer:
     * the server turned video off, audio goes on, and the subscriber shows audio-only).
     */
    videoDisabled: SubscriberEvent<{
        reason: string;
    }>;
    /** reason: as videoDisabled's; `quality`: the downlink recovered and video is back. */
    videoEnabled: SubscriberEvent<{
        reason: string;
    }>;
    /**
     * This subscriber's downlink cannot carry even the stream's lowest video layer: video may
     * soon be turned off (videoDisabled, reason `quality`). Sent only where the browser gives
     * the server congestion-control feedback (Chromium, Firefox); never in relayed sessions.
     */
    videoDisableWarning: SubscriberEvent;
    /** The downlink recovered before video was turned off. */
    videoDisableWarningLifted: SubscriberEvent;
    audioLevelUpdated: SubscriberEvent<{
        audioLevel: number;
    }>;
    /**
     * The audio or video quality score changed: 1 (bad) to 5 (excellent), from the server's
     * measurements of this subscription and its stream's publisher (every quality window,
     * 5 s by default). A score is undefined for media not received.
     */
    qualityScoreChanged: SubscriberEvent<{
        qualityScore: QualityScore;
    }>;
    videoDimensionsChanged: SubscriberEvent<{
        oldValue: Dimensions;
        newValue: Dimensions;
    }>;
    /** The browser's autoplay policy muted this subscriber; OT.unblockAudio() from a click plays it. */
    audioBlocked: SubscriberEvent;
    audioUnblocked: SubscriberEvent;
}
export interface OTEventMap {
    exception: Event<unknown> & {
        code: number;
        message: string;
        title: string;
        name: string;
        target: unknown;
    };
}
