// Live compatibility: the official `opentok` Node SDK creating sessions on a real Parlor server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import {
  startServer, sessionShow, signHs256, decodeSessionIdLikeNode, forgeSessionId, nowSec,
  API_KEY, API_SECRET, WRONG_SECRET,
} from './helpers.mjs';

const require = createRequire(import.meta.url);
const OpenTok = require('opentok');

let server;
let ot;

before(async () => {
  server = await startServer();
  ot = new OpenTok(API_KEY, API_SECRET, { apiUrl: server.baseUrl });
});

after(async () => {
  if (!server) return;
  const { code, signal } = await server.stop();
  assert.equal(signal, null, `parlor serve did not exit by itself after SIGTERM (signal ${signal})\nstderr:\n${server.stderr}`);
  assert.equal(code, 0, `parlor serve exited with ${code} after SIGTERM\nstderr:\n${server.stderr}`);
});

function createSession(client, opts) {
  return new Promise((resolve, reject) => {
    const cb = (err, session) => (err ? reject(err) : resolve(session));
    if (opts === undefined) client.createSession(cb);
    else client.createSession(opts, cb);
  });
}

/** The X-OPENTOK-AUTH JWT exactly as the Node SDK builds it (iss, ist, iat, exp = iat + 300). */
function nodeAuthJwt({ key = API_KEY, secret = API_SECRET, claims = {} } = {}) {
  const iat = nowSec();
  return signHs256({ iss: key, ist: 'project', iat, exp: iat + 300, ...claims }, secret);
}

async function rawCreate(form, headers = { 'X-OPENTOK-AUTH': nodeAuthJwt() }) {
  const res = await fetch(`${server.baseUrl}/session/create`, {
    method: 'POST',
    headers: {
      'User-Agent': 'OpenTok-Node-SDK/2.23.2',
      Accept: 'application/json',
      'Content-type': 'application/x-www-form-urlencoded',
      ...headers,
    },
    body: new URLSearchParams(form).toString(),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* leave null */ }
  return { status: res.status, contentType: res.headers.get('content-type'), text, json };
}

const NONE = { location: null, e2ee: false, archiveName: null, archiveResolution: null };

// Every combination of options the Node SDK lets through to the server.
const CASES = [
  { name: 'default (no options)', opts: undefined, expect: { mediaMode: 'relayed', archiveMode: 'manual', ...NONE } },
  { name: 'empty options object', opts: {}, expect: { mediaMode: 'relayed', archiveMode: 'manual', ...NONE } },
  { name: 'routed', opts: { mediaMode: 'routed' }, expect: { mediaMode: 'routed', archiveMode: 'manual', ...NONE } },
  { name: 'relayed', opts: { mediaMode: 'relayed' }, expect: { mediaMode: 'relayed', archiveMode: 'manual', ...NONE } },
  { name: 'manual archive explicit', opts: { mediaMode: 'routed', archiveMode: 'manual' }, expect: { mediaMode: 'routed', archiveMode: 'manual', ...NONE } },
  { name: 'location IPv4', opts: { location: '12.34.56.78' }, expect: { mediaMode: 'relayed', archiveMode: 'manual', ...NONE, location: '12.34.56.78' } },
  { name: 'routed + location', opts: { mediaMode: 'routed', location: '10.1.200.3' }, expect: { mediaMode: 'routed', archiveMode: 'manual', ...NONE, location: '10.1.200.3' } },
  { name: 'archiveMode always + routed', opts: { mediaMode: 'routed', archiveMode: 'always' }, expect: { mediaMode: 'routed', archiveMode: 'always', ...NONE } },
  {
    name: 'always + archiveName',
    opts: { mediaMode: 'routed', archiveMode: 'always', archiveName: 'Weekly sync 42' },
    expect: { mediaMode: 'routed', archiveMode: 'always', ...NONE, archiveName: 'Weekly sync 42' },
  },
  {
    name: 'always + archiveResolution',
    opts: { mediaMode: 'routed', archiveMode: 'always', archiveResolution: '1080x1920' },
    expect: { mediaMode: 'routed', archiveMode: 'always', ...NONE, archiveResolution: '1080x1920' },
  },
  {
    name: 'always + archiveName + archiveResolution',
    opts: { mediaMode: 'routed', archiveMode: 'always', archiveName: 'Board meeting', archiveResolution: '1280x720' },
    expect: { mediaMode: 'routed', archiveMode: 'always', ...NONE, archiveName: 'Board meeting', archiveResolution: '1280x720' },
  },
  { name: 'e2ee true + routed', opts: { mediaMode: 'routed', e2ee: true }, expect: { mediaMode: 'routed', archiveMode: 'manual', ...NONE, e2ee: true } },
  { name: 'e2ee false explicit', opts: { e2ee: false }, expect: { mediaMode: 'relayed', archiveMode: 'manual', ...NONE } },
  {
    name: 'routed + e2ee + location',
    opts: { mediaMode: 'routed', e2ee: true, location: '203.0.113.9' },
    expect: { mediaMode: 'routed', archiveMode: 'manual', ...NONE, e2ee: true, location: '203.0.113.9' },
  },
  {
    // e2ee is left out: end-to-end encrypted sessions cannot be archived (see the e2ee + always test).
    name: 'every archive option at once',
    opts: {
      mediaMode: 'routed', archiveMode: 'always', location: '192.0.2.7', e2ee: false, archiveName: 'All options', archiveResolution: '640x480',
    },
    expect: {
      mediaMode: 'routed', archiveMode: 'always', location: '192.0.2.7', e2ee: false, archiveName: 'All options', archiveResolution: '640x480',
    },
  },
];

for (const c of CASES) {
  test(`createSession ${c.name}: stored options match what the SDK sent`, async () => {
    const t0 = Date.now();
    const session = await createSession(ot, c.opts === undefined ? undefined : { ...c.opts });
    const t1 = Date.now();

    assert.equal(typeof session.sessionId, 'string');
    assert.ok(session.sessionId.length > 2 && session.sessionId.length <= 255, `session id length ${session.sessionId.length}`);
    assert.match(session.sessionId, /^[\x21-\x7e]+$/, 'session id must be printable ASCII');
    // The SDK's Session object reflects what it sent.
    assert.equal(session.mediaMode, c.expect.mediaMode);
    assert.equal(session.archiveMode, c.expect.archiveMode);

    // The id decodes the way the SDK decodes it, with the API key in field 1.
    const fields = decodeSessionIdLikeNode(session.sessionId);
    assert.equal(fields[1], API_KEY, `decoded session id fields: ${JSON.stringify(fields)}`);
    // ...and the SDK accepts it for token generation (it throws if the key does not match).
    const token = session.generateToken();
    assert.equal(typeof token, 'string');
    assert.ok(token.length > 20);

    const shown = sessionShow(server, session.sessionId);
    assert.equal(shown.status, 0, `session show failed: ${shown.stderr}`);
    const s = shown.json;
    assert.equal(s.sessionId, session.sessionId);
    assert.equal(String(s.projectId), API_KEY);
    assert.equal(s.mediaMode, c.expect.mediaMode);
    assert.equal(s.archiveMode, c.expect.archiveMode);
    assert.equal(s.location, c.expect.location);
    assert.equal(s.e2ee, c.expect.e2ee);
    assert.equal(s.archiveName, c.expect.archiveName);
    assert.equal(s.archiveResolution, c.expect.archiveResolution);
    assert.equal(typeof s.createdAt, 'number');
    assert.ok(s.createdAt >= t0 - 2000 && s.createdAt <= t1 + 2000, `createdAt ${s.createdAt} not within [${t0}, ${t1}] ms`);
  });
}

test('two sessions get distinct ids', async () => {
  const a = await createSession(ot, {});
  const b = await createSession(ot, {});
  assert.notEqual(a.sessionId, b.sessionId);
});

test('session show for an unknown session exits 1 with a message on stderr', async () => {
  const real = await createSession(ot, {});
  const bogus = forgeSessionId(real.sessionId);
  assert.notEqual(bogus, real.sessionId);
  const r = sessionShow(server, bogus);
  assert.equal(r.status, 1);
  assert.ok(r.stderr.trim().length > 0, 'expected a message on stderr');
});

test('create-session wire response has the OpenTok shape and Content-Type application/json', async () => {
  const r = await rawCreate({ archiveMode: 'manual', 'p2p.preference': 'disabled' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.contentType, 'application/json', 'Content-Type must be exactly application/json');
  assert.ok(Array.isArray(r.json), `body must be a JSON array: ${r.text}`);
  assert.equal(r.json.length, 1);
  const o = r.json[0];
  for (const k of ['session_id', 'project_id', 'partner_id', 'create_dt', 'media_server_url']) {
    assert.ok(k in o, `missing ${k} in ${r.text}`);
  }
  assert.equal(typeof o.session_id, 'string');
  assert.equal(o.project_id, API_KEY, 'project_id should be the API key as a string (as OpenTok sends it)');
  assert.equal(o.partner_id, API_KEY, 'partner_id should be the API key as a string (as OpenTok sends it)');
  assert.ok(o.create_dt, 'create_dt must be non-empty');
  const shown = sessionShow(server, o.session_id);
  assert.equal(shown.status, 0, shown.stderr);
  assert.equal(shown.json.mediaMode, 'routed');
});

test('invalid option values are refused with 400 JSON {code, message}', async () => {
  const bad = [
    { archiveMode: 'bogus', 'p2p.preference': 'disabled' },
    { archiveMode: 'manual', 'p2p.preference': 'bogus' },
    { archiveMode: 'manual', 'p2p.preference': 'enabled', location: 'not-an-ip' },
    { archiveMode: 'manual', 'p2p.preference': 'enabled', location: '300.1.2.3' },
    { archiveMode: 'manual', 'p2p.preference': 'disabled', e2ee: 'bogus' },
    { archiveMode: 'always', 'p2p.preference': 'enabled' },
    { archiveMode: 'always', 'p2p.preference': 'disabled', archiveResolution: '999x999' },
  ];
  const failures = [];
  for (const form of bad) {
    const r = await rawCreate(form);
    const ok = r.status === 400
      && r.contentType === 'application/json'
      && r.json && r.json.code === 400
      && typeof r.json.message === 'string' && r.json.message.length > 0;
    if (!ok) failures.push(`${new URLSearchParams(form)} -> ${r.status} ${r.contentType} ${r.text}`);
  }
  assert.deepEqual(failures, []);
});

test('documented combination rules are refused with 400 (e2ee needs routed and no auto-archive; archiveName/Resolution need always; name <= 80)', async () => {
  const bad = [
    { archiveMode: 'always', 'p2p.preference': 'disabled', e2ee: 'true' },
    { archiveMode: 'manual', 'p2p.preference': 'enabled', e2ee: 'true' },
    { archiveMode: 'manual', 'p2p.preference': 'disabled', archiveName: 'x' },
    { archiveMode: 'manual', 'p2p.preference': 'disabled', archiveResolution: '1280x720' },
    { archiveMode: 'always', 'p2p.preference': 'disabled', archiveName: 'n'.repeat(81) },
  ];
  const failures = [];
  for (const form of bad) {
    const r = await rawCreate(form);
    const ok = r.status === 400 && r.json && r.json.code === 400 && typeof r.json.message === 'string';
    if (!ok) failures.push(`${new URLSearchParams(form)} -> ${r.status} ${r.contentType} ${r.text}`);
  }
  assert.deepEqual(failures, []);
});

test('invalid value passed through the SDK surfaces the server message in the SDK error', async () => {
  // The Node SDK forwards archiveResolution unvalidated.
  await assert.rejects(
    createSession(ot, { mediaMode: 'routed', archiveMode: 'always', archiveResolution: 'huge' }),
    (err) => {
      assert.match(err.message, /^Failed to createSession\. Error: Unexpected response from OpenTok: /);
      assert.match(err.message, /"message":"[^"]+"/, `server message missing: ${err.message}`);
      return true;
    },
  );
});

test('e2ee with archiveMode always (the SDK lets it through) is refused with the server message', async () => {
  // End-to-end encrypted media cannot be archived, so the platform refuses the combination.
  await assert.rejects(
    createSession(ot, { mediaMode: 'routed', archiveMode: 'always', e2ee: true }),
    (err) => {
      assert.match(err.message, /^Failed to createSession\. Error: Unexpected response from OpenTok: "\{"message":".+"\}"$/);
      return true;
    },
  );
});

test('SDK with a wrong secret gets the SDK auth error', async () => {
  const bad = new OpenTok(API_KEY, WRONG_SECRET, { apiUrl: server.baseUrl });
  await assert.rejects(createSession(bad, {}), (err) => {
    // 401/403 are mapped by the SDK to AuthError('Invalid API key or secret').
    assert.equal(err.message, 'Failed to createSession. Error: Invalid API key or secret');
    return true;
  });
});

test('SDK with an unknown API key gets the SDK auth error', async () => {
  const bad = new OpenTok('47009999', API_SECRET, { apiUrl: server.baseUrl });
  await assert.rejects(createSession(bad, {}), (err) => {
    assert.equal(err.message, 'Failed to createSession. Error: Invalid API key or secret');
    return true;
  });
});

test('raw auth failures: missing header 401, bad JWTs 403, all with a JSON message', async () => {
  const form = { archiveMode: 'manual', 'p2p.preference': 'enabled' };
  const iat = nowSec();
  const cases = [
    { name: 'missing header', headers: {}, status: 401 },
    { name: 'wrong secret', headers: { 'X-OPENTOK-AUTH': nodeAuthJwt({ secret: WRONG_SECRET }) }, status: 403 },
    { name: 'unknown iss', headers: { 'X-OPENTOK-AUTH': nodeAuthJwt({ key: '47009999' }) }, status: 403 },
    { name: 'ist is not project', headers: { 'X-OPENTOK-AUTH': nodeAuthJwt({ claims: { ist: 'account' } }) }, status: 403 },
    {
      name: 'expired an hour ago',
      headers: { 'X-OPENTOK-AUTH': signHs256({ iss: API_KEY, ist: 'project', iat: iat - 3900, exp: iat - 3600 }, API_SECRET) },
      status: 403,
    },
    { name: 'garbage', headers: { 'X-OPENTOK-AUTH': 'not-a-jwt' }, status: 403 },
    {
      name: 'alg none',
      headers: { 'X-OPENTOK-AUTH': (() => { const t = nodeAuthJwt().split('.'); const h = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url'); return `${h}.${t[1]}.`; })() },
      status: 403,
    },
  ];
  const failures = [];
  for (const c of cases) {
    const r = await rawCreate(form, c.headers);
    const ok = r.status === c.status && r.json && typeof r.json.message === 'string' && r.json.message.length > 0;
    if (!ok) failures.push(`${c.name}: expected ${c.status} JSON {message}, got ${r.status} ${r.contentType} ${r.text}`);
  }
  assert.deepEqual(failures, []);
});

test('auth JWT with the extra claims other SDKs send (jti, sub) is accepted', async () => {
  const r = await rawCreate(
    { archiveMode: 'manual', 'p2p.preference': 'enabled' },
    { 'X-OPENTOK-AUTH': nodeAuthJwt({ claims: { jti: String(Math.random()), sub: 'video' } }) },
  );
  assert.equal(r.status, 200, r.text);
  assert.equal(typeof r.json[0].session_id, 'string');
});

test('GET /health answers 200', async () => {
  const res = await fetch(`${server.baseUrl}/health`);
  assert.equal(res.status, 200);
});
