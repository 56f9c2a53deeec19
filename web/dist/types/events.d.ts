/** An event dispatched by a Session, Publisher, Subscriber or OT. */
export declare class Event<T = unknown> {
    readonly type: string;
    readonly cancelable: boolean;
    target: T;
    private defaultPrevented;
    constructor(type: string, target: T, cancelable?: boolean);
    /** Cancels the default action (e.g. removing a Subscriber's element on streamDestroyed). */
    preventDefault(): void;
    isDefaultPrevented(): boolean;
}
/** Creates an event with extra fields (`stream`, `reason`, …). */
export declare function makeEvent<T, F extends object>(type: string, target: T, fields: F, cancelable?: boolean): Event<T> & F;
export type Handler = (event: any) => void;
type HandlerMap = Record<string, Handler>;
/**
 * The on/once/off surface shared by OT, Session, Publisher and Subscriber. `M` maps event
 * names to their event types, for TypeScript; any other name is accepted too.
 */
export declare class EventEmitter<M extends object = {}> {
    private listeners;
    /** Adds a handler for one or more space-separated event names, or for a map of them. */
    on<K extends keyof M & string>(type: K, handler: (event: M[K]) => void, context?: object): this;
    on(type: string, handler: Handler, context?: object): this;
    on(handlers: HandlerMap, context?: object): this;
    /** Like `on`, but each handler runs at most once. */
    once<K extends keyof M & string>(type: K, handler: (event: M[K]) => void, context?: object): this;
    once(type: string, handler: Handler, context?: object): this;
    once(handlers: HandlerMap, context?: object): this;
    /**
     * Removes handlers: `off()` removes all, `off(type)` all for that type,
     * `off(type, handler[, context])` one, `off(map[, context])` each of the map.
     */
    off<K extends keyof M & string>(type: K, handler?: (event: M[K]) => void, context?: object): this;
    off(type?: string, handler?: Handler, context?: object): this;
    off(handlers: HandlerMap, context?: object): this;
    /** The DOM-style names OpenTok.js also accepts. */
    addEventListener(type: string, handler: Handler, context?: object): this;
    removeEventListener(type: string, handler?: Handler, context?: object): this;
    /** Whether anyone listens for `type`. */
    hasListeners(type: string): boolean;
    /**
     * Dispatches `event` to the handlers of `as` (by default its own type), in the order they
     * were added. A `signal:chat` event also goes to the plain `signal` handlers this way.
     */
    dispatchEvent(event: Event<unknown>, as?: string): Event<unknown>;
    /** Creates and dispatches an event; returns it so the caller can check preventDefault. */
    protected emit<F extends object>(type: string, fields: F, cancelable?: boolean): Event<this> & F;
    private add;
    private push;
    private remove;
}
export {};
