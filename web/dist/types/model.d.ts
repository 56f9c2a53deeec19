import type { VideoType } from './protocol';
export interface Dimensions {
    width: number;
    height: number;
}
/** A client connected to the session. */
export declare class Connection {
    readonly connectionId: string;
    readonly creationTime: number;
    /** The connection data the app server put in this client's token (`""` if none). */
    readonly data: string;
    /** Same as `connectionId`. */
    get id(): string;
}
/** A published audio-video stream. */
export declare class Stream {
    readonly streamId: string;
    readonly connection: Connection;
    readonly creationTime: number;
    name: string;
    hasAudio: boolean;
    hasVideo: boolean;
    hasCaptions: boolean;
    videoType: VideoType;
    videoDimensions: Dimensions | undefined;
    /** The frame rate the publisher asked for, when known (local streams only). */
    frameRate: number | undefined;
    /** Same as `streamId`. */
    get id(): string;
}
/** A read-only, ordered collection by id (OpenTok.js's `session.streams`, `session.connections`). */
export declare class Collection<T> {
    get length(): number;
    get(id: string): T | undefined;
    has(id: string): boolean;
    find(predicate: (item: T) => boolean): T | undefined;
    where(predicate: (item: T) => boolean): T[];
    forEach(f: (item: T) => void): void;
    map<U>(f: (item: T) => U): U[];
    toArray(): T[];
    [Symbol.iterator](): IterableIterator<T>;
}
