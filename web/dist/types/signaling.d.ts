import { type Operation } from './errors';
import { type ConnectedMessage, type ConnectionReason, type EventMessage, type Notice, type ReplyFor, type Request } from './protocol';
export interface ChannelHandlers {
    onEvent(msg: EventMessage): void;
    /** The channel closed; `reason` is how the session ended. */
    onClose(reason: ConnectionReason, code: number): void;
}
export declare class SignalingChannel {
    private readonly ws;
    private readonly handlers;
    private nextId;
    private pending;
    private closedByUs;
    private forced;
    private closed;
    private watchdog?;
    /** When the unanswered watchdog ping was sent, if one is out. */
    private pingSentAt;
    private constructor();
    /**
     * Opens the WebSocket and authenticates; resolves with the `connected` snapshot.
     * `context`: with a Rooms join token, the participant's context (sent only if given).
     */
    static open(url: string, sessionId: string, token: string, handlers: ChannelHandlers, context?: string): Promise<{
        channel: SignalingChannel;
        connected: ConnectedMessage;
    }>;
    get isOpen(): boolean;
    /** Sends a request and resolves with its reply, or rejects with the mapped OTError. */
    request<R extends Request>(req: R, op?: Operation, timeoutMs?: number): Promise<ReplyFor<R>>;
    /** Sends a message the server does not answer; dropped when the socket is not open. */
    notify(msg: Notice): void;
    /** Leaves the session (close 1000); the server tells the others `clientDisconnected`. */
    close(): void;
    private onMessage;
    private onSocketClosed;
    private startWatchdog;
}
