import { type Operation } from './errors';
import { type ConnectedMessage, type ConnectionReason, type EventMessage, type Notice, type ReplyFor, type Request } from './protocol';
export interface ChannelHandlers {
    onEvent(msg: EventMessage): void;
    /** The channel closed; `reason` is how the session ended. */
    onClose(reason: ConnectionReason, code: number): void;
    /** The WebSocket was lost; the channel is trying to resume the connection. */
    onReconnecting?(): void;
    /** The connection was resumed: events flow again, missed ones first. */
    onReconnected?(): void;
}
export declare class SignalingChannel {
    private ws;
    private readonly handlers;
    private nextId;
    private pending;
    private closedByUs;
    private forced;
    private closed;
    private watchdog?;
    /** When the unanswered watchdog ping was sent, if one is out. */
    private pingSentAt;
    /** Messages received from the server on this connection (`connected` is the first). */
    private received;
    /** Messages sent after `connect`, the last MAX_UNCONFIRMED of them; `sentBase` is the
     * number of the first one kept. */
    private sent;
    private sentBase;
    private resumeInfo?;
    private reconnecting;
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
    /** Sends (or, while reconnecting, holds) a message, kept for resending after a resume. */
    private send;
    /** Leaves the session (close 1000); the server tells the others `clientDisconnected`. */
    close(): void;
    private onMessage;
    private onSocketClosed;
    private end;
    private startWatchdog;
    /** The WebSocket is lost: try to resume until the server's grace period is over. */
    private startReconnecting;
    /** One resume attempt on a new WebSocket. */
    private tryResume;
    /** `resumed` came on `ws`: it becomes the channel's socket; what the server did not get
     * is sent again. Returns false if that is no longer possible. */
    private resumed;
}
