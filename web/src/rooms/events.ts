// The Room's events, as `@telnyx/video` has them: `on(event, handler)` returns a function
// that removes the handler; handlers get the event's arguments and then the State.

import { logger } from '../log';
import type { EventName, Events } from './types';

type Handler = (...args: unknown[]) => void;

export class RoomEvents {
  private readonly handlers = new Map<string, Set<Handler>>();

  on<K extends EventName>(event: K, handler: Events[K]): () => void {
    if (typeof handler !== 'function') throw new TypeError(`on('${String(event)}'): the handler must be a function`);
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    // The same function added twice is called twice, as with addEventListener-like lists.
    const entry: Handler = (...args) => (handler as Handler)(...args);
    set.add(entry);
    return () => {
      set!.delete(entry);
    };
  }

  has(event: EventName): boolean {
    return (this.handlers.get(event)?.size ?? 0) > 0;
  }

  emit(event: EventName, args: unknown[]): void {
    const set = this.handlers.get(event);
    if (!set || set.size === 0) return;
    for (const h of [...set]) {
      try {
        h(...args);
      } catch (e) {
        logger.error(`a '${event}' handler threw:`, e);
      }
    }
  }

  clear(): void {
    this.handlers.clear();
  }
}
