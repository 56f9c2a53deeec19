// A subscriber on a narrow downlink: Bob's Chromium runs on a host of its own whose
// downlink a tbf queue caps at will (lib/impair.mjs `shapedHost`), while Ann publishes a
// 1280x720 camera in three layers from this machine. The router estimates Bob's downlink
// from his browser's transport-wide congestion control feedback:
// - capped at 250 kbps, he is moved to the lowest layer within seconds, and back to the top
//   once the cap lifts (the router probes with padding before it moves him up), without a
//   freeze longer than a keyframe interval;
// - capped at 60 kbps, not even the lowest layer fits: videoDisableWarning, then
//   videoDisabled {reason: 'quality'} while his audio goes on; once the cap lifts,
//   videoEnabled {reason: 'quality'} and video again.
// What each side sees is read from its own getStats() and the SDK's events.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { createSession, join, launchBrowser, openPage, startPageServer, startServer, waitInPage } from './lib/harness.mjs';
import { impairmentUnavailable, shapedHost } from './lib/impair.mjs';
import { inboundStats as inbound, waitForInbound as waitFor } from './lib/inbound.mjs';

const unavailable = impairmentUnavailable();
const env = {};

before(async () => {
  if (unavailable) return;
  env.link = shapedHost('shape');
  env.server = await startServer([], { listen: `${env.link.hostIp}:0` });
  env.pages = await startPageServer(env.server, env.link.hostIp);
  const opts = { hosts: [env.link.hostIp], secureOrigins: [env.pages.baseUrl] };
  env.browser = await launchBrowser(opts);
  env.shapedBrowser = await launchBrowser({ ...opts, executablePath: env.link.chromium });
});

after(async () => {
  await env.shapedBrowser?.close();
  await env.browser?.close();
  await env.pages?.close();
  const exit = await env.server?.stop();
  env.link?.close();
  if (exit && exit.code !== 0) throw new Error(`parlor serve exited with ${JSON.stringify(exit)}:\n${env.server.stderr}`);
});

/** A session where Ann publishes 1280x720 and Bob, on the shaped host, subscribes. */
async function call() {
  const sid = await createSession(env.server);
  const url = `${env.pages.baseUrl}/test.html`;
  const ann = await openPage(env.browser, url);
  const bob = await openPage(env.shapedBrowser, url);
  const a = await join(ann, sid, { data: 'name=Ann', publisherProps: { resolution: '1280x720', frameRate: 30 } });
  assert.ok(a.streamId, JSON.stringify(a));
  const b = await join(bob, sid, { data: 'name=Bob', publish: false });
  assert.ok(b.connectionId, JSON.stringify(b));
  await waitInPage(bob, () => T.subscribers.size === 1, undefined, 20000);
  // Bob's subscriber's quality events, in order.
  await bob.evaluate(() => {
    window.quality = [];
    const sub = [...T.subscribers.values()][0];
    for (const name of ['videoDisableWarning', 'videoDisableWarningLifted', 'videoDisabled', 'videoEnabled']) {
      sub.on(name, (e) => window.quality.push({ name, reason: e.reason, t: performance.now() }));
    }
  });
  return { ann, bob };
}

const qualityEvents = (bob) => bob.evaluate(() => window.quality.map((e) => (e.reason ? `${e.name}:${e.reason}` : e.name)));

test('capped at 250 kbps a subscriber gets the lowest layer, and the top one back once the cap lifts', { skip: unavailable ?? false, timeout: 180000 }, async () => {
  const { ann, bob } = await call();
  await waitFor(bob, 'the top layer', (s) => s.width === 1280, 30000);
  // Let the publisher's encoder settle at its full rates.
  await new Promise((r) => setTimeout(r, 3000));

  env.link.limitDownlink(250);
  const before = await inbound(bob);
  const down = await waitFor(bob, 'the lowest layer under the cap', (s) => s.width === 320, 20000);
  console.log(`capped at 250 kbps: 1280 → 320 in ${down.ms} ms, freezes +${down.stats.freezeCount - before.freezeCount} (${(down.stats.totalFreezesDuration - before.totalFreezesDuration).toFixed(2)} s)`);
  // It stays there and plays: frames keep coming, and the link carries them.
  await new Promise((r) => setTimeout(r, 6000));
  const held = await inbound(bob);
  assert.equal(held.width, 320, JSON.stringify(held));
  assert.ok(held.framesDecoded > down.stats.framesDecoded + 60, JSON.stringify({ down: down.stats, held }));
  assert.deepEqual(await qualityEvents(bob), [], 'the lowest layer fits 300 kbps: no warning');

  env.link.liftDownlink();
  const lifted = await inbound(bob);
  const up = await waitFor(bob, 'the top layer once the cap lifted', (s) => s.width === 1280, 60000);
  await new Promise((r) => setTimeout(r, 2000));
  const after = await inbound(bob);
  const frozen = after.totalFreezesDuration - lifted.totalFreezesDuration;
  console.log(`cap lifted: 320 → 1280 in ${up.ms} ms, freezes +${after.freezeCount - lifted.freezeCount} (${frozen.toFixed(2)} s)`);
  assert.ok(frozen < 1.0, `froze ${frozen} s going back up`);
  assert.ok(after.framesDecoded > up.stats.framesDecoded, JSON.stringify({ up: up.stats, after }));
  await ann.context().close();
  await bob.context().close();
});

test('capped at 60 kbps a subscriber is warned, then gets audio only, and video again once the cap lifts', { skip: unavailable ?? false, timeout: 180000 }, async () => {
  const { ann, bob } = await call();
  await waitFor(bob, 'video', (s) => s.width > 0 && s.framesDecoded > 30, 30000);
  await new Promise((r) => setTimeout(r, 2000));

  env.link.limitDownlink(60);
  const t0 = Date.now();
  await waitInPage(bob, () => window.quality.some((e) => e.name === 'videoDisabled'), undefined, 30000);
  const events = await qualityEvents(bob);
  console.log(`capped at 60 kbps: ${events.join(', ')} after ${Date.now() - t0} ms`);
  assert.deepEqual(events, ['videoDisableWarning', 'videoDisabled:quality']);
  // Video stops; audio goes on.
  await new Promise((r) => setTimeout(r, 2000));
  const off = await inbound(bob);
  await new Promise((r) => setTimeout(r, 4000));
  const later = await inbound(bob);
  assert.ok(later.framesDecoded - off.framesDecoded < 5, `video still decoded: ${JSON.stringify({ off, later })}`);
  assert.ok(later.audioPackets - off.audioPackets > 100, `audio stopped: ${JSON.stringify({ off, later })}`);

  env.link.liftDownlink();
  const t1 = Date.now();
  await waitInPage(bob, () => window.quality.some((e) => e.name === 'videoEnabled'), undefined, 60000);
  console.log(`cap lifted: videoEnabled after ${Date.now() - t1} ms`);
  assert.deepEqual(await qualityEvents(bob), ['videoDisableWarning', 'videoDisabled:quality', 'videoEnabled:quality']);
  const on = await inbound(bob);
  await waitFor(bob, 'video frames again', (s) => s.framesDecoded > on.framesDecoded + 30, 15000);
  await ann.context().close();
  await bob.context().close();
});
