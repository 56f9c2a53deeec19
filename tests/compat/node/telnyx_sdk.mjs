// The official `telnyx` Node SDK, unchanged, driven against a Parlor server's Telnyx Video
// Rooms API (`/v2`), with every HTTP exchange it makes recorded; plus native room clients
// (`parlor client subscribe|publish --session ROOM_ID --token JOIN_TOKEN`) and the
// assertions the Rooms suites share (the `{errors: [...]}` shape, polling, timestamps).
// Not a test file itself (node --test only picks up *.test.mjs).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Telnyx from 'telnyx';
import { b64urlDecode } from './helpers.mjs';
import { LiveClient, stopAllClients } from './live.mjs';

// TELNYX_CLIENT_ID/SECRET switch the SDK to OAuth against api.telnyx.com; the others would
// override what the tests pass. None of them may leak in from the environment.
for (const k of ['TELNYX_CLIENT_ID', 'TELNYX_CLIENT_SECRET', 'TELNYX_API_KEY', 'TELNYX_BASE_URL',
  'TELNYX_PUBLIC_KEY', 'TELNYX_CUSTOM_HEADERS', 'TELNYX_LOG']) {
  delete process.env[k];
}

const here = path.dirname(fileURLToPath(import.meta.url));
export const TELNYX_VERSION = JSON.parse(readFileSync(
  path.resolve(here, '..', 'node_modules', 'telnyx', 'package.json'), 'utf8')).version;
export { Telnyx };
const RESULTS_DIR = path.resolve(here, '..', 'results');

// --- per-method results ------------------------------------------------------------------

/**
 * Registers the suite's results file, `results/telnyx-node-<suite>.json`: the record shape of
 * sdk.mjs's `compatSuite` ({sdk, version, method, operation, feature, status, note}), with sdk
 * "telnyx-node". compat_table.py renders these records as the Telnyx table.
 *
 * Returns `compatTest(title, meta, fn)`: a node:test test named `title` for one SDK method.
 * `meta` is {method, operation, feature, check?} (`method` may name several, "a / b");
 * `fn(rec)` sets `rec.note` (what was checked). A test that throws is recorded as "fails"
 * with its first error line; one that never finished, as "fails" too. A filtered run
 * (--test-name-pattern, --test-only) writes nothing.
 */
export function compatSuite(suite) {
  const records = [];
  let registered = 0;
  after(() => {
    if (records.length < registered) {
      console.log(`# compat results not written: ${registered - records.length} of ${registered} tests did not run`);
      return;
    }
    for (const r of records) {
      if (!r.status) {
        r.status = 'fails';
        r.note = `${r.check ? `${r.check}: ` : ''}did not finish (timed out)`;
      }
    }
    mkdirSync(RESULTS_DIR, { recursive: true });
    const out = records.map(({ check, ...r }) => r);
    writeFileSync(path.join(RESULTS_DIR, `telnyx-node-${suite}.json`), `${JSON.stringify(out, null, 2)}\n`);
  });
  return function compatTest(title, meta, fn, { timeout = 30000 } = {}) {
    registered += 1;
    test(title, { timeout }, async () => {
      const rec = {
        sdk: 'telnyx-node', version: TELNYX_VERSION, method: meta.method, operation: meta.operation,
        feature: meta.feature, status: null, note: '', check: meta.check,
      };
      records.push(rec);
      try {
        await fn(rec);
        if (!rec.status) rec.status = 'works';
      } catch (e) {
        rec.status = 'fails';
        const first = String(e && e.message ? e.message : e).split('\n')[0].slice(0, 300);
        rec.note = `${meta.check ? `${meta.check}: ` : ''}${first}`;
        throw e;
      }
    });
  };
}

/** `value`, which an earlier test of the suite made; fails naming it if that test did not. */
export function need(value, what) {
  assert.ok(value, `setup: ${what} (made by an earlier test) is missing`);
  return value;
}

// --- HTTP exchange log ------------------------------------------------------------------

/**
 * Every request made through `recordingFetch` (the SDK's and `raw`'s): {method, url, path,
 * query (decoded), authorization, requestContentType, requestBody (null: no body), status,
 * contentType, responseBody}.
 */
export const exchanges = [];

async function recordingFetch(url, init = {}) {
  const res = await fetch(url, init);
  const bytes = await res.arrayBuffer();
  const text = new TextDecoder().decode(bytes);
  const u = new URL(String(url));
  const headers = new Headers(init.headers || {});
  exchanges.push({
    method: (init.method || 'GET').toUpperCase(),
    url: String(url),
    path: u.pathname,
    rawQuery: u.search,
    query: decodeURIComponent(u.search.replace(/\+/g, ' ')),
    authorization: headers.get('authorization'),
    requestContentType: headers.get('content-type'),
    requestBody: init.body == null ? null : String(init.body),
    status: res.status,
    contentType: res.headers.get('content-type'),
    responseBody: text,
  });
  return new Response(res.status === 204 || res.status === 304 ? null : bytes, {
    status: res.status, statusText: res.statusText, headers: res.headers,
  });
}

/** The exchanges made since `mark` (an index into `exchanges`). */
export const since = (mark) => exchanges.slice(mark);

/** One line per exchange, for assertion messages. */
export function describeExchanges(list) {
  return list.map((x) => `${x.method} ${x.path}${x.rawQuery} body=${x.requestBody === null ? '(none)' : JSON.stringify(x.requestBody)}`
    + ` -> ${x.status} ${x.contentType} ${x.responseBody.slice(0, 600)}`).join('\n');
}

/** The single exchange made since `mark`; checks its method, path and (if given) status. */
export function oneExchange(mark, method, pathname, status) {
  const xs = since(mark);
  assert.equal(xs.length, 1, `expected one request, got:\n${describeExchanges(xs)}`);
  const [x] = xs;
  assert.equal(`${x.method} ${x.path}`, `${method} ${pathname}`, describeExchanges(xs));
  if (status !== undefined) assert.equal(x.status, status, `wrong status:\n${describeExchanges(xs)}`);
  return x;
}

/** No exchange so far got a 5xx or a 409 (the SDKs retry both; the server must use neither). */
export function assertNoServerErrors() {
  const bad = exchanges.filter((x) => x.status >= 500 || x.status === 409);
  assert.deepEqual(bad.map((x) => `${x.method} ${x.path} -> ${x.status}`), [], describeExchanges(bad));
}

// --- clients -----------------------------------------------------------------------------

/** The credential Parlor takes for the Rooms API: `API key:API secret` of a project. */
export const credential = (server) => `${server.apiKey}:${server.apiSecret}`;

/**
 * The SDK client against `server`, as an application would build it (no retries, so every
 * answer is seen once). `apiKey` null sends no Authorization header.
 */
export function telnyxClient(server, { apiKey = credential(server), ...opts } = {}) {
  return new Telnyx({
    apiKey,
    clientID: null,
    clientSecret: null,
    baseURL: `${server.baseUrl}/v2`,
    maxRetries: 0,
    timeout: 15000,
    fetch: recordingFetch,
    ...opts,
  });
}

/**
 * A request by hand (recorded like the SDK's): `body` an object (sent as JSON) or a string
 * (sent as is); `auth` the Authorization header (null: none). → {status, contentType, text, json}.
 */
export async function raw(server, method, pathname, { body, auth = `Bearer ${credential(server)}`, headers = {} } = {}) {
  const h = { Accept: 'application/json', ...headers };
  if (auth !== null) h.Authorization = auth;
  let payload;
  if (body !== undefined) {
    payload = typeof body === 'string' ? body : JSON.stringify(body);
    if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['Content-Type'] = 'application/json';
  }
  const res = await recordingFetch(`${server.baseUrl}${pathname}`, { method, headers: h, body: payload });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, contentType: res.headers.get('content-type'), text, json };
}

// --- errors ------------------------------------------------------------------------------

/**
 * Resolves with the SDK error `promise` rejects with, checking that it is one of `expected`
 * ([[ErrorClass, status], ...]); fails if the call succeeds.
 */
export async function sdkError(promise, ...expected) {
  let value;
  try {
    value = await promise;
  } catch (err) {
    const names = expected.map(([C, s]) => `${C.name} ${s}`).join(' or ');
    assert.ok(err instanceof Telnyx.APIError, `expected ${names}, got a non-API error: ${err && err.stack}`);
    const ok = expected.some(([C, s]) => err instanceof C && err.status === s);
    assert.ok(ok, `expected ${names}, got ${err.constructor.name} ${err.status}: ${err.message}`);
    return err;
  }
  const shown = value && typeof value === 'object' && 'data' in value ? JSON.stringify(value.data) : String(value);
  assert.fail(`expected an error, the call succeeded: ${shown}`);
}

/**
 * Checks a Telnyx error body: `{errors: [{code: "<digits>", title, detail, source?}]}` with
 * at least one error; `code`, `pointer` (source.pointer), `parameter` (source.parameter)
 * and `mentions` (a text some error's detail contains) must match one of them.
 */
export function checkErrors(body, { code, pointer, parameter, mentions } = {}) {
  const shown = JSON.stringify(body);
  assert.ok(body && typeof body === 'object' && Array.isArray(body.errors) && body.errors.length > 0,
    `not a Telnyx error body: ${shown}`);
  for (const e of body.errors) {
    assert.equal(typeof e.code, 'string', `errors[].code must be a string: ${shown}`);
    assert.match(e.code, /^\d+$/, `errors[].code: ${shown}`);
    assert.ok(typeof e.title === 'string' && e.title.length > 0, `errors[].title: ${shown}`);
    assert.ok(typeof e.detail === 'string' && e.detail.length > 0, `errors[].detail: ${shown}`);
    if (e.source !== undefined && e.source !== null) assert.equal(typeof e.source, 'object', `errors[].source: ${shown}`);
  }
  const any = (f) => body.errors.some(f);
  if (code !== undefined) assert.ok(any((e) => e.code === code), `no error with code ${code}: ${shown}`);
  if (pointer !== undefined) assert.ok(any((e) => e.source && e.source.pointer === pointer), `no error with source.pointer ${pointer}: ${shown}`);
  if (parameter !== undefined) assert.ok(any((e) => e.source && e.source.parameter === parameter), `no error with source.parameter ${parameter}: ${shown}`);
  if (mentions !== undefined) assert.ok(any((e) => e.detail.includes(mentions)), `no error detail mentions ${JSON.stringify(mentions)}: ${shown}`);
  return body.errors;
}

/** `sdkError` + `checkErrors` on the body the SDK parsed (`err.error`), and JSON content. */
export async function expectApiError(promise, expected, checks = {}) {
  const mark = exchanges.length;
  const err = await sdkError(promise, ...expected);
  const x = exchanges.slice(mark).at(-1);
  assert.ok(x, 'the SDK made no request');
  assert.match(x.contentType || '', /^application\/json\b/, describeExchanges([x]));
  checkErrors(err.error, checks);
  return err;
}

export const E = {
  400: [Telnyx.BadRequestError, 400],
  401: [Telnyx.AuthenticationError, 401],
  404: [Telnyx.NotFoundError, 404],
  422: [Telnyx.UnprocessableEntityError, 422],
};

/**
 * Runs `fn(c)` for every case, all of them even after a failure, then fails once listing
 * every case that failed (`label(c)` names a case).
 */
export async function eachCase(cases, label, fn) {
  const failed = [];
  for (const c of cases) {
    try {
      await fn(c);
    } catch (e) {
      failed.push(`${label(c)}: ${String(e && e.message ? e.message : e).split('\n')[0]}`);
    }
  }
  assert.deepEqual(failed, [], `${failed.length} of ${cases.length} cases failed:\n${failed.join('\n')}`);
}

// --- values ------------------------------------------------------------------------------

/** A unique room name: `prefix` plus a random suffix. */
export const uniqueName = (prefix = 'room') => `${prefix}-${randomBytes(5).toString('hex')}`;

/** A random well-formed UUID (v4) that names nothing. */
export const randomUuid = () => globalThis.crypto.randomUUID();

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Asserts an ISO 8601 timestamp; returns it in epoch milliseconds. */
export function isoTime(value, what = 'timestamp') {
  assert.equal(typeof value, 'string', `${what} is not a string: ${JSON.stringify(value)}`);
  assert.match(value, ISO_RE, `${what} is not an ISO 8601 timestamp`);
  const ms = Date.parse(value);
  assert.ok(Number.isFinite(ms), `${what} does not parse: ${value}`);
  return ms;
}

/** The UTC date (YYYY-MM-DD) of epoch milliseconds. */
export const utcDate = (ms) => new Date(ms).toISOString().slice(0, 10);

/** A JWT's header and payload, decoded (no signature check). */
export function jwtParts(token) {
  const parts = String(token).split('.');
  assert.equal(parts.length, 3, `not a JWT: ${token}`);
  return { header: JSON.parse(b64urlDecode(parts[0])), payload: JSON.parse(b64urlDecode(parts[1])) };
}

/** Every item of an SDK list call, through its auto-pagination. */
export async function collect(pagePromise) {
  const out = [];
  for await (const item of pagePromise) out.push(item);
  return out;
}

/**
 * Resolves with the first truthy value of `fn()` (sync or async), polled every 100 ms; fails
 * after `timeoutMs` with `what` and the last value or error seen.
 */
export async function poll(what, fn, { timeoutMs = 5000, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) {
      const shown = last instanceof Error ? last.message : JSON.stringify(last);
      assert.fail(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${shown})`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// --- native room clients -----------------------------------------------------------------

/** A safety cap: no client outlives a suite even if a test forgets it. */
const MAX_CLIENT_SECONDS = '90';

/**
 * Starts `parlor client subscribe --json` into room `roomId` with a join token, without
 * waiting (for joins that must be refused: `await c.waitExit()`).
 */
export function startSubscriber(server, roomId, token, label = 'subscriber') {
  return new LiveClient(label, ['subscribe', '--url', server.baseUrl, '--session', roomId, '--token', token,
    '--json', '--duration', MAX_CLIENT_SECONDS]);
}

/** A subscriber in the room, once it printed `sessionConnected`; `participantId` is its connection id. */
export async function joinSubscriber(server, roomId, token, label = 'subscriber') {
  const c = startSubscriber(server, roomId, token, label);
  const connected = await c.waitEvent('sessionConnected');
  c.participantId = connected.connection.connectionId;
  return c;
}

/**
 * A publisher looping `media` (live.mjs makeMedia) into the room, once the server accepted
 * its stream; with `participantId` (its connection id) and `streamId`.
 */
export async function joinPublisher(server, roomId, token, media, { label = 'publisher', audio = true } = {}) {
  const args = ['publish', '--url', server.baseUrl, '--session', roomId, '--token', token, '--video', media.video,
    '--loop', '--duration', MAX_CLIENT_SECONDS, '--name', label];
  if (audio) args.push('--audio', media.audio);
  const c = new LiveClient(label, args);
  c.participantId = (await c.waitStderr(/as connection (\S+)/))[1];
  c.streamId = (await c.waitStderr(/published stream (\S+)/))[1];
  return c;
}

/** Stops every room client still running (for `after` hooks). */
export const stopAllRoomClients = stopAllClients;
