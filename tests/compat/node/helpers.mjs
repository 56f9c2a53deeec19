// Shared helpers for the Node live-compatibility tests.
// Not a test file itself (node --test only picks up *.test.mjs).
import { spawn, spawnSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '..', '..', '..');
export const PARLOR_BIN = process.env.PARLOR_BIN || path.join(REPO_ROOT, 'target', 'debug', 'parlor');

export const API_KEY = '47001234';
// 40 hex characters, no '.' (see opentok-wire.md).
export const API_SECRET = '0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c';
export const WRONG_SECRET = 'aaaabbbbccccddddeeeeffff0000111122223333';

// A test file's process can die without running its after hooks (the runner kills it when
// its output pipe closes, e.g. `node --test | head`). Children started through `setpriv
// --pdeathsig KILL` are then killed by the kernel instead of being left running.
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

/** `spawn`, but the child dies with this process (where util-linux setpriv exists). */
export function spawnReaped(command, args, options) {
  return SETPRIV
    ? spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', command, ...args], options)
    : spawn(command, args, options);
}

const LISTEN_RE = /^parlor listening on (https?:\/\/\d+\.\d+\.\d+\.\d+:(\d+))\s*$/m;
const START_TIMEOUT_MS = 20000;
const STOP_TIMEOUT_MS = 10000;

/**
 * Starts `parlor serve` on a free port with a fresh data dir (shared by the browser tests).
 * Resolves once the server printed its "listening" line. `extraArgs` go after the serve
 * options; `env` is added to this process's environment.
 */
export async function startServer({
  apiKey = API_KEY,
  apiSecret = API_SECRET,
  extraArgs = [],
  env = {},
  dataDirPrefix = 'parlor-compat-node-',
  listen = '127.0.0.1:0',
} = {}) {
  if (!existsSync(PARLOR_BIN)) {
    throw new Error(`parlor binary not found at ${PARLOR_BIN} (set PARLOR_BIN or build parlor-server)`);
  }
  const dataDir = mkdtempSync(path.join(tmpdir(), dataDirPrefix));
  const child = spawnReaped(
    PARLOR_BIN,
    ['serve', '--listen', listen, '--media-port', '0', '--data-dir', dataDir, '--api-key', apiKey, '--api-secret', apiSecret, ...extraArgs],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { stderr += d; });

  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });

  const baseUrl = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`parlor serve did not print its listening line within ${START_TIMEOUT_MS} ms\n`
        + `stdout:\n${stdout}\nstderr:\n${stderr}`));
    }, START_TIMEOUT_MS);
    child.stdout.on('data', (d) => {
      stdout += d;
      const m = LISTEN_RE.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`parlor serve exited early (code ${code}, signal ${signal})\n`
        + `stdout:\n${stdout}\nstderr:\n${stderr}`));
    });
  });

  return {
    baseUrl,
    dataDir,
    apiKey,
    apiSecret,
    child,
    get stderr() { return stderr; },
    get stdout() { return stdout; },
    /** Sends SIGTERM and resolves with {code, signal}; removes the data dir. */
    async stop() {
      child.kill('SIGTERM');
      let timer;
      const result = await Promise.race([
        exited,
        new Promise((resolve) => {
          timer = setTimeout(() => {
            child.kill('SIGKILL');
            resolve({ code: null, signal: 'timeout' });
          }, STOP_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
      rmSync(dataDir, { recursive: true, force: true });
      return result;
    },
  };
}

/** Runs the parlor CLI synchronously. */
export function parlor(args) {
  const r = spawnSync(PARLOR_BIN, args, { encoding: 'utf8', timeout: 20000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function parseJson(text, what) {
  try {
    return JSON.parse(text.trim());
  } catch (e) {
    throw new Error(`${what}: stdout is not one JSON object: ${JSON.stringify(text)}`);
  }
}

/** `parlor session show` → {status, json, stderr}. */
export function sessionShow(server, sessionId) {
  const r = parlor(['session', 'show', sessionId, '--data-dir', server.dataDir]);
  return { status: r.status, json: r.status === 0 ? parseJson(r.stdout, 'session show') : null, stderr: r.stderr, stdout: r.stdout };
}

/** `parlor token verify` → {status, json, stderr}. */
export function tokenVerify(server, token, session) {
  const args = ['token', 'verify', token, '--data-dir', server.dataDir];
  if (session) args.push('--session', session);
  const r = parlor(args);
  return { status: r.status, json: parseJson(r.stdout, `token verify (exit ${r.status}, stderr ${r.stderr})`), stderr: r.stderr };
}

// ---------- JWT / T1 helpers (no jsonwebtoken) ----------

export function b64url(buf) {
  return Buffer.from(buf).toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

export function b64urlDecode(s) {
  return Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

export function signHs256(claims, secret, header = { alg: 'HS256', typ: 'JWT' }) {
  const h = b64url(JSON.stringify(header));
  const p = b64url(JSON.stringify(claims));
  const sig = b64url(createHmac('sha256', secret).update(`${h}.${p}`).digest());
  return `${h}.${p}.${sig}`;
}

export function decodeJwt(token) {
  const [h, p, s] = token.split('.');
  return { header: JSON.parse(b64urlDecode(h)), payload: JSON.parse(b64urlDecode(p)), signature: s };
}

export function jwtSignatureValid(token, secret) {
  const [h, p, s] = token.split('.');
  return b64url(createHmac('sha256', secret).update(`${h}.${p}`).digest()) === s;
}

/** T1 token from an already-encoded data string. */
export function makeT1(apiKey, secret, dataString) {
  const sig = createHmac('sha1', secret).update(dataString).digest('hex');
  return 'T1==' + Buffer.from(`partner_id=${apiKey}&sig=${sig}:${dataString}`, 'utf8').toString('base64');
}

/** Splits a T1 token into {head, dataString}. */
export function splitT1(token) {
  assertT1(token);
  const decoded = Buffer.from(token.slice(4), 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  return { head: decoded.slice(0, i), dataString: decoded.slice(i + 1) };
}

export function joinT1(head, dataString) {
  return 'T1==' + Buffer.from(`${head}:${dataString}`, 'utf8').toString('base64');
}

function assertT1(token) {
  if (!token.startsWith('T1==')) throw new Error(`not a T1 token: ${token}`);
}

export function t1SignatureValid(token, secret) {
  const { head, dataString } = splitT1(token);
  const sig = new URLSearchParams(head).get('sig');
  return createHmac('sha1', secret).update(dataString).digest('hex') === sig;
}

/** Flips one character in the middle of a JWT's signature (never a padding-bit-only change). */
export function flipJwtSignature(token) {
  const parts = token.split('.');
  const s = parts[2];
  const i = Math.floor(s.length / 2);
  const c = s[i] === 'A' ? 'B' : 'A';
  parts[2] = s.slice(0, i) + c + s.slice(i + 1);
  return parts.join('.');
}

// ---------- Session id helpers ----------

/** Decodes a session id exactly the way the Node SDK does. */
export function decodeSessionIdLikeNode(sessionId) {
  const s = sessionId.substring(2).replace(/-/g, '+').replace(/_/g, '/');
  return Buffer.from(s, 'base64').toString('ascii').split('~');
}

/**
 * A well-formed session id for `apiKey` that was never created: same layout as `template`
 * (a real id), with a fresh random field (and optionally another key).
 */
export function forgeSessionId(template, { apiKey } = {}) {
  const prefix = template.substring(0, 2);
  const fields = decodeSessionIdLikeNode(template);
  if (apiKey) fields[1] = apiKey;
  // Replace the random part (field 4 in the documented layout) with fresh random characters.
  const idx = fields.length > 4 ? 4 : fields.length - 1;
  fields[idx] = randomBytes(Math.max(8, Math.ceil((fields[idx] || '').length * 0.75))).toString('base64url').slice(0, Math.max(8, (fields[idx] || '').length));
  return prefix + b64url(Buffer.from(fields.join('~'), 'ascii'));
}

export const nowSec = () => Math.floor(Date.now() / 1000);
