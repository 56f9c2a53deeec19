import type { Stream as OTStream } from '../model';
import type { Publisher } from '../publisher';
import type { Subscriber } from '../subscriber';
import type { RoomStatus, State, Stream, SubscriptionConfig } from './types';
export interface ParticipantRecord {
    id: string;
    context: string;
    origin: 'local' | 'remote';
}
/** One of this client's streams (addStream). */
export interface LocalStreamRecord {
    key: string;
    /** `local:<key>` until published, then Parlor's stream id. */
    id: string;
    publisher: Publisher;
    /** The app's tracks (undefined: none; a placeholder is sent, turned off). */
    audioTrack?: MediaStreamTrack;
    videoTrack?: MediaStreamTrack;
    /** Silent audio / black video sent in place of a missing track (stopped with the stream). */
    placeholders: {
        audio?: MediaStreamTrack;
        video?: MediaStreamTrack;
    };
    isConfigured: boolean;
    /** The audio is censored: by the app server (REST mute), or muted by an OpenTok-face moderator. */
    audioCensored: boolean;
    /** Censored by the app server: the server refuses to turn the audio on until it uncensors it. */
    censoredByServer: boolean;
    /** The published stream, once announced. */
    stream?: OTStream;
    /** Set once removeStream was called or the stream ended. */
    removed: boolean;
}
/** Another participant's stream. */
export interface RemoteStreamRecord {
    stream: OTStream;
    key: string;
    participantId: string;
    /** The app server censored its audio (`audioCensored`). */
    audioCensored: boolean;
}
/** This client's subscription to a remote stream. */
export interface SubscriptionRecord {
    participantId: string;
    key: string;
    streamId: string;
    config: SubscriptionConfig;
    subscriber?: Subscriber;
    mediaStream?: MediaStream;
    started: boolean;
    quality: {
        audio?: number;
        video?: number;
    };
}
export interface RoomModel {
    status: RoomStatus;
    localParticipantId: string;
    localContext: string;
    enableMessages: boolean;
    participants: Map<string, ParticipantRecord>;
    localStreams: Map<string, LocalStreamRecord>;
    remoteStreams: Map<string, RemoteStreamRecord>;
    subscriptions: Map<string, SubscriptionRecord>;
}
export declare function subscriptionKey(participantId: string, key: string): string;
export declare function localStreamState(r: LocalStreamRecord, participantId: string): Stream;
export declare function remoteStreamState(r: RemoteStreamRecord, sub: SubscriptionRecord | undefined): Stream;
export declare function buildState(m: RoomModel): State;
