import type { SessionEventMap } from './event-types';
import { EventEmitter } from './events';
import { type IceConfig, type IceServer } from './ice';
import { Collection, Connection, Stream } from './model';
import { Publisher, type PublisherProperties } from './publisher';
import { type RoomState } from './state';
import { Subscriber, type SubscriberProperties } from './subscriber';
import { type Callback } from './util';
export type { IceConfig, IceServer };
export interface SessionOptions {
    /** The Parlor server, e.g. `https://video.example.com`. Default: where the SDK was loaded from. */
    serverUrl?: string;
    /** TURN servers and transport policy of the peer connections, as in OpenTok.js. */
    iceConfig?: IceConfig;
    connectionEventsSuppressed?: boolean;
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
type ConnectFn = ((token: string, callback?: Callback) => Session) & {
    promise(token: string): Promise<Session>;
};
type PublishFn = {
    (publisher: Publisher, callback?: Callback): Publisher;
    (target: HTMLElement | string | undefined, properties?: PublisherProperties, callback?: Callback): Publisher;
    promise(publisherOrTarget?: Publisher | HTMLElement | string, properties?: PublisherProperties): Promise<Publisher>;
};
type SubscribeFn = {
    (stream: Stream, target?: HTMLElement | string, properties?: SubscriberProperties, callback?: Callback): Subscriber;
    promise(stream: Stream, target?: HTMLElement | string, properties?: SubscriberProperties): Promise<Subscriber>;
};
export declare class Session extends EventEmitter<SessionEventMap> {
    readonly apiKey: string;
    readonly sessionId: string;
    /** This client's connection, once connected. */
    connection: Connection | undefined;
    /** This client's role (`publisher`, `subscriber`, `moderator`, `publisheronly`), once connected. */
    role: string | undefined;
    capabilities: Capabilities;
    /** Every connection in the session, this client's included. */
    readonly connections: Collection<Connection>;
    /** Every stream in the session, this client's included. */
    readonly streams: Collection<Stream>;
    /** Connects with a client token; `.promise(token)` resolves with the session. */
    readonly connect: ConnectFn;
    /** Publishes a Publisher (or creates one in `target`); `.promise(...)` resolves once it is live. */
    readonly publish: PublishFn;
    /** Subscribes to a stream into `target`; `.promise(...)` resolves once media flows. */
    readonly subscribe: SubscribeFn;
    private readonly host;
    private readonly options;
    private iceConfig;
    /** The server's STUN/TURN servers for this connection (`connected.iceServers`). */
    private serverIceServers;
    /** The session is relayed (`connected.relayed`): media goes peer to peer. */
    private relayed;
    /** Streams speaking, and the dominant speaker, as the server announced (`speakers`). */
    private speaking;
    private channel?;
    private status;
    private publishers;
    private allPublishers;
    private subscribers;
    private subscriptions;
    private statsTimer?;
    /** Subscriptions / streams the server ended before its reply named them (protocol.md Note 5). */
    private endedEarly;
    private mutedEarly;
    /** The `detail` of the server's `disconnected` (Rooms), for `sessionDisconnected`. */
    private disconnectDetail;
    /** Whether the session is connected. */
    isConnected(): boolean;
    /** Leaves the session; `sessionDisconnected` follows. */
    disconnect(): Promise<void>;
    /** Stops publishing `publisher` (its element is removed unless its streamDestroyed is prevented). */
    unpublish(publisher: Publisher): void;
    /** Stops a subscription and removes its element. */
    unsubscribe(subscriber: Subscriber): void;
    /** Sends a signal to everyone (or to `to`): the `signal` and `signal:<type>` events. */
    signal(options: SignalOptions | Callback | undefined, callback?: Callback): Promise<void>;
    /** Moderators: disconnects another client. */
    forceDisconnect(connection: Connection | string, callback?: Callback): Promise<void>;
    /** Moderators: stops another client's stream. */
    forceUnpublish(stream: Stream | string, callback?: Callback): Promise<void>;
    /** Moderators: mutes one stream's audio (the publisher may unmute). */
    forceMuteStream(stream: Stream | string): Promise<void>;
    /** Moderators: mutes every stream's audio but the excluded ones. */
    forceMuteAll(excludedStreams?: Array<Stream | string>): Promise<void>;
    /** The local Publisher publishing `stream`, if any. */
    getPublisherForStream(stream: Stream | string): Publisher | undefined;
    /** The Subscribers receiving `stream`. */
    getSubscribersForStream(stream: Stream | string): Subscriber[];
    /** The Room State: participants and streams, as one plain object (see `stateChanged`). */
    getState(): RoomState;
    /**
     * Replaces the `iceConfig` given to OT.initSession (OpenTok.js's Session.setIceConfig): it
     * applies to the peer connections made from now on. Throws OT_INVALID_PARAMETER as
     * initSession does for a malformed one.
     */
    setIceConfig(iceConfig: IceConfig): void;
    /** Room State's isSpeaking: the server's word, or in a relayed session our own levels. */
    private isSpeaking;
    private doConnect;
    private onConnected;
    /** Sends the server what this client measures of its media, every `interval` ms. */
    private startStatsReports;
    private fail;
    private onEvent;
    /** The signaling connection was lost; the channel is resuming it. */
    private onReconnecting;
    /** Resumed: nobody saw us leave. Media paths may have changed too: restart ICE. */
    private onReconnected;
    private onClosed;
    private publisherFor;
    private doPublish;
    private doSubscribe;
    private doSignal;
    private check;
    private addConnection;
    private addStream;
    private removeStream;
    private isOwn;
    private isOwnWire;
    private setStatus;
}
