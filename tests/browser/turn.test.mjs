// TURN with a real coturn (Debian's turnserver, lib/coturn.mjs), as a deployment runs it:
// Parlor started with `--turn-url` and `--turn-secret` hands every client TURN credentials
// minted for its connection (`connected.iceServers`), and the web SDK gives them, with the
// app's own `iceConfig` (OpenTok.js's includeServers, transportPolicy, customServers), to its
// peer connections. Each call asserts through getStats which candidate pair carries the media.
//
// - Through a firewall: a browser on a host of its own (lib/impair.mjs, a network namespace)
//   that reaches this machine only over TCP to the web server and coturn: no UDP, so no media
//   straight to the router. The call goes through coturn over TCP.
// - transportPolicy 'relay' on this machine: only relayed candidates, over coturn.
// - includeServers 'custom': only the app's customServers (credentials the test computes).
// - Parlor given a wrong secret: coturn refuses its credentials, and a relay-only call never
//   connects.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { createSession, expectLiveVideos, join, launchBrowser, openPage, selectedPairs, startPageServer, startServer } from './lib/harness.mjs';
import { startCoturn, turnCredentials } from './lib/coturn.mjs';
import { firewalledHost, impairmentUnavailable } from './lib/impair.mjs';

const env = {};

before(async () => {
  env.coturn = await startCoturn({ ip: '127.0.0.1' });
  const urls = ['udp', 'tcp'].flatMap((t) => ['--turn-url', env.coturn.url(t)]);
  env.server = await startServer([...urls, '--turn-secret', env.coturn.secret]);
  env.pages = await startPageServer(env.server);
  // The same coturn, but Parlor mints credentials with another secret.
  env.wrongServer = await startServer([...urls, '--turn-secret', 'not-the-coturn-secret-5e0c1f27']);
  env.wrongPages = await startPageServer(env.wrongServer);
  env.browser = await launchBrowser();
});

after(async () => {
  await env.browser?.close();
  for (const p of [env.pages, env.wrongPages]) await p?.close();
  const exits = [];
  for (const s of [env.server, env.wrongServer]) if (s) exits.push([await s.stop(), s]);
  await env.coturn?.stop();
  for (const [exit, s] of exits) {
    if (exit && exit.code !== 0) throw new Error(`parlor serve exited with ${JSON.stringify(exit)}:\n${s.stderr}`);
  }
});

/** Ann publishes, Bob subscribes (both with `iceConfig`); resolves once Bob decodes her video. */
async function call(browser, pages, server, { iceConfig } = {}) {
  const sid = await createSession(server);
  const url = `${pages.baseUrl}/test.html`;
  const ann = await openPage(browser, url);
  const bob = await openPage(browser, url);
  const a = await join(ann, sid, { data: 'name=Ann', iceConfig });
  assert.ok(a.streamId, `Ann publishes: ${JSON.stringify(a)}`);
  const b = await join(bob, sid, { publish: false, data: 'name=Bob', iceConfig });
  assert.ok(b.connectionId, JSON.stringify(b));
  await expectLiveVideos(bob, 1, 30000);
  const pairs = { ann: await selectedPairs(ann), bob: await selectedPairs(bob) };
  return { a, b, pairs, close: () => Promise.all([ann.context().close(), bob.context().close()]) };
}

/** Asserts both sides' media goes through a TURN relay (over `protocol`, if given). */
function assertRelayed(pairs, protocol) {
  const all = [...pairs.ann.publishers, ...pairs.bob.subscribers];
  assert.equal(all.length, 2, JSON.stringify(pairs));
  for (const p of all) {
    assert.equal(p?.localType, 'relay', `a relayed candidate pair: ${JSON.stringify(pairs)}`);
    assert.ok(['udp', 'tcp'].includes(p.relayProtocol), JSON.stringify(p));
    if (protocol) assert.equal(p.relayProtocol, protocol, JSON.stringify(pairs));
  }
}

/** coturn's log lines about requests of the TURN user `<expiry>:<user>` (a connection ID, or the app's user). */
const requestsOf = (log, user) => log.split('\n').filter((l) => l.includes(`:${user}>`) && l.includes('incoming packet'));
const allocated = (log, user) => requestsOf(log, user).some((l) => l.includes('ALLOCATE processed, success'));

test('the web SDK checks iceConfig as OpenTok.js: OT_INVALID_PARAMETER for a malformed one', async () => {
  const page = await openPage(env.browser, `${env.pages.baseUrl}/test.html`);
  const results = await page.evaluate(() => {
    const cases = [
      'relay',
      { includeServers: 'none' },
      { transportPolicy: 'tcp' },
      { customServers: { urls: 'turn:x' } },
      { customServers: [{}] },
      { customServers: [{ urls: [] }] },
      { customServers: [{ urls: 'http://turn.example.com' }] },
      { customServers: [{ urls: 'turn:turn.example.com' }] },
      { customServers: [{ urls: 'turn:turn.example.com', username: 'u', credential: 7 }] },
    ];
    const outcome = (iceConfig) => {
      try {
        OT.initSession('47001234', '1_MX40NzAwMTIzNH5-MTc5NTI0MDg2MjE0MH5mMjU0NDM5ZWY2ZDY0NjkxMzFkNzM2OTczYmIzNmNkZn4', { iceConfig });
        return null;
      } catch (e) {
        return { name: e.name, code: e.code, message: e.message };
      }
    };
    const good = [
      undefined,
      {},
      { includeServers: 'custom', transportPolicy: 'relay', customServers: [{ urls: ['turn:t.example.com:3478?transport=udp'], username: 'u', credential: 'p' }] },
      { includeServers: 'all', transportPolicy: 'all', customServers: [{ urls: 'stun:s.example.com' }] },
    ];
    return { bad: cases.map(outcome), good: good.map(outcome) };
  });
  assert.deepEqual(results.good, [null, null, null, null]);
  const messages = [
    'it must be an object',
    "includeServers must be 'all' or 'custom', not 'none'",
    "transportPolicy must be 'all' or 'relay', not 'tcp'",
    'customServers must be an array',
    'customServers[0].urls must be a URL or a non-empty array',
    'customServers[0].urls must be a URL or a non-empty array',
    "'http://turn.example.com' is not a stun:, stuns:, turn: or turns: URL",
    'customServers[0] has TURN URLs: it needs a username and a credential',
    'customServers[0].credential must be a string',
  ];
  results.bad.forEach((r, i) => {
    assert.equal(r?.name, 'OT_INVALID_PARAMETER', JSON.stringify(r));
    assert.equal(r.code, 1011);
    assert.ok(r.message.includes(messages[i]), `${r.message} — expected ${messages[i]}`);
  });
  await page.context().close();
});

test("transportPolicy 'relay': the call goes through coturn with the credentials Parlor minted", { timeout: 90000 }, async () => {
  const c = await call(env.browser, env.pages, env.server, { iceConfig: { transportPolicy: 'relay' } });
  console.log(`relay-only call: ${JSON.stringify(c.pairs)}`);
  assertRelayed(c.pairs);
  // coturn allocated for both connections, under the usernames Parlor minted for them.
  const log = env.coturn.log();
  for (const r of [c.a, c.b]) {
    assert.ok(allocated(log, r.connectionId), `coturn allocated for ${r.connectionId}:\n${log.slice(-3000)}`);
  }
  await c.close();
});

test("session.setIceConfig: checked as initSession's option, and the next publisher relays only", { timeout: 90000 }, async () => {
  const sid = await createSession(env.server);
  const url = `${env.pages.baseUrl}/test.html`;
  const ann = await openPage(env.browser, url);
  const bob = await openPage(env.browser, url);
  const a = await join(ann, sid, { publish: false, data: 'name=Ann' });
  assert.ok(a.connectionId, JSON.stringify(a));
  const refused = await ann.evaluate(() => {
    try {
      T.session.setIceConfig({ transportPolicy: 'tcp' });
      return null;
    } catch (e) {
      return { name: e.name, code: e.code, message: e.message };
    }
  });
  assert.equal(refused?.code, 1011, JSON.stringify(refused));
  // Connected without relaying; from now on, relay only.
  const published = await ann.evaluate(() => {
    T.session.setIceConfig({ transportPolicy: 'relay' });
    return T.publishNow();
  });
  assert.ok(published.streamId, JSON.stringify(published));
  const b = await join(bob, sid, { publish: false, data: 'name=Bob' });
  assert.ok(b.connectionId, JSON.stringify(b));
  await expectLiveVideos(bob, 1, 30000);
  const pairs = await selectedPairs(ann);
  assert.equal(pairs.publishers.length, 1);
  assert.equal(pairs.publishers[0].localType, 'relay', JSON.stringify(pairs));
  for (const p of [ann, bob]) await p.context().close();
});

test("includeServers 'custom': only the app's customServers, with credentials the app computed", { timeout: 90000 }, async () => {
  // On the server whose own credentials coturn refuses: the call connects only through the
  // custom server, and the server's credentials are never even tried.
  const customServers = [{ urls: [env.coturn.url('udp'), env.coturn.url('tcp')], ...turnCredentials(env.coturn.secret, 'custom-app-user') }];
  const c = await call(env.browser, env.wrongPages, env.wrongServer, { iceConfig: { includeServers: 'custom', transportPolicy: 'relay', customServers } });
  console.log(`custom-servers call: ${JSON.stringify(c.pairs)}`);
  assertRelayed(c.pairs);
  const log = env.coturn.log();
  assert.ok(allocated(log, 'custom-app-user'), log.slice(-3000));
  for (const r of [c.a, c.b]) assert.ok(!log.includes(r.connectionId), `the server's TURN credentials were used by ${r.connectionId}`);
  await c.close();
});

test('a wrong --turn-secret: coturn refuses the credentials, and a relay-only call never connects', { timeout: 90000 }, async () => {
  const sid = await createSession(env.wrongServer);
  const ann = await openPage(env.browser, `${env.wrongPages.baseUrl}/test.html`);
  const started = Date.now();
  const a = await join(ann, sid, { data: 'name=Ann', iceConfig: { transportPolicy: 'relay' } });
  console.log(`publishing with refused credentials: ${JSON.stringify(a.error)} after ${Date.now() - started} ms`);
  assert.ok(a.connectionId, JSON.stringify(a));
  assert.ok(!a.streamId && a.error, `publishing must fail: ${JSON.stringify(a)}`);
  assert.ok(['OT_TIMEOUT', 'OT_ICE_WORKFLOW_FAILED', 'OT_STREAM_CREATE_FAILED'].includes(a.error.name), JSON.stringify(a.error));
  // coturn saw the credentials Parlor minted for this connection, and refused them (401).
  const tried = requestsOf(env.coturn.log(), a.connectionId);
  assert.ok(tried.length > 0, 'the browser tried its credentials');
  assert.ok(tried.every((l) => l.includes('error 401')), tried.join('\n'));
  await ann.context().close();
});

const unavailable = impairmentUnavailable();

test('behind a firewall that lets only TCP out: the call goes through coturn over TCP', { skip: unavailable ?? false, timeout: 120000 }, async () => {
  const host = firewalledHost();
  const cleanup = [];
  try {
    cleanup.push(() => host.close());
    const coturn = await startCoturn({ ip: host.hostIp });
    cleanup.push(() => coturn.stop());
    const server = await startServer(['--turn-url', coturn.url('tcp'), '--turn-secret', coturn.secret], { listen: `${host.hostIp}:0` });
    cleanup.push(async () => {
      const exit = await server.stop();
      if (exit && exit.code !== 0) throw new Error(`parlor serve exited with ${JSON.stringify(exit)}:\n${server.stderr}`);
    });
    const pages = await startPageServer(server, host.hostIp);
    cleanup.push(() => pages.close());
    const port = (u) => Number(new URL(u).port);
    host.allowOnlyTcp([port(server.baseUrl), port(pages.baseUrl), coturn.port]);
    const browser = await launchBrowser({ executablePath: host.chromium, hosts: [host.hostIp], secureOrigins: [pages.baseUrl] });
    cleanup.push(() => browser.close());

    const c = await call(browser, pages, server);
    console.log(`firewalled call: ${JSON.stringify(c.pairs)}; the firewall dropped ${host.dropped()} packets`);
    assertRelayed(c.pairs, 'tcp');
    // The media reached the router from coturn's relay address, on this machine's end.
    for (const p of [...c.pairs.ann.publishers, ...c.pairs.bob.subscribers]) assert.equal(p.localAddress, host.hostIp, JSON.stringify(p));
    assert.ok(host.dropped() > 0, 'the browser tried the router directly, and the firewall dropped it');
    await c.close();
  } finally {
    for (const f of cleanup.reverse()) await f();
  }
});
