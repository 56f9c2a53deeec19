// Live compatibility: tokens minted by the official `opentok` Node SDK connect a real client
// (`parlor client subscribe`) to the session; refused ones fail with the server's reason.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { startServer, PARLOR_BIN, API_KEY, API_SECRET } from './helpers.mjs';

const require = createRequire(import.meta.url);
const OpenTok = require('opentok');

let server;
let ot;
let sessionId;

before(async () => {
  server = await startServer();
  ot = new OpenTok(API_KEY, API_SECRET, { apiUrl: server.baseUrl });
  sessionId = await new Promise((resolve, reject) =>
    ot.createSession({ mediaMode: 'routed' }, (err, s) => (err ? reject(err) : resolve(s.sessionId))));
});

after(async () => {
  const result = await server.stop();
  assert.equal(result.code, 0);
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

for (const t1 of [false, true]) {
  for (const role of ['publisher', 'subscriber', 'moderator', 'publisheronly']) {
    test(`a ${t1 ? 'T1' : 'JWT'} ${role} token from the Node SDK connects`, () => {
      const token = ot.generateToken(sessionId, { role, data: 'name=Node' }, t1);
      const r = subscribe(token);
      if (role === 'publisheronly') {
        // The token connects (sessionConnected), then subscribing is refused for the role.
        assert.equal(r.status, 1);
        assert.match(r.stdout, /"event":"sessionConnected"/);
        assert.match(r.stderr, /publisheronly token does not allow subscribing/);
        return;
      }
      assert.equal(r.status, 0, r.stderr);
      const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
      const connected = events.find((e) => e.event === 'sessionConnected');
      assert.equal(connected.connection.data, 'name=Node');
      assert.equal(events.at(-1).event, 'summary');
    });
  }
}

test('a token for another session is refused with wrong_session', async () => {
  const other = await new Promise((resolve, reject) =>
    ot.createSession({ mediaMode: 'routed' }, (err, s) => (err ? reject(err) : resolve(s.sessionId))));
  const r = subscribe(ot.generateToken(other), ['--session', sessionId]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /wrong_session/);
});

test('an expired token is refused with expired', () => {
  // The SDK refuses to mint an expired token, so wait one out.
  const token = ot.generateToken(sessionId, { expireTime: Math.floor(Date.now() / 1000) + 1 });
  spawnSync('sleep', ['2.2']);
  const r = subscribe(token);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /expired/);
});
