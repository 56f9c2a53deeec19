import type { DisconnectReason, EventName, Events, InitializeOptions, Message, Participant, State, Stream, StreamOptions, SubscriptionConfig, WebRTCStats } from './types';
/** The reason `disconnected` reports for how the session ended (documented in web/README.md). */
export declare function disconnectReason(reason: string, detail: string | undefined): DisconnectReason;
export declare class Room {
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
    private readonly options;
    private token;
    private session?;
    private readonly model;
    private snapshot?;
    private readonly events;
    /** Streams whose audio the app server censored (`audioCensored`), ours included. */
    private readonly censored;
    private readonly metricsFor;
    private metricsTimer?;
    private speaking;
    private speakingHooked;
    private doConnect;
    private listen;
    private onConnected;
    private onDisconnected;
    private onParticipantJoined;
    private onParticipantGone;
    private onRemoteStream;
    private onRemoteStreamGone;
    private removeRemoteStream;
    /** A remote stream's hasAudio / hasVideo changed. */
    private onRemoteTrack;
    /** The app server censored or uncensored a stream's audio (REST mute / unmute). */
    private onAudioCensored;
    /**
     * Our stream's audio is censored: by the app server (`byServer`: it refuses to turn the
     * audio on until it uncensors it), or muted by an OpenTok-face moderator (`muteForced`
     * alone), which the participant may lift itself.
     */
    private censorLocal;
    /** The app server uncensored our stream: the audio comes back on if the app has its track set. */
    private uncensorLocal;
    private requireSession;
    private doAddStream;
    /** Forgets a local stream (unpublishing it); `announce`: emit stream_unpublished. */
    private dropLocalStream;
    private stopPlaceholders;
    private doUpdateStream;
    private updateTrack;
    private findRemote;
    private doAddSubscription;
    /** Forgets a subscription (its subscriber is gone or going); emits subscription_ended if it started. */
    private endSubscription;
    private doUpdateSubscription;
    private doStats;
    private doSendMessage;
    private onMessage;
    /** Speaking detection runs while the Session's Room State has a listener: only when asked. */
    private hookSpeaking;
    private onSpeaking;
    private reportNetworkMetrics;
    private stopMetrics;
    private setStatus;
    /** The model changed: a new snapshot, and `state_changed`. */
    private changed;
    private emit;
}
/** Checks the options and makes a Room (not connected yet: call `room.connect()`). */
export declare function createRoom(options: InitializeOptions): Room;
