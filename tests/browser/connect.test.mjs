// Connecting: the script tag's default server, the ES module, `serverUrl`, and the
// documented errors for refused tokens and unreachable servers.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { test } from 'node:test';
import { API_KEY, createSession, join, openPage, openTestPage, startServer, token, useEnvironment, waitInPage } from './lib/harness.mjs';

const env = useEnvironment();

test('the classic script defines OT and Parlor and connects to its own server', async () => {
  const sid = await createSession(env.server);
  const page = await openTestPage(env);
  const info = await page.evaluate(() => ({
    same: window.OT === window.Parlor,
    version: OT.version,
    requirements: OT.checkSystemRequirements(),
    api: ['initSession', 'initPublisher', 'getDevices', 'checkSystemRequirements', 'checkScreenSharingCapability', 'on', 'off', 'once', 'setLogLevel', 'getUserMedia', 'getSupportedCodecs', 'unblockAudio']
      .filter((f) => typeof OT[f] !== 'function'),
    promiseForms: [typeof OT.initPublisher.promise, typeof OT.initSession('1', 'x').connect.promise],
  }));
  assert.deepEqual(info, { same: true, version: '0.1.0', requirements: 1, api: [], promiseForms: ['function', 'function'] });
  const r = await join(page, sid, { data: 'name=Ann', publish: false });
  assert.equal(r.error, undefined);
  const sessionConnected = await page.evaluate(() => T.events('sessionConnected')[0]);
  assert.ok(sessionConnected);
  // Our own connection is announced too, as OpenTok.js does.
  const created = await page.evaluate(() => T.events('connectionCreated').map((e) => e.connectionId));
  assert.deepEqual(created, [r.connectionId]);
  await page.context().close();
});

test('the ES module: promise forms, getDevices, and the module server as default', async () => {
  const sid = await createSession(env.server);
  const page = await openPage(env.browser, `${env.pages.baseUrl}/module.html`);
  await waitInPage(page, () => !!window.ESM);
  const result = await page.evaluate(async ({ apiKey, sessionId, token }) => {
    const { OT, Parlor, VERSION, classicLoaded } = window.ESM;
    const session = OT.initSession(apiKey, sessionId);
    const same = await session.connect.promise(token);
    const publisher = await OT.initPublisher.promise(document.getElementById('box'), { insertMode: 'append', name: 'esm' });
    const published = await session.publish.promise(publisher);
    const devices = await OT.getDevices();
    const codecs = await OT.getSupportedCodecs();
    const stats = await publisher.getStats();
    const out = {
      same: same === session && OT === Parlor,
      classicLoaded,
      VERSION,
      streamName: published.stream.name,
      kinds: [...new Set(devices.map((d) => d.kind))].sort(),
      codecs: codecs.videoDecoders.includes('VP8'),
      stats: stats.length,
    };
    await session.disconnect();
    return out;
  }, { apiKey: API_KEY, sessionId: sid, token: token(sid) });
  assert.deepEqual(result, {
    same: true,
    classicLoaded: false,
    VERSION: '0.1.0',
    streamName: 'esm',
    kinds: ['audioInput', 'videoInput'],
    codecs: true,
    stats: 1,
  });
  await page.context().close();
});

test('initSession serverUrl overrides the default server', async () => {
  const other = await startServer();
  try {
    const sid = await createSession(other);
    const page = await openTestPage(env); // the SDK comes from env.server
    const r = await join(page, sid, { publish: false, serverUrl: other.baseUrl });
    assert.equal(r.error, undefined, JSON.stringify(r));
    await page.context().close();
  } finally {
    await other.stop();
  }
});

test('refused tokens and unreachable servers give OpenTok errors', async () => {
  const sid = await createSession(env.server);
  const otherSid = await createSession(env.server);
  const page = await openTestPage(env);
  const connect = (sessionId, tok, serverUrl, apiKey = API_KEY) =>
    page.evaluate(({ apiKey, sessionId, tok, serverUrl }) => new Promise((resolve) => {
      const s = OT.initSession(apiKey, sessionId, serverUrl ? { serverUrl } : undefined);
      s.connect(tok, (e) => resolve(e ? { name: e.name, code: e.code, reason: e.reason, message: e.message } : null));
    }), { apiKey, sessionId, tok, serverUrl });

  const tampered = token(sid).slice(0, -4) + 'AAAA';
  assert.deepEqual(pick(await connect(sid, tampered)), ['OT_AUTHENTICATION_ERROR', 1004, 'bad_signature']);
  assert.deepEqual(pick(await connect(sid, token(otherSid))), ['OT_AUTHENTICATION_ERROR', 1004, 'wrong_session']);
  assert.deepEqual(pick(await connect(sid, 'garbage')), ['OT_AUTHENTICATION_ERROR', 1004, 'malformed']);
  const never = neverCreatedSessionId();
  assert.deepEqual(pick(await connect(never, token(never))), ['OT_INVALID_SESSION_ID', 1005, 'unknown_session']);
  assert.deepEqual(pick(await connect('', token(sid))).slice(0, 2), ['OT_INVALID_SESSION_ID', 1005]);
  const wrongKey = await connect(sid, token(sid), undefined, '12345');
  assert.deepEqual([wrongKey.name, wrongKey.code], ['OT_AUTHENTICATION_ERROR', 1004]);
  assert.match(wrongKey.message, /API key 12345 does not match/);
  const down = await connect(sid, token(sid), `http://127.0.0.1:${await closedPort()}`);
  assert.deepEqual([down.name, down.code], ['OT_CONNECT_FAILED', 1006]);
  await page.context().close();
});

/** A session ID of this project's layout that the server never created. */
function neverCreatedSessionId() {
  const inner = `1~${API_KEY}~~${Date.now()}~${randomBytes(16).toString('hex')}~`;
  return `1_${Buffer.from(inner).toString('base64url')}`;
}

/** A loopback port nothing listens on. */
async function closedPort() {
  const srv = net.createServer();
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

test('disconnect() while connecting leaves at once', async () => {
  const sid = await createSession(env.server);
  const ann = await openTestPage(env);
  const bob = await openTestPage(env);
  await join(bob, sid, { publish: false });
  const r = await ann.evaluate(({ apiKey, sessionId, tok }) => new Promise((resolve) => {
    const s = OT.initSession(apiKey, sessionId);
    s.connect(tok, (e) => resolve({ error: e && e.name, status: s.getState().status }));
    s.disconnect();
  }), { apiKey: API_KEY, sessionId: sid, tok: token(sid) });
  assert.deepEqual(r, { error: 'OT_CONNECT_FAILED', status: 'disconnected' });
  // Bob saw Ann come and go (or nothing at all): nobody is left behind.
  await new Promise((res) => setTimeout(res, 300));
  assert.equal(await bob.evaluate(() => T.session.connections.length), 1);
  await ann.context().close();
  await bob.context().close();
});

function pick(e) {
  return e ? [e.name, e.code, e.reason] : e;
}
