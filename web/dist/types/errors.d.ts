import type { ErrorMessage } from './protocol';
/** Numeric codes, as OpenTok.js's `OT.ExceptionCodes`. */
export declare const ExceptionCodes: {
    readonly JS_EXCEPTION: 2000;
    readonly AUTHENTICATION_ERROR: 1004;
    readonly INVALID_SESSION_ID: 1005;
    readonly CONNECT_FAILED: 1006;
    readonly CONNECT_REJECTED: 1007;
    readonly CONNECTION_TIMEOUT: 1008;
    readonly NOT_CONNECTED: 1010;
    readonly INVALID_PARAMETER: 1011;
    readonly P2P_CONNECTION_FAILED: 1013;
    readonly API_RESPONSE_FAILURE: 1014;
    readonly PEER_CONNECTION_NOT_CONNECTED: 1015;
    readonly TERMS_OF_SERVICE_FAILURE: 1026;
    readonly CONNECTION_LIMIT_EXCEEDED: 1027;
    readonly UNABLE_TO_PUBLISH: 1500;
    readonly UNABLE_TO_SUBSCRIBE: 1501;
    readonly UNSUPPORTED_VIDEO_CODEC: 1502;
    readonly UNABLE_TO_FORCE_DISCONNECT: 1520;
    readonly UNABLE_TO_FORCE_UNPUBLISH: 1530;
    readonly UNABLE_TO_FORCE_MUTE: 1540;
    readonly PUBLISHER_ICE_WORKFLOW_FAILED: 1553;
    readonly SUBSCRIBER_ICE_WORKFLOW_FAILED: 1554;
    readonly STREAM_LIMIT_EXCEEDED: 1605;
    readonly UNEXPECTED_SERVER_RESPONSE: 2001;
    readonly GET_RTC_STATS_REPORT_NOT_SUPPORTED: 2031;
};
/** The `name` of every error this SDK reports. */
export type OTErrorName = 'OT_AUTHENTICATION_ERROR' | 'OT_INVALID_SESSION_ID' | 'OT_CONNECT_FAILED' | 'OT_NOT_CONNECTED' | 'OT_DISCONNECTED' | 'OT_INVALID_PARAMETER' | 'OT_PERMISSION_DENIED' | 'OT_NOT_FOUND' | 'OT_STREAM_NOT_FOUND' | 'OT_STREAM_DESTROYED' | 'OT_STREAM_CREATE_FAILED' | 'OT_UNABLE_TO_SUBSCRIBE' | 'OT_CREATE_PEER_CONNECTION_FAILED' | 'OT_SET_REMOTE_DESCRIPTION_FAILED' | 'OT_ICE_WORKFLOW_FAILED' | 'OT_PEER_CONNECTION_NOT_CONNECTED' | 'OT_TIMEOUT' | 'OT_CANCEL' | 'OT_UNEXPECTED_SERVER_RESPONSE' | 'OT_USER_MEDIA_ACCESS_DENIED' | 'OT_NO_DEVICES_FOUND' | 'OT_NO_VALID_CONSTRAINTS' | 'OT_HARDWARE_UNAVAILABLE' | 'OT_CONSTRAINTS_NOT_SATISFIED' | 'OT_NOT_SUPPORTED' | 'OT_UNABLE_TO_CAPTURE_MEDIA' | 'OT_UNABLE_TO_CAPTURE_SCREEN' | 'OT_SCREEN_SHARING_NOT_SUPPORTED' | 'OT_MEDIA_ERR_ABORTED' | 'OT_MEDIA_ERR_DECODE' | 'OT_MEDIA_ERR_NETWORK' | 'OT_MEDIA_ERR_SRC_NOT_SUPPORTED' | 'OT_UNSUPPORTED_BROWSER' | 'OT_CONNECTION_LIMIT_EXCEEDED' | 'OT_STREAM_LIMIT_EXCEEDED' | 'OT_RATE_LIMIT_EXCEEDED';
/** An error from the SDK: `name` says what kind, `code` is OpenTok's number for it. */
export declare class OTError extends Error {
    readonly name: OTErrorName;
    readonly code: number;
    /** The server's error code (`permissionDenied`, …) when the server refused a request. */
    readonly serverCode?: string;
    /**
     * The server's reason for a refused token (`expired`, `bad_signature`, …) or for a limit
     * (`rate_limited`, `session_full`, `stream_limit`, `subscription_limit`).
     */
    readonly reason?: string;
    constructor(name: OTErrorName, message: string, code: number, detail?: {
        serverCode?: string;
        reason?: string | null;
    });
}
export declare function otError(name: OTErrorName, message: string, code: number): OTError;
/** What a refused request means for the operation that sent it. */
export type Operation = 'connect' | 'publish' | 'subscribe' | 'signal' | 'forceDisconnect' | 'forceUnpublish' | 'forceMute' | 'other';
/** Maps a server `error` reply to the OpenTok error the operation reports. */
export declare function fromServerError(op: Operation, e: ErrorMessage): OTError;
/** Maps a getUserMedia / getDisplayMedia failure to OpenTok's names. */
export declare function fromMediaError(e: unknown, screen: boolean): OTError;
/** Any thrown value as an OTError (unknown failures become OT_UNEXPECTED_SERVER_RESPONSE). */
export declare function asOTError(e: unknown, fallback: OTErrorName, code: number): OTError;
