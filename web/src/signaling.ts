// The signaling channel: one WebSocket to /v1/rtc per connected Session (docs/protocol.md).
// It authenticates with `connect`, numbers requests with string ids and routes replies to
// them, and hands every event to the Session in arrival order.

import { ExceptionCodes, OTError, fromServerError, otError, type Operation } from './errors';
import { logger } from './log';
import { SDK_NAME, VERSION } from './version';
import {
  PROTOCOL_VERSION,
  type ConnectedMessage,
  type ConnectionReason,
  type ErrorMessage,
  type EventMessage,
  type Notice,
  type ReplyFor,
  type Request,
  type ServerMessage,
} from './protocol';

const CONNECT_TIMEOUT_MS = 15_000;
const REQUEST_TIMEOUT_MS = 15_000;
/** The server pings every 2 s and the browser answers, but a page cannot see those; a
 * `ping` request now and then tells a dead connection (no close frame) from a quiet one. */
const WATCHDOG_INTERVAL_MS = 5_000;
const WATCHDOG_TIMEOUT_MS = 10_000;

const REPLY_TYPES = new Set(['ok', 'pong', 'published', 'subscribed', 'error']);

interface Pending {
  op: Operation;
  resolve(msg: ServerMessage): void;
  reject(e: OTError): void;
  timer: ReturnType<typeof setTimeout>;
}

export interface ChannelHandlers {
  onEvent(msg: EventMessage): void;
  /** The channel closed; `reason` is how the session ended. */
  onClose(reason: ConnectionReason, code: number): void;
}

export class SignalingChannel {
  private nextId = 1;
  private pending = new Map<string, Pending>();
  private closedByUs = false;
  private forced = false;
  private closed = false;
  private watchdog?: ReturnType<typeof setInterval>;
  /** When the unanswered watchdog ping was sent, if one is out. */
  private pingSentAt: number | null = null;

  private constructor(
    private readonly ws: WebSocket,
    private readonly handlers: ChannelHandlers,
  ) {}

  /**
   * Opens the WebSocket and authenticates; resolves with the `connected` snapshot.
   * `context`: with a Rooms join token, the participant's context (sent only if given).
   */
  static open(
    url: string,
    sessionId: string,
    token: string,
    handlers: ChannelHandlers,
    context?: string,
  ): Promise<{ channel: SignalingChannel; connected: ConnectedMessage }> {
    return new Promise((resolve, reject) => {
      let ws: WebSocket;
      try {
        ws = new WebSocket(url);
      } catch (e) {
        reject(otError('OT_CONNECT_FAILED', `cannot open ${url}: ${(e as Error).message}`, ExceptionCodes.CONNECT_FAILED));
        return;
      }
      const channel = new SignalingChannel(ws, handlers);
      let settled = false;
      const fail = (e: OTError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        channel.closed = true;
        try {
          ws.close();
        } catch {
          /* already closed */
        }
        reject(e);
      };
      const timer = setTimeout(
        () => fail(otError('OT_CONNECT_FAILED', `no answer from ${url} within ${CONNECT_TIMEOUT_MS} ms`, ExceptionCodes.CONNECT_FAILED)),
        CONNECT_TIMEOUT_MS,
      );
      ws.onopen = () => {
        logger.debug('signaling open', url);
        ws.send(
          JSON.stringify({
            type: 'connect',
            version: PROTOCOL_VERSION,
            sessionId,
            token,
            client: { name: SDK_NAME, version: VERSION },
            ...(context !== undefined ? { context } : {}),
          }),
        );
      };
      ws.onerror = () => logger.debug('signaling socket error');
      ws.onclose = (ev) => {
        if (!settled) {
          fail(
            otError(
              'OT_CONNECT_FAILED',
              `could not connect to the Parlor server at ${url} (WebSocket closed, code ${ev.code})`,
              ExceptionCodes.CONNECT_FAILED,
            ),
          );
        } else {
          channel.onSocketClosed(ev.code);
        }
      };
      ws.onmessage = (ev) => {
        const msg = parse(ev.data);
        if (!msg) return;
        if (!settled) {
          if (msg.type === 'connected') {
            settled = true;
            clearTimeout(timer);
            channel.startWatchdog();
            resolve({ channel, connected: msg });
          } else if (msg.type === 'error') {
            fail(fromServerError('connect', msg));
          } else {
            fail(otError('OT_UNEXPECTED_SERVER_RESPONSE', `expected 'connected', got '${msg.type}'`, ExceptionCodes.UNEXPECTED_SERVER_RESPONSE));
          }
          return;
        }
        channel.onMessage(msg);
      };
    });
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Sends a request and resolves with its reply, or rejects with the mapped OTError. */
  request<R extends Request>(req: R, op: Operation = 'other', timeoutMs = REQUEST_TIMEOUT_MS): Promise<ReplyFor<R>> {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(otError('OT_NOT_CONNECTED', `cannot send '${req.type}': not connected to the session`, ExceptionCodes.NOT_CONNECTED));
    }
    const id = String(this.nextId++);
    return new Promise<ReplyFor<R>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(otError('OT_TIMEOUT', `the server did not answer '${req.type}' within ${timeoutMs} ms`, ExceptionCodes.UNEXPECTED_SERVER_RESPONSE));
      }, timeoutMs);
      this.pending.set(id, {
        op,
        resolve: (m) => resolve(m as unknown as ReplyFor<R>),
        reject,
        timer,
      });
      const text = JSON.stringify({ ...req, id });
      logger.debug('→', req.type === 'publish' || req.type === 'subscribe' ? { ...req, sdp: '…' } : req);
      this.ws.send(text);
    });
  }

  /** Sends a message the server does not answer; dropped when the socket is not open. */
  notify(msg: Notice): void {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(JSON.stringify(msg));
  }

  /** Leaves the session (close 1000); the server tells the others `clientDisconnected`. */
  close(): void {
    if (this.closed) return;
    this.closedByUs = true;
    this.ws.close(1000);
    // Report at once; the server's echo of the close frame changes nothing.
    this.onSocketClosed(1000);
  }

  private onMessage(msg: ServerMessage) {
    if (REPLY_TYPES.has(msg.type) && 'id' in msg) {
      const id = msg.id;
      const pending = id !== null ? this.pending.get(id) : undefined;
      if (pending) {
        this.pending.delete(id as string);
        clearTimeout(pending.timer);
        if (msg.type === 'error') pending.reject(fromServerError(pending.op, msg as ErrorMessage));
        else pending.resolve(msg);
      } else if (msg.type === 'error') {
        logger.warn(`server error: ${(msg as ErrorMessage).code}: ${(msg as ErrorMessage).message}`);
      }
      return;
    }
    logger.debug('←', msg.type, msg);
    if (msg.type === 'disconnected') this.forced = msg.reason === 'forceDisconnected';
    this.handlers.onEvent(msg as EventMessage);
  }

  private onSocketClosed(code: number) {
    if (this.closed) return;
    this.closed = true;
    if (this.watchdog) clearInterval(this.watchdog);
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(otError('OT_NOT_CONNECTED', 'the connection to the session ended', ExceptionCodes.NOT_CONNECTED));
    }
    this.pending.clear();
    let reason: ConnectionReason;
    if (this.closedByUs) reason = 'clientDisconnected';
    else if (this.forced || code === 4003) reason = 'forceDisconnected';
    else reason = 'networkDisconnected';
    this.handlers.onClose(reason, code);
  }

  private startWatchdog() {
    this.watchdog = setInterval(() => {
      if (this.closed) return;
      if (this.pingSentAt !== null) {
        if (Date.now() - this.pingSentAt > WATCHDOG_TIMEOUT_MS) {
          logger.warn('no answer from the server: treating the connection as lost');
          try {
            this.ws.close(4008);
          } catch {
            /* ignore */
          }
          this.onSocketClosed(1006);
        }
        return;
      }
      this.pingSentAt = Date.now();
      this.request({ type: 'ping' }, 'other', 2 * WATCHDOG_TIMEOUT_MS).then(
        () => {
          this.pingSentAt = null;
        },
        () => undefined,
      );
    }, WATCHDOG_INTERVAL_MS);
  }
}

function parse(data: unknown): ServerMessage | undefined {
  if (typeof data !== 'string') {
    logger.warn('ignoring a binary frame from the server');
    return undefined;
  }
  try {
    const msg = JSON.parse(data);
    if (msg && typeof msg === 'object' && typeof msg.type === 'string') return msg as ServerMessage;
  } catch {
    /* fall through */
  }
  logger.warn('ignoring an unparsable frame from the server');
  return undefined;
}
