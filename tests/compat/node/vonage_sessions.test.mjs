// Live compatibility of npm `@vonage/video` (Vonage application credentials: an application
// ID and an RSA private key from `parlor app create`): session creation with every option,
// client tokens of every role that a native client (`parlor client subscribe`) connects with,
// and the tokens and REST JWTs that must be refused, each with its reason.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createSign } from 'node:crypto';
import {
  startServer, PARLOR_BIN, sessionShow, tokenVerify, decodeJwt, decodeSessionIdLikeNode,
  flipJwtSignature, b64url, signHs256, nowSec,
} from './helpers.mjs';
import { MediaMode, ArchiveMode } from '@vonage/video';
import {
  compatSuite, createApplication, videoClient, exchanges, since, describeExchanges, rejection,
} from './vonage_sdk.mjs';

const compatTest = compatSuite('sessions');

let server;
let app;
let other;
let video;
let sessionId;

before(async () => {
  server = await startServer();
  app = createApplication(server, 'node-compat');
  other = createApplication(server, 'other');
  video = videoClient(server, app);
  sessionId = (await video.createSession({ mediaMode: MediaMode.ROUTED })).sessionId;
});

after(async () => {
  const result = await server.stop();
  assert.equal(result.code, 0, server.stderr);
  const fivexx = exchanges.filter((x) => x.status >= 500);
  assert.deepEqual(fivexx, [], describeExchanges(fivexx));
});

function subscribe(token, extra = []) {
  const r = spawnSync(
    PARLOR_BIN,
    ['client', 'subscribe', '--url', server.baseUrl, '--token', token, '--duration', '0.5', '--json', ...extra],
    { encoding: 'utf8', timeout: 30000 },
  );
  if (r.error) throw r.error;
  return r;
}

/** RS256-signs `claims` with a PEM private key, the way jsonwebtoken does. */
function signRs256(claims, privateKey, header = { alg: 'RS256', typ: 'JWT' }) {
  const h = b64url(JSON.stringify(header));
  const p = b64url(JSON.stringify(claims));
  const sig = createSign('RSA-SHA256').update(`${h}.${p}`).sign(privateKey);
  return `${h}.${p}.${b64url(sig)}`;
}

compatTest({ method: 'createSession', operation: 'Create a session', feature: 'sessions and tokens', check: 'every option the SDK sends, stored as sent, authenticated with the application\'s Bearer JWT' }, async (rec) => {
  const cases = [
    [{}, { mediaMode: 'routed', archiveMode: 'manual', location: null }],
    [{ mediaMode: MediaMode.ROUTED }, { mediaMode: 'routed', archiveMode: 'manual', location: null }],
    [{ mediaMode: MediaMode.RELAYED }, { mediaMode: 'relayed', archiveMode: 'manual', location: null }],
    [{ mediaMode: MediaMode.ROUTED, archiveMode: ArchiveMode.ALWAYS }, { mediaMode: 'routed', archiveMode: 'always', location: null }],
    [{ mediaMode: MediaMode.ROUTED, location: '10.1.2.3' }, { mediaMode: 'routed', archiveMode: 'manual', location: '10.1.2.3' }],
  ];
  for (const [options, expected] of cases) {
    const mark = exchanges.length;
    const s = await video.createSession(options);
    const [x] = since(mark);
    assert.equal(x.path, '/session/create');
    const auth = x.headers.Authorization || x.headers.authorization;
    assert.match(auth, /^Bearer /, 'the SDK sends a Bearer JWT');
    const jwt = decodeJwt(auth.slice(7));
    assert.equal(jwt.header.alg, 'RS256');
    assert.equal(jwt.payload.application_id, app.applicationId);
    // The session ID carries the application ID in field 1.
    assert.equal(decodeSessionIdLikeNode(s.sessionId)[1], app.applicationId);
    const shown = sessionShow(server, s.sessionId);
    assert.equal(shown.status, 0, shown.stderr);
    assert.equal(shown.json.projectId, app.applicationId);
    assert.equal(shown.json.mediaMode, expected.mediaMode);
    assert.equal(shown.json.archiveMode, expected.archiveMode);
    assert.equal(shown.json.location, expected.location);
  }
  rec.note = 'routed (the SDK default), relayed, archiveMode always, location; the SDK sends location=null when none is given, which the server reads as none';
});

compatTest({ method: 'createSession', operation: 'Create a session', feature: 'sessions and tokens', check: 'invalid options get 400 JSON' }, async () => {
  const r = await rejection(video.createSession({ mediaMode: MediaMode.RELAYED, archiveMode: ArchiveMode.ALWAYS }));
  assert.equal(r.status, 400);
  assert.match(r.message, /archive/i);
  const bad = await rejection(video.createSession({ location: 'not-an-ip' }));
  assert.equal(bad.status, 400);
});

for (const role of ['publisher', 'subscriber', 'moderator', 'publisheronly']) {
  compatTest({ method: 'generateClientToken', operation: 'Generate a client token', feature: 'sessions and tokens', check: `a ${role} token connects a native client` }, async (rec) => {
    const token = video.generateClientToken(sessionId, { role, data: 'name=Vonage', initialLayoutClassList: ['focus', 'full'] });
    const { header, payload } = decodeJwt(token);
    assert.equal(header.alg, 'RS256');
    assert.equal(payload.application_id, app.applicationId);
    assert.equal(payload.scope, 'session.connect');
    const verified = tokenVerify(server, token, sessionId);
    assert.equal(verified.status, 0, JSON.stringify(verified.json));
    assert.equal(verified.json.role, role);
    assert.equal(verified.json.credential, 'application');
    assert.equal(verified.json.data, 'name=Vonage');
    assert.deepEqual(verified.json.initialLayoutClassList, ['focus', 'full']);
    const r = subscribe(token);
    if (role === 'publisheronly') {
      assert.equal(r.status, 1);
      assert.match(r.stdout, /"event":"sessionConnected"/);
      assert.match(r.stderr, /publisheronly token does not allow subscribing/);
      rec.note = 'publisheronly connects; subscribing is refused for the role, as for OpenTok tokens';
      return;
    }
    assert.equal(r.status, 0, r.stderr);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const connected = events.find((e) => e.event === 'sessionConnected');
    assert.equal(connected.connection.data, 'name=Vonage');
  });
}

compatTest({ method: 'generateClientToken', operation: 'Generate a client token', feature: 'sessions and tokens', check: 'refused tokens name their reason' }, async () => {
  const reason = (token, session = sessionId) => {
    const v = tokenVerify(server, token, session);
    return v.json.valid ? 'ok' : v.json.reason;
  };
  const good = video.generateClientToken(sessionId);
  assert.equal(reason(good), 'ok');
  assert.equal(reason(flipJwtSignature(good)), 'bad_signature');
  // Tampered payload: another role, the signature kept.
  const [h, , s] = good.split('.');
  const claims = decodeJwt(good).payload;
  assert.equal(reason(`${h}.${b64url(JSON.stringify({ ...claims, role: 'moderator' }))}.${s}`), 'bad_signature');
  // Another application's token for this application's session.
  const otherVideo = videoClient(server, other);
  assert.equal(reason(otherVideo.generateClientToken(sessionId)), 'wrong_project');
  // Expired: the SDK replaces an expiry in the past with now + 900 s, so wait one out.
  const shortLived = video.generateClientToken(sessionId, { expireTime: nowSec() + 1 });
  assert.equal(decodeJwt(shortLived).payload.exp <= nowSec() + 1, true);
  await new Promise((resolve) => { setTimeout(resolve, 2200); });
  assert.equal(reason(shortLived), 'expired');
  // Wrong session.
  const otherSession = (await video.createSession()).sessionId;
  assert.equal(reason(video.generateClientToken(otherSession)), 'wrong_session');
  // Algorithms: none, HS256 naming the application, a kid the application lacks.
  const body = { ...claims, iat: nowSec(), exp: nowSec() + 60 };
  assert.equal(reason(`${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64url(JSON.stringify(body))}.`), 'alg_none');
  assert.equal(reason(signHs256(body, 'guessed-secret')), 'secret_signed_application');
  assert.equal(reason(signRs256(body, app.privateKey, { alg: 'RS256', typ: 'JWT', kid: 'ffffffffffffffff' })), 'unknown_kid');
  assert.equal(reason(signRs256(body, app.privateKey, { alg: 'RS256', typ: 'JWT', kid: app.keyId })), 'ok');
  // The native client gets the same reason.
  const r = subscribe(flipJwtSignature(good));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /bad_signature/);
});

// Not a row of the table (the opentok suites check their own REST auth in security tests).
test('REST authentication: refused Bearer JWTs get 403 with their reason', async () => {
  const call = async (jwt, appId = app.applicationId) => {
    const res = await fetch(`${server.baseUrl}/v2/project/${appId}/session/${sessionId}/stream`, {
      headers: { Authorization: `Bearer ${jwt}` },
    });
    const body = await res.json().catch(() => ({}));
    return { status: res.status, message: body.message || '' };
  };
  const now = nowSec();
  const claims = { application_id: app.applicationId, iat: now, exp: now + 900, jti: '5b1f0c1e-8a59-4d36-9a38-0b0f0f0f0f0f' };
  assert.equal((await call(signRs256(claims, app.privateKey))).status, 200);
  const cases = [
    ['alg_none', `${b64url(JSON.stringify({ alg: 'none' }))}.${b64url(JSON.stringify(claims))}.`],
    ['secret_signed_application', signHs256(claims, 'guessed')],
    ['wrong_key_type', `${b64url(JSON.stringify({ alg: 'ES256' }))}.${b64url(JSON.stringify(claims))}.${b64url(Buffer.alloc(64, 1))}`],
    ['unknown_kid', signRs256(claims, app.privateKey, { alg: 'RS256', kid: '0123456789abcdef' })],
    ['bad_signature', signRs256(claims, other.privateKey)],
    ['unknown_application', signRs256({ ...claims, application_id: '00000000-0000-4000-8000-000000000000' }, app.privateKey)],
    ['expired', signRs256({ ...claims, iat: now - 2000, exp: now - 1000 }, app.privateKey)],
    ['issued_in_future', signRs256({ ...claims, iat: now + 1000, exp: now + 1500 }, app.privateKey)],
    ['lifetime_too_long', signRs256({ ...claims, exp: now + 3 * 86400 }, app.privateKey)],
    ['client_token', video.generateClientToken(sessionId)],
  ];
  for (const [reason, jwt] of cases) {
    const r = await call(jwt);
    assert.equal(r.status, 403, `${reason}: ${r.message}`);
    assert.ok(r.message.endsWith(`[${reason}]`), `${reason}: ${r.message}`);
  }
  // The other application's valid JWT on this application's path.
  const theirs = await call(signRs256({ ...claims, application_id: other.applicationId }, other.privateKey));
  assert.equal(theirs.status, 403);
  assert.match(theirs.message, /\[wrong_application\]$/);
});
