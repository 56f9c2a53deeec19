// Small helpers: completion-handler plumbing, deferreds, timeouts, the default server URL.

import { OTError, type OTErrorName, otError } from './errors';
import { logger } from './log';

export type Callback = (error?: OTError) => void;

/**
 * Runs `work` and reports its outcome both ways OpenTok.js does: to the completion handler
 * (error first, or no argument on success) and through the returned promise. When a
 * handler is given, a rejection the caller ignores is not reported as unhandled.
 */
export function complete<T>(work: Promise<T>, callback?: (error?: OTError, value?: T) => void): Promise<T> {
  if (callback) {
    work.then(
      (value) => safeCall(() => (value === undefined ? callback() : callback(undefined, value))),
      (error: OTError) => safeCall(() => callback(error)),
    );
    work.catch(() => undefined);
  }
  return work;
}

function safeCall(f: () => void) {
  try {
    f();
  } catch (e) {
    logger.error('a completion handler threw:', e);
  }
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
  settled: boolean;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  const d: Deferred<T> = {
    promise,
    settled: false,
    resolve(v) {
      if (d.settled) return;
      d.settled = true;
      resolve(v);
    },
    reject(e) {
      if (d.settled) return;
      d.settled = true;
      reject(e);
    },
  };
  return d;
}

/** Rejects with `OT_TIMEOUT` (or `name`) if `p` does not settle within `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string, name: OTErrorName = 'OT_TIMEOUT', code = 1500): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(otError(name, `${what} did not complete within ${ms} ms`, code)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** The server's base URL from the URL the SDK was loaded from: `https://host/sdk/parlor.js` → `https://host`. */
export function serverUrlFromScript(scriptUrl: string | undefined | null): string | undefined {
  if (!scriptUrl) return undefined;
  try {
    const url = new URL(scriptUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    const path = url.pathname.replace(/\/sdk\/[^/]*$/, '');
    return url.origin + (path === url.pathname ? '' : path);
  } catch {
    return undefined;
  }
}

/** `http(s)://host[/prefix]` → `ws(s)://host[/prefix]/v1/rtc`. */
export function signalingUrl(serverUrl: string): string {
  const base = typeof location !== 'undefined' ? location.href : undefined;
  const url = new URL(serverUrl, base);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  else if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw otError('OT_INVALID_PARAMETER', `serverUrl must be an http(s) or ws(s) URL, not ${serverUrl}`, 1011);
  }
  url.pathname = url.pathname.replace(/\/+$/, '') + '/v1/rtc';
  url.search = '';
  url.hash = '';
  return url.toString();
}

/** Pixel sizes: numbers are pixels, strings are used as given ('100%'). */
export function cssSize(v: string | number | undefined, fallback: string): string {
  if (v === undefined || v === null || v === '') return fallback;
  return typeof v === 'number' ? `${v}px` : v;
}

export function isElement(v: unknown): v is HTMLElement {
  return typeof HTMLElement !== 'undefined' && v instanceof HTMLElement;
}

/** Bytes of `s` in UTF-8. */
export function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}

/** A unique id for DOM elements and objects. */
let counter = 0;
export function uniqueId(prefix: string): string {
  counter += 1;
  const rand = Math.random().toString(36).slice(2, 8);
  return `${prefix}_${rand}${counter}`;
}
