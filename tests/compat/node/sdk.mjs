// The official `opentok` Node SDK, unchanged, with every HTTP exchange it makes recorded
// (so tests can check the exact request sent and the status the server answered), and a
// recorder of per-method results for docs/compatibility.md.
// Not a test file itself (node --test only picks up *.test.mjs).
import { test, after } from 'node:test';
import { createRequire } from 'node:module';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
export const RESULTS_DIR = path.resolve(here, '..', 'results');

// --- HTTP exchange log ------------------------------------------------------------------
// The SDK calls `require('node-fetch')` once, when lib/api.js loads. Replace that module's
// export (in opentok's own resolution) with a wrapper that records each exchange and hands
// the SDK an identical response, before the SDK is loaded.
const sdkRequire = createRequire(require.resolve('opentok'));
const fetchPath = sdkRequire.resolve('node-fetch');
const realFetch = sdkRequire('node-fetch');

/** Every request the SDK made: {method, url, path, requestBody, status, contentType, responseBody}. */
export const exchanges = [];

async function recordingFetch(url, opts = {}) {
  const res = await realFetch(url, opts);
  const text = await res.text();
  const u = new URL(String(url));
  exchanges.push({
    method: (opts.method || 'GET').toUpperCase(),
    url: String(url),
    path: u.pathname,
    query: u.search,
    requestBody: typeof opts.body === 'string' ? opts.body : opts.body == null ? '' : String(opts.body),
    status: res.status,
    contentType: res.headers.get('content-type'),
    responseBody: text,
  });
  return new realFetch.Response(text, { status: res.status, statusText: res.statusText, headers: res.headers, url: res.url });
}
Object.assign(recordingFetch, realFetch);
recordingFetch.default = recordingFetch;
require.cache[fetchPath].exports = recordingFetch;

export const OpenTok = require('opentok');
export const SDK_VERSION = require('opentok/package.json').version;

/** The exchanges made since `mark` (an index into `exchanges`). */
export const since = (mark) => exchanges.slice(mark);

/** One `(method path) -> status body` line per exchange, for assertion messages. */
export function describeExchanges(list) {
  return list.map((x) => `${x.method} ${x.path}${x.query} ${x.requestBody} -> ${x.status} ${x.contentType} ${x.responseBody}`).join('\n');
}

/**
 * Calls an SDK method in callback style; resolves with {err, value, extra} on its first
 * callback (some SDK paths call back twice), or with {timedOut: true}. A synchronous throw
 * resolves as {thrown}.
 */
export function call(fn, ...args) {
  return new Promise((resolve) => {
    let settled = false;
    const timer = setTimeout(() => { if (!settled) { settled = true; resolve({ timedOut: true }); } }, 15000);
    const cb = (err, value, ...extra) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ err: err || null, value, extra });
    };
    try {
      fn(...args, cb);
    } catch (thrown) {
      if (!settled) { settled = true; clearTimeout(timer); resolve({ thrown }); }
    }
  });
}

/** Like `call`, but rejects on an error, returning the value. */
export async function ok(fn, ...args) {
  const r = await call(fn, ...args);
  if (r.timedOut) throw new Error('the SDK never called back');
  if (r.thrown) throw r.thrown;
  if (r.err) throw new Error(`SDK error: ${errorText(r.err)}`);
  return r.value;
}

/** The text an application would see for an SDK error. */
export function errorText(err) {
  if (err == null) return '';
  // The SDK's error classes are anonymous functions sharing Error.prototype's constructor.
  const sdkName = SDK_ERRORS.find((n) => typeof OpenTok[n] === 'function' && err instanceof OpenTok[n]);
  const name = sdkName || (err.constructor && err.constructor.name) || 'Error';
  return `${name}: ${err.message ?? String(err)}`;
}
const SDK_ERRORS = ['RequestError', 'NotFoundError', 'AuthError', 'ArgumentError', 'SignalError',
  'ForceDisconnectError', 'ArchiveError', 'SipError', 'CallbackError', 'CaptionsError'];

// --- per-method results ------------------------------------------------------------------

/**
 * Registers the suite's results file, `results/node-<suite>.json`: an array of
 * {sdk, version, method, operation, feature, status, note, message_surfaced?, error_raised?}, written
 * after the suite (failed and unfinished tests are recorded as "fails").
 *
 * Returns `compatTest(meta, fn)`: a node:test test for one SDK method. `meta` is
 * {method, operation, feature, check?}; `fn(rec)` may set `rec.status` ("works" by default,
 * "501", "n/a"), `rec.note`, and for a 501 `rec.message_surfaced` (the error the application
 * sees carries the server's message) and `rec.error_raised` (the SDK reported an error at all).
 */
export function compatSuite(suite) {
  const records = [];
  let registered = 0;
  after(() => {
    if (records.length < registered) {
      // A filtered run (--test-name-pattern, --test-only) must not overwrite a full result.
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
    writeFileSync(path.join(RESULTS_DIR, `node-${suite}.json`), `${JSON.stringify(out, null, 2)}\n`);
  });
  return function compatTest(meta, fn, { timeout = 25000 } = {}) {
    registered += 1;
    test(`${meta.method}: ${meta.check || meta.operation}`, { timeout }, async () => {
      const rec = {
        sdk: 'node', version: SDK_VERSION, method: meta.method, operation: meta.operation,
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
        delete rec.message_surfaced;
        delete rec.error_raised;
        throw e;
      }
    });
  };
}
