// The signaling channel: one WebSocket to /v1/rtc per connected Session (docs/protocol.md).
// It authenticates with `connect`, numbers requests with string ids and routes replies to
// them, and hands every event to the Session in arrival order.
//
// Reconnection (docs/protocol.md §2.8): when the WebSocket is lost (an error, or the
// watchdog hears nothing), the channel opens new ones and sends `resume` with the
// credential `connected.resume` gave, until one is answered `resumed` or the server's
// grace period is over. It counts the messages it received (the server resends the rest)
// and keeps the ones it sent (it resends those the server did not get); requests made
// meanwhile wait and go out after the resume.

import { ExceptionCodes, OTError, fromServerError, otError, type Operation } from './errors';
import { logger } from './log';
import { SDK_NAME, VERSION } from './version';
import {
  PROTOCOL_VERSION,
  type ConnectedMessage,
  type ResumedMessage,
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
/** With a resume credential a lost connection costs little, so it is noticed sooner. */
const RESUMABLE_WATCHDOG_INTERVAL_MS = 1_000;
const RESUMABLE_WATCHDOG_TIMEOUT_MS = 4_000;
/** One resume attempt's limit, and the pauses between attempts. */
const RESUME_ATTEMPT_MS = 4_000;
const RESUME_BACKOFF_MS = [250, 500, 1_000, 2_000];
/** Messages sent kept for resending after a resume (the server has the rest). */
const MAX_UNCONFIRMED = 256;

const REPLY_TYPES = new Set(['ok', 'pong', 'published', 'subscribed', 'iceRestarted', 'error']);

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
  /** The WebSocket was lost; the channel is trying to resume the connection. */
  onReconnecting?(): void;
  /** The connection was resumed: events flow again, missed ones first. */
  onReconnected?(): void;
}

/** What a resume needs: where, which connection, and its credential. */
interface ResumeInfo {
  url: string;
  sessionId: string;
  connectionId: string;
  token: string;
  graceMs: number;
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
  /** Messages received from the server on this connection (`connected` is the first). */
  private received = 0;
  /** Messages sent after `connect`, the last MAX_UNCONFIRMED of them; `sentBase` is the
   * number of the first one kept. */
  private sent: string[] = [];
  private sentBase = 0;
  private resumeInfo?: ResumeInfo;
  private reconnecting = false;

  private constructor(
    private ws: WebSocket,
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
            reconnect: true,
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
        if (settled) channel.received++;
        const msg = parse(ev.data);
        if (!msg) return;
        if (!settled) {
          if (msg.type === 'connected') {
            settled = true;
            clearTimeout(timer);
            channel.received = 1;
            if (msg.resume) {
              channel.resumeInfo = { url, sessionId, connectionId: msg.connection.connectionId, token: msg.resume.token, graceMs: msg.resume.graceMs };
            }
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
    if (this.closed || (!this.reconnecting && this.ws.readyState !== WebSocket.OPEN)) {
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
      logger.debug('→', req.type === 'publish' || req.type === 'subscribe' || req.type === 'restartIce' ? { ...req, sdp: '…' } : req);
      this.send(text);
    });
  }

  /** Sends a message the server does not answer; dropped when the socket is not open. */
  notify(msg: Notice): void {
    if (this.closed || this.reconnecting || this.ws.readyState !== WebSocket.OPEN) return;
    this.send(JSON.stringify(msg));
  }

  /** Sends (or, while reconnecting, holds) a message, kept for resending after a resume. */
  private send(text: string) {
    if (this.resumeInfo) {
      this.sent.push(text);
      if (this.sent.length > MAX_UNCONFIRMED) {
        this.sent.shift();
        this.sentBase++;
      }
    }
    if (!this.reconnecting && this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
  }

  /** Leaves the session (close 1000); the server tells the others `clientDisconnected`. */
  close(): void {
    if (this.closed) return;
    this.closedByUs = true;
    if (!this.reconnecting) this.ws.close(1000);
    // Report at once; the server's echo of the close frame changes nothing.
    this.end(1000);
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
    if (this.closed || this.reconnecting) return;
    // Lost (not left, not forced out, not refused): resume if the server allows.
    const lost = !this.closedByUs && !this.forced && code !== 4003 && (code === 1006 || code === 1001 || code === 1011 || code === 4008);
    if (lost && this.resumeInfo) {
      this.startReconnecting();
      return;
    }
    this.end(code);
  }

  private end(code: number) {
    if (this.closed) return;
    this.closed = true;
    this.reconnecting = false;
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
    const interval = this.resumeInfo ? RESUMABLE_WATCHDOG_INTERVAL_MS : WATCHDOG_INTERVAL_MS;
    const timeout = this.resumeInfo ? RESUMABLE_WATCHDOG_TIMEOUT_MS : WATCHDOG_TIMEOUT_MS;
    if (this.watchdog) clearInterval(this.watchdog);
    this.pingSentAt = null;
    this.watchdog = setInterval(() => {
      if (this.closed || this.reconnecting) return;
      if (this.pingSentAt !== null) {
        if (Date.now() - this.pingSentAt > timeout) {
          logger.warn('no answer from the server: treating the connection as lost');
          const ws = this.ws;
          ws.onclose = null;
          try {
            ws.close(4008);
          } catch {
            /* ignore */
          }
          this.onSocketClosed(1006);
        }
        return;
      }
      this.pingSentAt = Date.now();
      this.request({ type: 'ping' }, 'other', 2 * timeout + 60_000).then(
        () => {
          this.pingSentAt = null;
        },
        () => undefined,
      );
    }, interval);
  }

  // ----- resuming -----

  /** The WebSocket is lost: try to resume until the server's grace period is over. */
  private startReconnecting() {
    const info = this.resumeInfo!;
    this.reconnecting = true;
    this.pingSentAt = null;
    logger.warn('the connection to the session was lost; reconnecting');
    this.handlers.onReconnecting?.();
    const deadline = Date.now() + info.graceMs;
    const attempt = async (n: number): Promise<void> => {
      if (this.closed || !this.reconnecting) return;
      if (Date.now() >= deadline) {
        logger.warn('could not reconnect within the grace period');
        return this.end(1006);
      }
      const outcome = await this.tryResume(info);
      if (outcome === 'resumed' || this.closed) return;
      if (outcome === 'refused') return this.end(1006);
      const pause = RESUME_BACKOFF_MS[Math.min(n, RESUME_BACKOFF_MS.length - 1)]!;
      setTimeout(() => void attempt(n + 1), pause);
    };
    void attempt(0);
  }

  /** One resume attempt on a new WebSocket. */
  private tryResume(info: ResumeInfo): Promise<'resumed' | 'refused' | 'failed'> {
    return new Promise((resolve) => {
      let ws: WebSocket;
      try {
        ws = new WebSocket(info.url);
      } catch {
        resolve('failed');
        return;
      }
      let done = false;
      const finish = (outcome: 'resumed' | 'refused' | 'failed') => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (outcome !== 'resumed') {
          ws.onclose = null;
          ws.onmessage = null;
          try {
            ws.close();
          } catch {
            /* ignore */
          }
        }
        resolve(outcome);
      };
      const timer = setTimeout(() => finish('failed'), RESUME_ATTEMPT_MS);
      ws.onopen = () =>
        ws.send(
          JSON.stringify({
            type: 'resume',
            version: PROTOCOL_VERSION,
            sessionId: info.sessionId,
            connectionId: info.connectionId,
            resumeToken: info.token,
            received: this.received,
          }),
        );
      ws.onerror = () => logger.debug('resume: socket error');
      ws.onclose = () => finish('failed');
      ws.onmessage = (ev) => {
        const msg = parse(ev.data);
        if (msg?.type === 'resumed') {
          finish(this.resumed(ws, msg) ? 'resumed' : 'refused');
        } else if (msg?.type === 'error') {
          logger.warn(`the server refused to resume the connection: ${(msg as ErrorMessage).message}`);
          finish('refused');
        } else {
          finish('failed');
        }
      };
    });
  }

  /** `resumed` came on `ws`: it becomes the channel's socket; what the server did not get
   * is sent again. Returns false if that is no longer possible. */
  private resumed(ws: WebSocket, msg: ResumedMessage): boolean {
    const from = msg.heard - this.sentBase;
    if (from < 0 || from > this.sent.length) {
      logger.warn('the server missed more messages than this client kept');
      return false;
    }
    const old = this.ws;
    old.onclose = null;
    old.onmessage = null;
    try {
      old.close();
    } catch {
      /* ignore */
    }
    this.ws = ws;
    ws.onerror = () => logger.debug('signaling socket error');
    ws.onclose = (ev) => this.onSocketClosed(ev.code);
    ws.onmessage = (ev) => {
      this.received++;
      const m = parse(ev.data);
      if (m) this.onMessage(m);
    };
    this.reconnecting = false;
    for (const text of this.sent.slice(from)) ws.send(text);
    logger.info('reconnected to the session');
    this.startWatchdog();
    this.handlers.onReconnected?.();
    return true;
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
