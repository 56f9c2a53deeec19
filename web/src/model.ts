// Connection and Stream objects as OpenTok.js exposes them. The Session keeps one object per
// id and updates it in place, so an app may hold on to `event.stream` and see changes.

import type { VideoType, WireConnection, WireDimensions, WireStream } from './protocol';

export interface Dimensions {
  width: number;
  height: number;
}

/** A client connected to the session. */
export class Connection {
  readonly connectionId: string;
  readonly creationTime: number;
  /** The connection data the app server put in this client's token (`""` if none). */
  readonly data: string;

  /** @internal */
  constructor(wire: WireConnection) {
    this.connectionId = wire.connectionId;
    this.creationTime = wire.creationTime;
    this.data = wire.data;
  }

  /** Same as `connectionId`. */
  get id(): string {
    return this.connectionId;
  }
}

/** A published audio-video stream. */
export class Stream {
  readonly streamId: string;
  readonly connection: Connection;
  readonly creationTime: number;
  name: string;
  hasAudio: boolean;
  hasVideo: boolean;
  hasCaptions = false;
  videoType: VideoType;
  videoDimensions: Dimensions | undefined;
  /** The frame rate the publisher asked for, when known (local streams only). */
  frameRate: number | undefined;
  /** @internal Set once the stream is gone. */
  destroyed = false;

  /** @internal */
  constructor(wire: WireStream, connection: Connection) {
    this.streamId = wire.streamId;
    this.connection = connection;
    this.creationTime = wire.creationTime;
    this.name = wire.name;
    this.hasAudio = wire.hasAudio;
    this.hasVideo = wire.hasVideo;
    this.videoType = wire.videoType;
    this.videoDimensions = dims(wire.videoDimensions);
  }

  /** Same as `streamId`. */
  get id(): string {
    return this.streamId;
  }

  /** @internal Applies the server's current view of the stream. */
  update(wire: WireStream): void {
    this.name = wire.name;
    this.hasAudio = wire.hasAudio;
    this.hasVideo = wire.hasVideo;
    this.videoType = wire.videoType;
    this.videoDimensions = dims(wire.videoDimensions);
  }
}

function dims(d: WireDimensions | null): Dimensions | undefined {
  return d ? { width: d.width, height: d.height } : undefined;
}

/** A read-only, ordered collection by id (OpenTok.js's `session.streams`, `session.connections`). */
export class Collection<T> {
  /** @internal */
  readonly items = new Map<string, T>();

  get length(): number {
    return this.items.size;
  }

  get(id: string): T | undefined {
    return this.items.get(id);
  }

  has(id: string): boolean {
    return this.items.has(id);
  }

  find(predicate: (item: T) => boolean): T | undefined {
    for (const item of this.items.values()) if (predicate(item)) return item;
    return undefined;
  }

  where(predicate: (item: T) => boolean): T[] {
    return this.toArray().filter(predicate);
  }

  forEach(f: (item: T) => void): void {
    this.items.forEach((item) => f(item));
  }

  map<U>(f: (item: T) => U): U[] {
    return this.toArray().map(f);
  }

  toArray(): T[] {
    return [...this.items.values()];
  }

  [Symbol.iterator](): IterableIterator<T> {
    return this.items.values();
  }
}
