// Reconnection: a publisher on a host of its own (lib/impair.mjs `outageHost`: a network
// namespace) loses its network for 5 s — every packet dropped both ways, so neither end
// hears an error — and gets it back. Its SDK fires sessionReconnecting, resumes the
// connection (`resume`), restarts ICE and fires sessionReconnected; its video plays again
// for the subscriber; nobody saw it leave (no connectionDestroyed, no streamDestroyed), and
// what was said meanwhile reaches it. A connection that stays away past the grace period
// ends as before (networkDisconnected).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { createSession, join, launchBrowser, openPage, startPageServer, startServer, waitInPage } from './lib/harness.mjs';
import { impairmentUnavailable, outageHost } from './lib/impair.mjs';

const unavailable = impairmentUnavailable();
const env = {};

before(async () => {
  if (unavailable) return;
  env.link = outageHost();
  env.server = await startServer(['--reconnect-grace', '12s'], { listen: `${env.link.hostIp}:0` });
  env.pages = await startPageServer(env.server, env.link.hostIp);
  const opts = { hosts: [env.link.hostIp], secureOrigins: [env.pages.baseUrl] };
  env.browser = await launchBrowser(opts);
  env.awayBrowser = await launchBrowser({ ...opts, executablePath: env.link.chromium });
});

after(async () => {
  env.link?.up();
  await env.awayBrowser?.close();
  await env.browser?.close();
  await env.pages?.close();
  const exit = await env.server?.stop();
  env.link?.close();
  if (exit && exit.code !== 0) throw new Error(`parlor serve exited with ${JSON.stringify(exit)}:\n${env.server.stderr}`);
});

/** The ICE username fragment of the publisher's selected candidate pair (its getStats). */
function publisherUfrag(page) {
  return waitInPage(page, async () => {
    for (const { rtcStatsReport: r } of await T.publishers[0].getRtcStatsReport()) {
      for (const s of r.values()) {
        if (s.type === 'transport' && s.selectedCandidatePairId) {
          const pair = r.get(s.selectedCandidatePairId);
          const local = pair && r.get(pair.localCandidateId);
          if (local?.usernameFragment && pair.state === 'succeeded') return local.usernameFragment;
        }
      }
    }
    return null;
  });
}

/** Frames the page's subscriber of `streamId` decoded so far. */
const framesOf = (page, streamId) => page.evaluate(async (id) => (await T.stats())[id]?.video?.framesDecoded ?? 0, streamId);

async function framesGrow(page, streamId, by, timeout = 20000) {
  const before = await framesOf(page, streamId);
  await waitInPage(page, async ({ id, target }) => ((await T.stats())[id]?.video?.framesDecoded ?? 0) > target, { id: streamId, target: before + by }, timeout);
}

/** Ann (here, subscribing) and a publisher on the host whose network will fail. */
async function call() {
  const sid = await createSession(env.server);
  const url = `${env.pages.baseUrl}/test.html`;
  const ann = await openPage(env.browser, url);
  const away = await openPage(env.awayBrowser, url);
  await join(ann, sid, { publish: false });
  const a = await join(away, sid, {});
  assert.ok(a.streamId, JSON.stringify(a));
  await recordReconnects(away);
  return { ann, away, a };
}

function recordReconnects(page) {
  return page.evaluate(() => {
    window.reconnects = [];
    for (const name of ['sessionReconnecting', 'sessionReconnected', 'sessionDisconnected']) {
      T.session.on(name, (e) => window.reconnects.push({ type: name, reason: e.reason, t: performance.now() }));
    }
  });
}

test('a publisher whose network drops for 5 s comes back without anyone seeing it leave', { skip: unavailable ?? false, timeout: 120000 }, async () => {
  const { ann, away, a } = await call();
  await framesGrow(ann, a.streamId, 30);
  const ufragBefore = await publisherUfrag(away);

  // The network goes for 5 s. Meanwhile Ann signals: the message waits for the publisher.
  env.link.down();
  await waitInPage(away, () => window.reconnects.some((e) => e.type === 'sessionReconnecting'), undefined, 15000);
  const sent = await ann.evaluate(() => T.signal({ type: 'while-away', data: 'hello' }));
  assert.equal(sent, null);
  await new Promise((r) => setTimeout(r, 5000));
  env.link.up();

  // Back: resumed, the missed signal delivered, and the video plays again for Ann.
  await waitInPage(away, () => window.reconnects.some((e) => e.type === 'sessionReconnected'), undefined, 20000);
  await waitInPage(away, () => T.events('signal').some((e) => e.signalType === 'signal:while-away' && e.data === 'hello'), undefined, 10000);
  await framesGrow(ann, a.streamId, 30);
  const events = await away.evaluate(() => window.reconnects.map((e) => e.type));
  assert.deepEqual(events, ['sessionReconnecting', 'sessionReconnected'], JSON.stringify(events));
  // Media came back over a restarted ICE session (new credentials), the same peer connection.
  await waitInPage(away, async (before) => {
    for (const { rtcStatsReport: r } of await T.publishers[0].getRtcStatsReport()) {
      for (const s of r.values()) {
        if (s.type !== 'transport' || !s.selectedCandidatePairId) continue;
        const pair = r.get(s.selectedCandidatePairId);
        const ufrag = pair && r.get(pair.localCandidateId)?.usernameFragment;
        if (ufrag && ufrag !== before && pair.state === 'succeeded') return ufrag;
      }
    }
    return null;
  }, ufragBefore);

  // Nobody saw it leave: no connectionDestroyed or streamDestroyed at Ann's.
  const seen = await ann.evaluate(() => T.events().map((e) => e.type));
  assert.ok(!seen.includes('connectionDestroyed') && !seen.includes('streamDestroyed'), JSON.stringify(seen));
  // It works as before: it signals, Ann hears it.
  assert.equal(await away.evaluate(() => T.signal({ type: 'back', data: 'again' })), null);
  await waitInPage(ann, () => T.events('signal').some((e) => e.signalType === 'signal:back'));

  for (const p of [ann, away]) await p.context().close();
});

test('a connection that stays away past the grace period ends: networkDisconnected', { skip: unavailable ?? false, timeout: 120000 }, async () => {
  const { ann, away, a } = await call();
  await framesGrow(ann, a.streamId, 10);

  env.link.down();
  try {
    // The others see it leave once the grace (12 s) is over, as networkDisconnected.
    const gone = await waitInPage(ann, () => T.events('connectionDestroyed').at(-1) ?? null, undefined, 40000);
    assert.equal(gone.reason, 'networkDisconnected');
    await waitInPage(ann, (id) => T.events('streamDestroyed').some((e) => e.streamId === id), a.streamId);
    // The client gives up too.
    await waitInPage(away, () => window.reconnects.find((e) => e.type === 'sessionDisconnected') ?? null, undefined, 30000);
    const events = await away.evaluate(() => window.reconnects.map((e) => [e.type, e.reason ?? null]));
    assert.deepEqual(events, [['sessionReconnecting', null], ['sessionDisconnected', 'networkDisconnected']], JSON.stringify(events));
  } finally {
    env.link.up();
  }
  for (const p of [ann, away]) await p.context().close();
});
