// Errors as OpenTok.js reports them: an Error with `name` (an OT_* string), a numeric
// `code` and a `message`. Completion handlers get one as their first argument; promises
// reject with one.

import type { ErrorMessage } from './protocol';

/** Numeric codes, as OpenTok.js's `OT.ExceptionCodes`. */
export const ExceptionCodes = {
  JS_EXCEPTION: 2000,
  AUTHENTICATION_ERROR: 1004,
  INVALID_SESSION_ID: 1005,
  CONNECT_FAILED: 1006,
  CONNECT_REJECTED: 1007,
  CONNECTION_TIMEOUT: 1008,
  NOT_CONNECTED: 1010,
  INVALID_PARAMETER: 1011,
  P2P_CONNECTION_FAILED: 1013,
  API_RESPONSE_FAILURE: 1014,
  PEER_CONNECTION_NOT_CONNECTED: 1015,
  TERMS_OF_SERVICE_FAILURE: 1026,
  CONNECTION_LIMIT_EXCEEDED: 1027,
  UNABLE_TO_PUBLISH: 1500,
  UNABLE_TO_SUBSCRIBE: 1501,
  UNSUPPORTED_VIDEO_CODEC: 1502,
  UNABLE_TO_FORCE_DISCONNECT: 1520,
  UNABLE_TO_FORCE_UNPUBLISH: 1530,
  UNABLE_TO_FORCE_MUTE: 1540,
  PUBLISHER_ICE_WORKFLOW_FAILED: 1553,
  SUBSCRIBER_ICE_WORKFLOW_FAILED: 1554,
  STREAM_LIMIT_EXCEEDED: 1605,
  UNEXPECTED_SERVER_RESPONSE: 2001,
  GET_RTC_STATS_REPORT_NOT_SUPPORTED: 2031,
} as const;

/** The `name` of every error this SDK reports. */
export type OTErrorName =
  | 'OT_AUTHENTICATION_ERROR'
  | 'OT_INVALID_SESSION_ID'
  | 'OT_CONNECT_FAILED'
  | 'OT_NOT_CONNECTED'
  | 'OT_DISCONNECTED'
  | 'OT_INVALID_PARAMETER'
  | 'OT_PERMISSION_DENIED'
  | 'OT_NOT_FOUND'
  | 'OT_STREAM_NOT_FOUND'
  | 'OT_STREAM_DESTROYED'
  | 'OT_STREAM_CREATE_FAILED'
  | 'OT_UNABLE_TO_SUBSCRIBE'
  | 'OT_CREATE_PEER_CONNECTION_FAILED'
  | 'OT_SET_REMOTE_DESCRIPTION_FAILED'
  | 'OT_ICE_WORKFLOW_FAILED'
  | 'OT_PEER_CONNECTION_NOT_CONNECTED'
  | 'OT_TIMEOUT'
  | 'OT_CANCEL'
  | 'OT_UNEXPECTED_SERVER_RESPONSE'
  | 'OT_USER_MEDIA_ACCESS_DENIED'
  | 'OT_NO_DEVICES_FOUND'
  | 'OT_NO_VALID_CONSTRAINTS'
  | 'OT_HARDWARE_UNAVAILABLE'
  | 'OT_CONSTRAINTS_NOT_SATISFIED'
  | 'OT_NOT_SUPPORTED'
  | 'OT_UNABLE_TO_CAPTURE_MEDIA'
  | 'OT_UNABLE_TO_CAPTURE_SCREEN'
  | 'OT_SCREEN_SHARING_NOT_SUPPORTED'
  | 'OT_MEDIA_ERR_ABORTED'
  | 'OT_MEDIA_ERR_DECODE'
  | 'OT_MEDIA_ERR_NETWORK'
  | 'OT_MEDIA_ERR_SRC_NOT_SUPPORTED'
  | 'OT_UNSUPPORTED_BROWSER'
  | 'OT_CONNECTION_LIMIT_EXCEEDED'
  | 'OT_STREAM_LIMIT_EXCEEDED'
  | 'OT_RATE_LIMIT_EXCEEDED';

/** An error from the SDK: `name` says what kind, `code` is OpenTok's number for it. */
export class OTError extends Error {
  override readonly name: OTErrorName;
  readonly code: number;
  /** The server's error code (`permissionDenied`, …) when the server refused a request. */
  readonly serverCode?: string;
  /**
   * The server's reason for a refused token (`expired`, `bad_signature`, …) or for a limit
   * (`rate_limited`, `session_full`, `stream_limit`, `subscription_limit`).
   */
  readonly reason?: string;

  constructor(
    name: OTErrorName,
    message: string,
    code: number,
    detail: { serverCode?: string; reason?: string | null } = {},
  ) {
    super(message);
    this.name = name;
    this.code = code;
    if (detail.serverCode) this.serverCode = detail.serverCode;
    if (detail.reason) this.reason = detail.reason;
  }
}

export function otError(name: OTErrorName, message: string, code: number): OTError {
  return new OTError(name, message, code);
}

/** What a refused request means for the operation that sent it. */
export type Operation =
  | 'connect'
  | 'publish'
  | 'subscribe'
  | 'signal'
  | 'forceDisconnect'
  | 'forceUnpublish'
  | 'forceMute'
  | 'other';

const OPERATION_CODE: Record<Operation, number> = {
  connect: ExceptionCodes.CONNECT_FAILED,
  publish: ExceptionCodes.UNABLE_TO_PUBLISH,
  subscribe: ExceptionCodes.UNABLE_TO_SUBSCRIBE,
  signal: 500,
  forceDisconnect: ExceptionCodes.UNABLE_TO_FORCE_DISCONNECT,
  forceUnpublish: ExceptionCodes.UNABLE_TO_FORCE_UNPUBLISH,
  forceMute: ExceptionCodes.UNABLE_TO_FORCE_MUTE,
  other: ExceptionCodes.UNEXPECTED_SERVER_RESPONSE,
};

/**
 * Token refusals that are about the session rather than the token. A token for another
 * session is an authentication error in OpenTok.js (1004), as are the other refusals.
 */
const SESSION_REASONS = new Set(['unknown_session']);

/** Maps a server `error` reply to the OpenTok error the operation reports. */
export function fromServerError(op: Operation, e: ErrorMessage): OTError {
  const detail = { serverCode: e.code, reason: e.reason };
  const make = (name: OTErrorName, code: number) => new OTError(name, e.message, code, detail);
  if (op === 'signal') {
    // OpenTok.js reports signal errors with HTTP-like codes.
    switch (e.code) {
      case 'badRequest':
        return make('OT_INVALID_PARAMETER', 400);
      case 'limitExceeded':
        // Too many signals: 429, like the HTTP status; too large a signal: 413, as OpenTok.js.
        if (e.reason === 'rate_limited') return make('OT_RATE_LIMIT_EXCEEDED', 429);
        return make('OT_INVALID_PARAMETER', 413);
      case 'notFound':
        return make('OT_NOT_FOUND', 404);
      case 'permissionDenied':
        return make('OT_PERMISSION_DENIED', 403);
      default:
        return make('OT_UNEXPECTED_SERVER_RESPONSE', ExceptionCodes.UNEXPECTED_SERVER_RESPONSE);
    }
  }
  switch (e.code) {
    case 'authFailed':
      return SESSION_REASONS.has(e.reason ?? '')
        ? make('OT_INVALID_SESSION_ID', ExceptionCodes.INVALID_SESSION_ID)
        : make('OT_AUTHENTICATION_ERROR', ExceptionCodes.AUTHENTICATION_ERROR);
    case 'permissionDenied':
      return make('OT_PERMISSION_DENIED', OPERATION_CODE[op]);
    case 'notFound':
      if (op === 'subscribe') return make('OT_STREAM_NOT_FOUND', OPERATION_CODE[op]);
      return make('OT_NOT_FOUND', OPERATION_CODE[op]);
    case 'limitExceeded':
      // The session's caps (the server's --max-*-per-session).
      if (e.reason === 'session_full') {
        return make('OT_CONNECTION_LIMIT_EXCEEDED', ExceptionCodes.CONNECTION_LIMIT_EXCEEDED);
      }
      if (e.reason === 'stream_limit') {
        return make('OT_STREAM_LIMIT_EXCEEDED', ExceptionCodes.STREAM_LIMIT_EXCEEDED);
      }
      if (e.reason === 'subscription_limit') {
        return make('OT_UNABLE_TO_SUBSCRIBE', ExceptionCodes.UNABLE_TO_SUBSCRIBE);
      }
      return make('OT_INVALID_PARAMETER', ExceptionCodes.INVALID_PARAMETER);
    case 'badRequest':
      return make('OT_INVALID_PARAMETER', ExceptionCodes.INVALID_PARAMETER);
    case 'mediaError':
      return op === 'publish'
        ? make('OT_STREAM_CREATE_FAILED', OPERATION_CODE[op])
        : make('OT_CREATE_PEER_CONNECTION_FAILED', OPERATION_CODE[op]);
    case 'notConnected':
      return make('OT_NOT_CONNECTED', ExceptionCodes.NOT_CONNECTED);
    default:
      return make('OT_UNEXPECTED_SERVER_RESPONSE', ExceptionCodes.UNEXPECTED_SERVER_RESPONSE);
  }
}

/** Maps a getUserMedia / getDisplayMedia failure to OpenTok's names. */
export function fromMediaError(e: unknown, screen: boolean): OTError {
  const err = e instanceof Error ? e : new Error(String(e));
  const code = ExceptionCodes.UNABLE_TO_PUBLISH;
  switch (err.name) {
    case 'NotAllowedError':
    case 'PermissionDeniedError':
    case 'SecurityError':
      return otError('OT_USER_MEDIA_ACCESS_DENIED', `access to ${screen ? 'the screen' : 'camera or microphone'} was denied: ${err.message}`, code);
    case 'NotFoundError':
    case 'DevicesNotFoundError':
      return otError('OT_NO_DEVICES_FOUND', `no device found: ${err.message}`, code);
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return otError('OT_HARDWARE_UNAVAILABLE', `the device could not be started: ${err.message}`, code);
    case 'OverconstrainedError':
    case 'ConstraintNotSatisfiedError':
      return otError('OT_CONSTRAINTS_NOT_SATISFIED', `the media constraints could not be satisfied: ${err.message}`, code);
    case 'TypeError':
    case 'NotSupportedError':
      return screen
        ? otError('OT_SCREEN_SHARING_NOT_SUPPORTED', `screen sharing is not supported: ${err.message}`, code)
        : otError('OT_NOT_SUPPORTED', err.message, code);
    default:
      return screen
        ? otError('OT_UNABLE_TO_CAPTURE_SCREEN', err.message, code)
        : otError('OT_UNABLE_TO_CAPTURE_MEDIA', err.message, code);
  }
}

/** Any thrown value as an OTError (unknown failures become OT_UNEXPECTED_SERVER_RESPONSE). */
export function asOTError(e: unknown, fallback: OTErrorName, code: number): OTError {
  if (e instanceof OTError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return otError(fallback, message, code);
}
