// Live compatibility: tokens minted by the official `opentok` Node SDK, checked by Parlor's own
// verifier (`parlor token verify`, reading the running server's database).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import querystring from 'node:querystring';
import {
  startServer, tokenVerify, parlor, signHs256, decodeJwt, jwtSignatureValid, makeT1, splitT1, joinT1,
  t1SignatureValid, flipJwtSignature, forgeSessionId, nowSec, API_KEY, API_SECRET, WRONG_SECRET,
} from './helpers.mjs';

const require = createRequire(import.meta.url);
const OpenTok = require('opentok');

let server;
let ot;
let sessionA; // relayed
let sessionB; // routed

function createSession(client, opts) {
  return new Promise((resolve, reject) => {
    client.createSession(opts, (err, s) => (err ? reject(err) : resolve(s)));
  });
}

before(async () => {
  server = await startServer();
  ot = new OpenTok(API_KEY, API_SECRET, { apiUrl: server.baseUrl });
  sessionA = (await createSession(ot, {})).sessionId;
  sessionB = (await createSession(ot, { mediaMode: 'routed' })).sessionId;
});

after(async () => {
  if (!server) return;
  const { code, signal } = await server.stop();
  assert.equal(signal, null, `parlor serve did not exit by itself after SIGTERM (signal ${signal})\nstderr:\n${server.stderr}`);
  assert.equal(code, 0, `parlor serve exited with ${code} after SIGTERM\nstderr:\n${server.stderr}`);
});

const FORMATS = [
  { name: 'jwt', t1: false },
  { name: 't1', t1: true },
];

function mint(sessionId, opts, format) {
  const token = ot.generateToken(sessionId, opts, format.t1);
  // Make sure we really got the format we asked the SDK for.
  if (format.t1) assert.ok(token.startsWith('T1=='), `expected a T1 token, got ${token}`);
  else assert.equal(token.split('.').length, 3, `expected a JWT, got ${token}`);
  return token;
}

function expectValid(token, session, expected) {
  const r = tokenVerify(server, token, session);
  assert.equal(r.status, 0, `verify exit ${r.status}: ${JSON.stringify(r.json)} ${r.stderr}`);
  const v = r.json;
  assert.equal(v.valid, true);
  assert.equal(v.format, expected.format);
  assert.equal(String(v.projectId), API_KEY);
  assert.equal(v.sessionId, expected.sessionId);
  assert.equal(v.role, expected.role);
  assert.equal(v.data, expected.data);
  assert.deepEqual(v.initialLayoutClassList, expected.initialLayoutClassList);
  assert.equal(typeof v.expireTime, 'number');
  if (typeof expected.expireTime === 'number') {
    assert.equal(v.expireTime, expected.expireTime);
  } else {
    const [lo, hi] = expected.expireTime;
    assert.ok(v.expireTime >= lo && v.expireTime <= hi, `expireTime ${v.expireTime} not in [${lo}, ${hi}]`);
  }
  return v;
}

function expectRejected(token, session, reason) {
  const r = tokenVerify(server, token, session);
  assert.equal(r.json.valid, false, `expected rejection (${reason}), got ${JSON.stringify(r.json)}`);
  assert.equal(r.json.reason, reason, `expected reason ${reason}, got ${JSON.stringify(r.json)}`);
  assert.equal(r.status, 1);
  assert.equal(typeof r.json.message, 'string');
  assert.ok(r.json.message.length > 0);
}

/** The JWT claim set the Node SDK produces, with overrides. */
function nodeClaims(sessionId, over = {}) {
  const now = nowSec();
  return {
    iss: API_KEY,
    ist: 'project',
    iat: now,
    exp: now + 86400,
    session_id: sessionId,
    create_time: now,
    nonce: Math.random(),
    role: 'publisher',
    expire_time: now + 86400,
    initial_layout_class_list: '',
    scope: 'session.connect',
    ...over,
  };
}

/** The T1 data string the Node SDK (opentok-token) produces, with overrides. */
function nodeT1Data(sessionId, over = {}) {
  const now = nowSec();
  return querystring.stringify({
    session_id: sessionId,
    create_time: now,
    nonce: Math.random(),
    role: 'publisher',
    expire_time: now + 86400,
    initial_layout_class_list: '',
    scope: 'session.connect',
    ...over,
  });
}

// ---------- valid tokens ----------

for (const format of FORMATS) {
  test(`${format.name}: default token is a publisher token for the session, expiring in 24 h`, () => {
    const now = nowSec();
    const token = mint(sessionA, undefined, format);
    expectValid(token, sessionA, {
      format: format.name, sessionId: sessionA, role: 'publisher', data: null, initialLayoutClassList: [], expireTime: [now + 86400 - 5, now + 86400 + 5],
    });
    // Without --session too.
    expectValid(token, undefined, {
      format: format.name, sessionId: sessionA, role: 'publisher', data: null, initialLayoutClassList: [], expireTime: [now + 86400 - 5, now + 86400 + 5],
    });
  });

  for (const role of ['publisher', 'subscriber', 'moderator', 'publisheronly']) {
    test(`${format.name}: role ${role}`, () => {
      const token = mint(sessionB, { role }, format);
      expectValid(token, sessionB, {
        format: format.name, sessionId: sessionB, role, data: null, initialLayoutClassList: [], expireTime: [nowSec() + 86400 - 5, nowSec() + 86400 + 5],
      });
    });
  }

  test(`${format.name}: data, initial layout class list and expire time round-trip`, () => {
    const expireTime = nowSec() + 3600;
    const data = 'name=Zoë & co: {"id":7} ~x+y%20z';
    const token = mint(sessionA, {
      role: 'moderator', data, initialLayoutClassList: ['focus', 'full-width'], expireTime,
    }, format);
    expectValid(token, sessionA, {
      format: format.name, sessionId: sessionA, role: 'moderator', data, initialLayoutClassList: ['focus', 'full-width'], expireTime,
    });
  });

  test(`${format.name}: fractional expireTime is rounded by the SDK and kept`, () => {
    const base = nowSec() + 7200;
    const token = mint(sessionA, { expireTime: base + 0.4, role: 'subscriber' }, format);
    expectValid(token, sessionA, {
      format: format.name, sessionId: sessionA, role: 'subscriber', data: null, initialLayoutClassList: [], expireTime: base,
    });
  });

  test(`${format.name}: layout class list given as a string`, () => {
    const token = mint(sessionB, { initialLayoutClassList: 'alpha beta gamma' }, format);
    expectValid(token, sessionB, {
      format: format.name, sessionId: sessionB, role: 'publisher', data: null, initialLayoutClassList: ['alpha', 'beta', 'gamma'], expireTime: [nowSec() + 86390, nowSec() + 86410],
    });
  });

  test(`${format.name}: connection data of exactly 1000 characters is accepted`, () => {
    const data = 'd'.repeat(1000);
    const token = mint(sessionA, { data }, format);
    expectValid(token, sessionA, {
      format: format.name, sessionId: sessionA, role: 'publisher', data, initialLayoutClassList: [], expireTime: [nowSec() + 86390, nowSec() + 86410],
    });
  });

  test(`${format.name}: 1000 non-ASCII characters of data are accepted (the limit counts characters, not bytes)`, () => {
    const data = 'ü'.repeat(1000);
    const token = mint(sessionB, { data }, format);
    expectValid(token, sessionB, {
      format: format.name, sessionId: sessionB, role: 'publisher', data, initialLayoutClassList: [], expireTime: [nowSec() + 86390, nowSec() + 86410],
    });
  });

  test(`${format.name}: connection data over 1000 characters -> data_too_long`, () => {
    // The Node SDK allows up to 1024 characters; the product limit is 1000.
    expectRejected(mint(sessionA, { data: 'x'.repeat(1001) }, format), sessionA, 'data_too_long');
    expectRejected(mint(sessionA, { data: 'y'.repeat(1024) }, format), sessionA, 'data_too_long');
  });

  test(`${format.name}: token for another session -> wrong_session`, () => {
    const token = mint(sessionA, { role: 'publisher' }, format);
    expectRejected(token, sessionB, 'wrong_session');
  });

  test(`${format.name}: well-formed but never-created session of the same key -> unknown_session`, () => {
    const ghost = forgeSessionId(sessionA);
    assert.notEqual(ghost, sessionA);
    const token = mint(ghost, {}, format); // the SDK accepts it: the key matches
    expectRejected(token, undefined, 'unknown_session');
  });

  test(`${format.name}: token of an unknown project -> unknown_project`, () => {
    const other = new OpenTok('47009999', API_SECRET, { apiUrl: server.baseUrl });
    const ghost = forgeSessionId(sessionA, { apiKey: '47009999' });
    const token = other.generateToken(ghost, {}, format.t1);
    expectRejected(token, undefined, 'unknown_project');
  });

  test(`${format.name}: token signed with a wrong secret -> bad_signature`, () => {
    const bad = new OpenTok(API_KEY, WRONG_SECRET, { apiUrl: server.baseUrl });
    expectRejected(bad.generateToken(sessionA, {}, format.t1), sessionA, 'bad_signature');
  });
}

// ---------- crafted tokens ----------

test('jwt: a hand-built Node claim set verifies (sanity check of the crafting below)', () => {
  const claims = nodeClaims(sessionA, { role: 'subscriber', connection_data: 'crafted' });
  expectValid(signHs256(claims, API_SECRET), sessionA, {
    format: 'jwt', sessionId: sessionA, role: 'subscriber', data: 'crafted', initialLayoutClassList: [], expireTime: claims.expire_time,
  });
});

test('t1: a hand-built Node data string verifies (sanity check of the crafting below)', () => {
  const exp = nowSec() + 500;
  const token = makeT1(API_KEY, API_SECRET, nodeT1Data(sessionA, { role: 'moderator', expire_time: exp }));
  assert.ok(t1SignatureValid(token, API_SECRET));
  expectValid(token, sessionA, {
    format: 't1', sessionId: sessionA, role: 'moderator', data: null, initialLayoutClassList: [], expireTime: exp,
  });
});

test('jwt: one flipped character in the signature -> bad_signature', () => {
  const token = mint(sessionA, { role: 'subscriber' }, FORMATS[0]);
  const tampered = flipJwtSignature(token);
  assert.notEqual(tampered, token);
  expectRejected(tampered, sessionA, 'bad_signature');
});

test('jwt: payload altered (subscriber -> moderator) with the original signature -> bad_signature', () => {
  const token = mint(sessionA, { role: 'subscriber' }, FORMATS[0]);
  const [h, , s] = token.split('.');
  const payload = decodeJwt(token).payload;
  assert.equal(payload.role, 'subscriber');
  payload.role = 'moderator';
  const tampered = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
  expectRejected(tampered, sessionA, 'bad_signature');
});

test('t1: payload altered (subscriber -> moderator) with the original signature -> bad_signature', () => {
  const token = mint(sessionA, { role: 'subscriber' }, FORMATS[1]);
  const { head, dataString } = splitT1(token);
  assert.ok(dataString.includes('role=subscriber'), dataString);
  const tampered = joinT1(head, dataString.replace('role=subscriber', 'role=moderator'));
  expectRejected(tampered, sessionA, 'bad_signature');
});

test('t1: one changed hex digit in sig -> bad_signature', () => {
  const token = mint(sessionA, {}, FORMATS[1]);
  const { head, dataString } = splitT1(token);
  const params = new URLSearchParams(head);
  const sig = params.get('sig');
  const newSig = sig.slice(0, 10) + (sig[10] === '0' ? '1' : '0') + sig.slice(11);
  expectRejected(joinT1(`partner_id=${API_KEY}&sig=${newSig}`, dataString), sessionA, 'bad_signature');
});

test('jwt: expired token (Node claim set, expire_time and exp in the past) -> expired', () => {
  const past = nowSec() - 3600;
  const claims = nodeClaims(sessionA, { iat: past - 60, create_time: past - 60, exp: past, expire_time: past });
  expectRejected(signHs256(claims, API_SECRET), sessionA, 'expired');
});

test('t1: expired token (expire_time in the past) -> expired', () => {
  const past = nowSec() - 3600;
  const token = makeT1(API_KEY, API_SECRET, nodeT1Data(sessionA, { create_time: past - 60, expire_time: past }));
  expectRejected(token, sessionA, 'expired');
});

test('jwt: unknown role -> invalid_role', () => {
  expectRejected(signHs256(nodeClaims(sessionA, { role: 'admin' }), API_SECRET), sessionA, 'invalid_role');
});

test('t1: unknown role -> invalid_role', () => {
  expectRejected(makeT1(API_KEY, API_SECRET, nodeT1Data(sessionA, { role: 'admin' })), sessionA, 'invalid_role');
});

test('jwt: wrong scope -> invalid_scope', () => {
  expectRejected(signHs256(nodeClaims(sessionA, { scope: 'session.admin' }), API_SECRET), sessionA, 'invalid_scope');
});

test('jwt: crafted connection_data of 1001 characters -> data_too_long', () => {
  expectRejected(signHs256(nodeClaims(sessionA, { connection_data: 'z'.repeat(1001) }), API_SECRET), sessionA, 'data_too_long');
});

test('malformed tokens -> malformed', () => {
  for (const t of ['hello', 'T1==!!!!not-base64', 'T1==' + Buffer.from('no colon here').toString('base64'), 'a.b.c', 'eyJhbGciOiJIUzI1NiJ9.e30']) {
    expectRejected(t, undefined, 'malformed');
  }
});

// ---------- tokens minted by `parlor token` look like the SDK's ----------

for (const format of ['jwt', 't1']) {
  test(`parlor token --format ${format} mints an SDK-format token that verifies`, () => {
    const r = parlor(['token', sessionB, '--api-key', API_KEY, '--api-secret', API_SECRET,
      '--role', 'moderator', '--ttl', '600', '--data', 'from the cli', '--format', format]);
    assert.equal(r.status, 0, r.stderr);
    const token = r.stdout.trim();
    const now = nowSec();
    if (format === 'jwt') {
      assert.ok(jwtSignatureValid(token, API_SECRET), 'HS256 signature with the API secret');
      const { header, payload } = decodeJwt(token);
      assert.equal(header.alg, 'HS256');
      assert.equal(payload.iss, API_KEY);
      assert.equal(payload.ist, 'project');
      assert.equal(payload.session_id, sessionB);
      assert.equal(payload.role, 'moderator');
      assert.equal(payload.scope, 'session.connect');
      assert.equal(payload.connection_data, 'from the cli');
    } else {
      assert.ok(token.startsWith('T1=='));
      assert.ok(t1SignatureValid(token, API_SECRET), 'HMAC-SHA1 signature with the API secret');
      const { head, dataString } = splitT1(token);
      assert.equal(new URLSearchParams(head).get('partner_id'), API_KEY);
      const fields = new URLSearchParams(dataString);
      assert.equal(fields.get('session_id'), sessionB);
      assert.equal(fields.get('role'), 'moderator');
      assert.equal(fields.get('connection_data'), 'from the cli');
    }
    expectValid(token, sessionB, {
      format, sessionId: sessionB, role: 'moderator', data: 'from the cli', initialLayoutClassList: [], expireTime: [now + 595, now + 605],
    });
  });
}
