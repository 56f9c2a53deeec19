// Live security checks with the official `opentok` Node SDK against a real Parlor server:
// client tokens (both formats, every role) are never REST credentials, the REST JWT the SDK
// sends as X-OPENTOK-AUTH is never a client token, REST JWTs live at most 24 h, and a JWT
// header with `crit` is refused. The SDK's own calls keep working throughout.
// Records no compat results (it does not use sdk.mjs's compatSuite).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import { spawnSync } from 'node:child_process';
import {
  startServer, tokenVerify, signHs256, decodeJwt, jwtSignatureValid, nowSec, PARLOR_BIN, API_KEY, API_SECRET,
} from './helpers.mjs';
import { subscriber, stopAllClients, marker } from './live.mjs';

const require = createRequire(import.meta.url);
const OpenTok = require('opentok');

const ROLES = ['publisher', 'subscriber', 'moderator', 'publisheronly'];
const FORMATS = [{ name: 'JWT', t1: false }, { name: 'T1', t1: true }];
/** The claims that make a JWT a client token (docs/protocol.md §2.2, step 4). */
const CLIENT_CLAIMS = ['session_id', 'scope', 'role', 'connection_data', 'initial_layout_class_list',
  'nonce', 'create_time', 'expire_time'];

let server;
let ot;
let sid;

/** Calls `ot[name](...args, cb)`; resolves with the value, rejects on an SDK error. */
function sdk(name, ...args) {
  return new Promise((resolve, reject) => {
    ot[name](...args, (err, value) => (err ? reject(err) : resolve(value)));
  });
}

before(async () => {
  server = await startServer();
  ot = new OpenTok(API_KEY, API_SECRET, { apiUrl: server.baseUrl });
  sid = (await sdk('createSession', { mediaMode: 'routed' })).sessionId;
});

after(async () => {
  await stopAllClients();
  if (!server) return;
  const { code, signal } = await server.stop();
  assert.equal(signal, null, `parlor serve did not exit after SIGTERM\n${server.stderr}`);
  assert.equal(code, 0, `parlor serve exited with ${code}\n${server.stderr}`);
});

/** One REST request with `auth` as X-OPENTOK-AUTH: {status, contentType, text, json}. */
async function rest(method, path, auth, body) {
  const headers = { 'X-OPENTOK-AUTH': auth, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${server.baseUrl}${path}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON: json stays null */ }
  return { status: res.status, contentType: res.headers.get('content-type'), text, json };
}

/** A 403 JSON error {code: 403, message} whose message contains `needle`. */
function assertRefused(r, needle, what) {
  const dump = `${what}: ${r.status} ${r.contentType} ${r.text}`;
  assert.equal(r.status, 403, dump);
  assert.equal(r.contentType, 'application/json', dump);
  assert.ok(r.json, dump);
  assert.equal(r.json.code, 403, dump);
  assert.equal(typeof r.json.message, 'string', dump);
  assert.ok(r.json.message.includes(needle), dump);
}

/** The endpoints every client token is tried on (the DELETE names a live connection). */
const endpoints = (connectionId) => [
  { method: 'POST', path: '/session/create', body: undefined },
  { method: 'POST', path: `/v2/project/${API_KEY}/session/${sid}/signal`, body: { type: 'x', data: 'y' } },
  { method: 'DELETE', path: `/v2/project/${API_KEY}/session/${sid}/connection/${connectionId}`, body: undefined },
];

test('client tokens of both formats and every role are refused as X-OPENTOK-AUTH; the SDK keeps working', async () => {
  // A live member, so that an accepted DELETE or signal would be visible.
  const member = await subscriber(server, ot.generateToken(sid, { role: 'subscriber', data: 'member' }), 'member');
  let tried = 0;
  for (const format of FORMATS) {
    for (const role of ROLES) {
      const data = `role=${role}`;
      const token = ot.generateToken(sid, { role, data }, format.t1);
      if (format.t1) assert.ok(token.startsWith('T1=='), `expected a T1 token, got ${token}`);
      else {
        assert.equal(token.split('.').length, 3, `expected a JWT, got ${token}`);
        const { payload } = decodeJwt(token);
        // The SDK's JWT client token shares iss/ist with a REST JWT; its client claims tell it apart.
        assert.equal(payload.iss, API_KEY);
        assert.equal(payload.ist, 'project');
        assert.equal(payload.session_id, sid);
        assert.equal(payload.role, role);
      }
      // A genuine client token: Parlor's own verifier accepts it for this session.
      const v = tokenVerify(server, token, sid);
      assert.equal(v.json.valid, true, `${format.name} ${role}: ${JSON.stringify(v.json)}`);
      assert.equal(v.json.role, role);
      for (const ep of endpoints(member.connectionId)) {
        const r = await rest(ep.method, ep.path, token, ep.body);
        assertRefused(r, 'client token', `${format.name} ${role} token on ${ep.method} ${ep.path}`);
        tried += 1;
      }
    }
  }
  assert.equal(tried, 2 * 4 * 3);

  // Nothing the refused requests asked for happened: the member is still connected and got
  // no 'x' signal. The SDK's own signal (a marker, to that very connection) arrives, in order.
  const m = marker();
  await sdk('signal', sid, member.connectionId, { type: m, data: m });
  const at = await member.waitEvent('signal', (e) => e.type === m);
  const upTo = member.events.indexOf(at);
  const leaked = member.events.slice(0, upTo).find((e) => e.event === 'signal' && e.type === 'x');
  assert.equal(leaked, undefined, `a refused signal was delivered: ${JSON.stringify(leaked)}`);
  assert.equal(member.events.find((e) => e.event === 'sessionDisconnected'), undefined, member.describe());
  assert.equal(member.exit, null, member.describe());

  // The SDK's own calls on the same endpoints work: createSession, signal (above), forceDisconnect.
  const created = await sdk('createSession', {});
  assert.match(created.sessionId, /^[12]_[A-Za-z0-9_-]+$/);
  await sdk('forceDisconnect', sid, member.connectionId);
  const gone = await member.waitEvent('sessionDisconnected');
  assert.equal(gone.reason, 'forceDisconnected');
  await member.waitExit();
});

/**
 * Captures the X-OPENTOK-AUTH headers the SDK sends: a local HTTP proxy in front of the real
 * server, so the SDK's calls also succeed (proving the captured JWT is a working credential).
 */
async function withCapturingProxy(fn) {
  const captured = [];
  const proxy = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    captured.push({ method: req.method, path: req.url, auth: req.headers['x-opentok-auth'] });
    const headers = { ...req.headers };
    delete headers.host;
    delete headers['content-length'];
    delete headers.connection;
    try {
      const up = await fetch(`${server.baseUrl}${req.url}`, {
        method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined,
      });
      const body = Buffer.from(await up.arrayBuffer());
      const out = {};
      up.headers.forEach((v, k) => { if (!['content-length', 'transfer-encoding', 'connection'].includes(k)) out[k] = v; });
      res.writeHead(up.status, out).end(body);
    } catch (e) {
      res.writeHead(502).end(String(e));
    }
  });
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  try {
    const viaProxy = new OpenTok(API_KEY, API_SECRET, { apiUrl: `http://127.0.0.1:${proxy.address().port}` });
    await fn(viaProxy);
  } finally {
    await new Promise((resolve) => proxy.close(resolve));
  }
  return captured;
}

test("the SDK's own REST JWT (X-OPENTOK-AUTH) is refused as a client token with rest_credential", async () => {
  let session;
  const captured = await withCapturingProxy(async (viaProxy) => {
    session = await new Promise((resolve, reject) => {
      viaProxy.createSession({ mediaMode: 'routed' }, (err, s) => (err ? reject(err) : resolve(s)));
    });
    await new Promise((resolve, reject) => {
      viaProxy.signal(session.sessionId, null, { type: 'hello', data: 'via proxy' }, (err) => (err ? reject(err) : resolve()));
    });
  });
  assert.deepEqual(captured.map((c) => `${c.method} ${c.path}`),
    ['POST /session/create', `POST /v2/project/${API_KEY}/session/${session.sessionId}/signal`]);
  for (const { auth } of captured) {
    assert.equal(typeof auth, 'string', 'the SDK sent no X-OPENTOK-AUTH');
    assert.ok(jwtSignatureValid(auth, API_SECRET), auth);
    const { header, payload } = decodeJwt(auth);
    assert.equal(header.alg, 'HS256');
    assert.equal(payload.iss, API_KEY);
    assert.equal(payload.ist, 'project');
    for (const c of CLIENT_CLAIMS) assert.ok(!(c in payload), `REST JWT has client claim ${c}: ${JSON.stringify(payload)}`);
    // lib/generateJwt.js: exp = iat + config.auth.expire (300 s by default).
    assert.equal(payload.exp - payload.iat, 300, JSON.stringify(payload));

    // Parlor's verifier refuses it as a client token, for the session it was used on and ours.
    for (const s of [session.sessionId, sid]) {
      const r = tokenVerify(server, auth, s);
      assert.equal(r.json.valid, false, JSON.stringify(r.json));
      assert.equal(r.json.reason, 'rest_credential', JSON.stringify(r.json));
      assert.equal(r.status, 1);
      assert.ok(typeof r.json.message === 'string' && r.json.message.length > 0);
    }
  }

  // The SDK's public OpenTok#generateJwt() (what lib/api.js puts in X-OPENTOK-AUTH) has the same shape.
  const direct = ot.generateJwt();
  assert.deepEqual(Object.keys(decodeJwt(direct).payload).sort(), Object.keys(decodeJwt(captured[0].auth).payload).sort());
  assert.equal((await rest('POST', '/session/create', direct)).status, 200, 'the SDK JWT is a working REST credential');
  const r = tokenVerify(server, direct, sid);
  assert.equal(r.json.valid, false, JSON.stringify(r.json));
  assert.equal(r.json.reason, 'rest_credential', JSON.stringify(r.json));

  // A live client cannot join with it either (the REST JWT names no session: --session).
  const c = spawnSync(PARLOR_BIN, ['client', 'subscribe', '--url', server.baseUrl, '--token', direct, '--session', sid,
    '--duration', '0.5', '--json'], { encoding: 'utf8', timeout: 30000 });
  if (c.error) throw c.error;
  assert.equal(c.status, 1, `client exit ${c.status}\nstdout ${c.stdout}\nstderr ${c.stderr}`);
  assert.match(c.stderr, /rest_credential/);
  assert.doesNotMatch(c.stdout, /"event":"sessionConnected"/);
});

test('a REST JWT living longer than 24 h is refused (403), one of 24 h is accepted', async () => {
  const now = nowSec();
  const claims = (exp) => ({ iss: API_KEY, ist: 'project', iat: now, exp });
  for (const exp of [now + 2 * 86400, now + 86400 + 3600]) {
    for (const ep of endpoints('no-such-connection')) {
      const r = await rest(ep.method, ep.path, signHs256(claims(exp), API_SECRET), ep.body);
      assertRefused(r, 'at most 86400 s', `exp now+${exp - now} on ${ep.method} ${ep.path}`);
    }
  }
  // The same JWT with a 24 h lifetime is a working credential (the signature and claims are fine).
  const day = signHs256(claims(now + 86400), API_SECRET);
  const ok = await rest('POST', '/session/create', day);
  assert.equal(ok.status, 200, ok.text);
  const sig = await rest('POST', `/v2/project/${API_KEY}/session/${sid}/signal`, day, { type: 'x', data: 'y' });
  assert.equal(sig.status, 204, sig.text);
});

test('a REST JWT whose header has crit is refused (403)', async () => {
  const now = nowSec();
  const claims = { iss: API_KEY, ist: 'project', iat: now, exp: now + 60 };
  for (const header of [
    { alg: 'HS256', typ: 'JWT', crit: ['b64'], b64: false },
    { alg: 'HS256', typ: 'JWT', crit: ['exp'] },
  ]) {
    const jwt = signHs256(claims, API_SECRET, header);
    for (const ep of endpoints('no-such-connection')) {
      const r = await rest(ep.method, ep.path, jwt, ep.body);
      assertRefused(r, 'crit', `header ${JSON.stringify(header)} on ${ep.method} ${ep.path}`);
    }
  }
  // Without crit the same claims are accepted.
  const plain = await rest('POST', '/session/create', signHs256(claims, API_SECRET));
  assert.equal(plain.status, 200, plain.text);
});
