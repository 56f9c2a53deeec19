// OpenTok-style events: `on/once/off` with an event name (or several, space-separated),
// a map of names to handlers, and an optional context (`this` in the handler). Handlers get
// an Event whose `preventDefault()` cancels the SDK's default action where there is one.

import { logger } from './log';

/** An event dispatched by a Session, Publisher, Subscriber or OT. */
export class Event<T = unknown> {
  readonly type: string;
  readonly cancelable: boolean;
  target: T;
  private defaultPrevented = false;

  constructor(type: string, target: T, cancelable = false) {
    this.type = type;
    this.target = target;
    this.cancelable = cancelable;
  }

  /** Cancels the default action (e.g. removing a Subscriber's element on streamDestroyed). */
  preventDefault(): void {
    if (this.cancelable) this.defaultPrevented = true;
  }

  isDefaultPrevented(): boolean {
    return this.defaultPrevented;
  }
}

/** Creates an event with extra fields (`stream`, `reason`, …). */
export function makeEvent<T, F extends object>(
  type: string,
  target: T,
  fields: F,
  cancelable = false,
): Event<T> & F {
  return Object.assign(new Event(type, target, cancelable), fields);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Handler = (event: any) => void;
type HandlerMap = Record<string, Handler>;

interface Listener {
  handler: Handler;
  context: unknown;
  once: boolean;
}

/**
 * The on/once/off surface shared by OT, Session, Publisher and Subscriber. `M` maps event
 * names to their event types, for TypeScript; any other name is accepted too.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export class EventEmitter<M extends object = {}> {
  private listeners = new Map<string, Listener[]>();

  /** Adds a handler for one or more space-separated event names, or for a map of them. */
  on<K extends keyof M & string>(type: K, handler: (event: M[K]) => void, context?: object): this;
  on(type: string, handler: Handler, context?: object): this;
  on(handlers: HandlerMap, context?: object): this;
  on(a: string | HandlerMap, b?: Handler | object, c?: object): this {
    this.add(a, b, c, false);
    return this;
  }

  /** Like `on`, but each handler runs at most once. */
  once<K extends keyof M & string>(type: K, handler: (event: M[K]) => void, context?: object): this;
  once(type: string, handler: Handler, context?: object): this;
  once(handlers: HandlerMap, context?: object): this;
  once(a: string | HandlerMap, b?: Handler | object, c?: object): this {
    this.add(a, b, c, true);
    return this;
  }

  /**
   * Removes handlers: `off()` removes all, `off(type)` all for that type,
   * `off(type, handler[, context])` one, `off(map[, context])` each of the map.
   */
  off<K extends keyof M & string>(type: K, handler?: (event: M[K]) => void, context?: object): this;
  off(type?: string, handler?: Handler, context?: object): this;
  off(handlers: HandlerMap, context?: object): this;
  off(a?: string | HandlerMap, b?: Handler | object, c?: object): this {
    if (a === undefined) {
      this.listeners.clear();
    } else if (typeof a === 'string') {
      for (const type of splitTypes(a)) this.remove(type, b as Handler | undefined, c);
    } else {
      for (const [type, handler] of Object.entries(a)) this.off(type, handler, b as object | undefined);
    }
    return this;
  }

  /** The DOM-style names OpenTok.js also accepts. */
  addEventListener(type: string, handler: Handler, context?: object): this {
    return this.on(type, handler, context);
  }

  removeEventListener(type: string, handler?: Handler, context?: object): this {
    return this.off(type, handler, context);
  }

  /** Whether anyone listens for `type`. */
  hasListeners(type: string): boolean {
    return (this.listeners.get(type)?.length ?? 0) > 0;
  }

  /**
   * Dispatches `event` to the handlers of `as` (by default its own type), in the order they
   * were added. A `signal:chat` event also goes to the plain `signal` handlers this way.
   */
  dispatchEvent(event: Event<unknown>, as: string = event.type): Event<unknown> {
    const list = this.listeners.get(as);
    if (!list || list.length === 0) return event;
    for (const l of [...list]) {
      if (l.once) this.remove(as, l.handler, l.context);
      try {
        l.handler.call(l.context ?? this, event);
      } catch (e) {
        logger.error(`a '${event.type}' handler threw:`, e);
      }
    }
    return event;
  }

  /** Creates and dispatches an event; returns it so the caller can check preventDefault. */
  protected emit<F extends object>(type: string, fields: F, cancelable = false): Event<this> & F {
    const event = makeEvent(type, this, fields, cancelable);
    this.dispatchEvent(event);
    return event;
  }

  private add(a: string | HandlerMap, b: Handler | object | undefined, c: object | undefined, once: boolean) {
    if (typeof a === 'string') {
      if (typeof b !== 'function') throw new TypeError(`on('${a}'): the handler must be a function`);
      for (const type of splitTypes(a)) this.push(type, { handler: b as Handler, context: c, once });
    } else if (a && typeof a === 'object') {
      for (const [type, handler] of Object.entries(a)) {
        if (typeof handler !== 'function') throw new TypeError(`on({${type}}): the handler must be a function`);
        for (const t of splitTypes(type)) this.push(t, { handler, context: b, once });
      }
    } else {
      throw new TypeError('on() needs an event name and a handler, or a map of them');
    }
  }

  private push(type: string, listener: Listener) {
    const list = this.listeners.get(type);
    if (list) list.push(listener);
    else this.listeners.set(type, [listener]);
  }

  private remove(type: string, handler: Handler | undefined, context: unknown) {
    const list = this.listeners.get(type);
    if (!list) return;
    const kept = handler
      ? list.filter((l) => !(l.handler === handler && (context === undefined || l.context === context)))
      : [];
    if (kept.length) this.listeners.set(type, kept);
    else this.listeners.delete(type);
  }
}

function splitTypes(types: string): string[] {
  return types.split(/\s+/).filter(Boolean);
}
