// The official `@vonage/video` SDK, unchanged, authenticating as a Vonage application
// (`parlor app create`), with every HTTP exchange it makes recorded, and a recorder of
// per-method results for docs/compatibility.md (sdk "vonage-node").
// Not a test file itself (node --test only picks up *.test.mjs).
import { test, after } from 'node:test';
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Video } from '@vonage/video';
import { parlor, b64url } from './helpers.mjs';


// The package's exports map hides package.json; read it from node_modules.
const here = path.dirname(fileURLToPath(import.meta.url));
const RESULTS_DIR_PATH = path.resolve(here, '..', 'results');
export const VONAGE_VERSION = JSON.parse(readFileSync(
  path.resolve(here, '..', 'node_modules', '@vonage', 'video', 'package.json'), 'utf8')).version;
export { Video };

// --- HTTP exchange log ------------------------------------------------------------------
// The SDK (through @vonage/server-client) calls the global `fetch`. Wrap it to record each
// exchange and hand the SDK an identical response.
/** Every request the SDK made: {method, url, path, query, headers, requestBody, status, contentType, responseBody}. */
export const exchanges = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, opts = {}) => {
  const res = await realFetch(url, opts);
  // Bytes, not text: a download (an archive) must reach the caller unchanged.
  const bytes = await res.arrayBuffer();
  const text = new TextDecoder().decode(bytes);
  const u = new URL(String(url));
  exchanges.push({
    method: (opts.method || 'GET').toUpperCase(),
    url: String(url),
    path: u.pathname,
    query: u.search,
    headers: { ...(opts.headers || {}) },
    requestBody: typeof opts.body === 'string' ? opts.body : opts.body == null ? '' : String(opts.body),
    status: res.status,
    contentType: res.headers.get('content-type'),
    responseBody: text,
  });
  return new Response(res.status === 204 || res.status === 304 ? null : bytes, {
    status: res.status, statusText: res.statusText, headers: res.headers,
  });
};

/** The exchanges made since `mark` (an index into `exchanges`). */
export const since = (mark) => exchanges.slice(mark);

/** One line per exchange, for assertion messages. */
export function describeExchanges(list) {
  return list.map((x) => `${x.method} ${x.path}${x.query} ${x.requestBody} -> ${x.status} ${x.contentType} ${x.responseBody}`).join('\n');
}

/**
 * Creates a Vonage application in the server's data dir with `parlor app create` (an RSA
 * key pair; the private key is printed once) → {applicationId, privateKey, keyId}.
 */
export function createApplication(server, name = 'compat') {
  const r = parlor(['app', 'create', '--name', name, '--json', '--data-dir', server.dataDir]);
  if (r.status !== 0) throw new Error(`parlor app create failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** The SDK client for `app` against `server`, exactly as an application would build it. */
export function videoClient(server, app) {
  return new Video({ applicationId: app.applicationId, privateKey: app.privateKey }, { videoHost: server.baseUrl });
}

/** The status and server message of an SDK error (a VetchError carries the response). */
export async function errorInfo(err) {
  const res = err && err.response;
  if (!res) return { status: null, message: String(err && err.message ? err.message : err) };
  let message = '';
  try {
    const body = await res.clone().json();
    message = body.message || '';
  } catch { /* not JSON */ }
  return { status: res.status, message, text: String(err.message) };
}

/** Resolves with the SDK error of `promise` (fails if it succeeds). */
export async function rejection(promise) {
  try {
    const v = await promise;
    throw new Error(`expected an error, got ${JSON.stringify(v)}`);
  } catch (e) {
    if (e && e.message && e.message.startsWith('expected an error')) throw e;
    return { err: e, ...(await errorInfo(e)) };
  }
}

export { b64url };

// --- per-method results ------------------------------------------------------------------

/**
 * Registers the suite's results file, `results/vonage-node-<suite>.json` (the same record
 * shape as sdk.mjs's `compatSuite`, with sdk "vonage-node"). Returns `compatTest(meta, fn)`.
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
    mkdirSync(RESULTS_DIR_PATH, { recursive: true });
    const out = records.map(({ check, ...r }) => r);
    writeFileSync(path.join(RESULTS_DIR_PATH, `vonage-node-${suite}.json`), `${JSON.stringify(out, null, 2)}\n`);
  });
  return function compatTest(meta, fn, { timeout = 30000 } = {}) {
    registered += 1;
    test(`${meta.method}: ${meta.check || meta.operation}`, { timeout }, async () => {
      const rec = {
        sdk: 'vonage-node', version: VONAGE_VERSION, method: meta.method, operation: meta.operation,
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
