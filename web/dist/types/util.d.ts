import { OTError, type OTErrorName } from './errors';
export type Callback = (error?: OTError) => void;
/**
 * Runs `work` and reports its outcome both ways OpenTok.js does: to the completion handler
 * (error first, or no argument on success) and through the returned promise. When a
 * handler is given, a rejection the caller ignores is not reported as unhandled.
 */
export declare function complete<T>(work: Promise<T>, callback?: (error?: OTError, value?: T) => void): Promise<T>;
export interface Deferred<T> {
    promise: Promise<T>;
    resolve(value: T): void;
    reject(error: unknown): void;
    settled: boolean;
}
export declare function deferred<T>(): Deferred<T>;
/** Rejects with `OT_TIMEOUT` (or `name`) if `p` does not settle within `ms`. */
export declare function withTimeout<T>(p: Promise<T>, ms: number, what: string, name?: OTErrorName, code?: number): Promise<T>;
/** The server's base URL from the URL the SDK was loaded from: `https://host/sdk/parlor.js` → `https://host`. */
export declare function serverUrlFromScript(scriptUrl: string | undefined | null): string | undefined;
/** `http(s)://host[/prefix]` → `ws(s)://host[/prefix]/v1/rtc`. */
export declare function signalingUrl(serverUrl: string): string;
/** Pixel sizes: numbers are pixels, strings are used as given ('100%'). */
export declare function cssSize(v: string | number | undefined, fallback: string): string;
export declare function isElement(v: unknown): v is HTMLElement;
/** Bytes of `s` in UTF-8. */
export declare function utf8Length(s: string): number;
export declare function uniqueId(prefix: string): string;
