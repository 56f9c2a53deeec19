// Simulcast: a camera at 1280x720 publishes three layers (320x180, 640x360, 1280x720), the
// router forwards each subscriber the layer it prefers (setPreferredResolution), switching on
// a keyframe of the new layer without a gap, and the publisher pauses the layers nobody
// needs (layersNeeded). What each side sees is read from its own getStats().
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { createSession, join, openTestPage, useEnvironment, waitInPage } from './lib/harness.mjs';
import { inboundStats as inbound, waitForInbound } from './lib/inbound.mjs';

const env = useEnvironment();

/** The publisher's outbound video per rid: whether it is active, its size and bytes sent. */
async function outbound(page) {
  return page.evaluate(async () => {
    const pub = T.publishers[0];
    const containers = await pub.getRtcStatsReport();
    const out = {};
    for (const { rtcStatsReport } of containers) {
      for (const s of rtcStatsReport.values()) {
        if (s.type === 'outbound-rtp' && s.kind === 'video') {
          out[s.rid ?? '-'] = { active: s.active, width: s.frameWidth ?? 0, bytesSent: s.bytesSent };
        }
      }
    }
    return out;
  });
}

/** Waits until the subscriber receives `width` wide video; returns its stats then. */
async function expectWidth(page, width, timeout = 20000) {
  return (await waitForInbound(page, `${width}-wide video`, (s) => s.width === width, timeout, 250)).stats;
}

/** Waits until the publisher's rids are active as `want` ({q: true, h: false, ...}). */
async function expectActive(page, want, timeout = 15000) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await outbound(page);
    if (Object.entries(want).every(([rid, active]) => last[rid]?.active === active)) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`the publisher's layers are not ${JSON.stringify(want)}: ${JSON.stringify(last)}`);
}

test('a subscriber gets the layer it prefers, switched without a freeze, and unused layers pause', { timeout: 180000 }, async () => {
  const sid = await createSession(env.server);
  const ann = await openTestPage(env);
  const bob = await openTestPage(env);
  const a = await join(ann, sid, { data: 'name=Ann', publisherProps: { resolution: '1280x720', frameRate: 30 } });
  assert.ok(a.streamId, JSON.stringify(a));
  const b = await join(bob, sid, { data: 'name=Bob', publish: false });
  assert.ok(b.connectionId, JSON.stringify(b));
  await waitInPage(bob, () => T.subscribers.size === 1, undefined, 20000);

  // The publisher sends three layers; with no preference, Bob gets the top one.
  const layers = await expectActive(ann, { q: true, h: true, f: true });
  console.log(`publisher layers: ${JSON.stringify(layers)}`);
  await expectWidth(bob, 1280);

  const steps = [
    { prefer: { width: 320, height: 180 }, width: 320, active: { q: true, h: false, f: false } },
    { prefer: { width: 640, height: 360 }, width: 640, active: { q: true, h: true, f: false } },
    { prefer: null, width: 1280, active: { q: true, h: true, f: true } },
  ];
  for (const step of steps) {
    const before = await inbound(bob);
    const t0 = Date.now();
    await bob.evaluate((r) => [...T.subscribers.values()][0].setPreferredResolution(r), step.prefer);
    // Up: the paused layer resumes with a keyframe; down: a keyframe is asked for.
    const after = await expectWidth(bob, step.width);
    const switchMs = Date.now() - t0;
    await expectActive(ann, step.active);
    // Video kept flowing: frames decoded grew, and any freeze was shorter than a keyframe
    // interval (the router asks for one at once; a second is generous on a loaded machine).
    await new Promise((r) => setTimeout(r, 1500));
    const later = await inbound(bob);
    const frozen = later.totalFreezesDuration - before.totalFreezesDuration;
    console.log(`preferred ${JSON.stringify(step.prefer)}: ${after.width}x${after.height} in ${switchMs} ms, freezes +${later.freezeCount - before.freezeCount} (${frozen.toFixed(2)} s)`);
    assert.equal(later.width, step.width);
    assert.ok(later.framesDecoded > after.framesDecoded, JSON.stringify({ after, later }));
    assert.ok(frozen < 1.0, `froze ${frozen} s switching to ${step.width}`);
  }

  // A second subscriber with no preference gets the top layer while Bob keeps the lowest.
  await bob.evaluate(() => [...T.subscribers.values()][0].setPreferredResolution({ width: 320, height: 180 }));
  await expectWidth(bob, 320);
  const carol = await openTestPage(env);
  await join(carol, sid, { data: 'name=Carol', publish: false });
  await expectWidth(carol, 1280);
  await expectActive(ann, { q: true, h: true, f: true });
  assert.equal((await inbound(bob)).width, 320, 'Bob keeps his layer');

  // A preferred frame rate of 15 takes the lowest layer (the only one capped at 15 fps).
  await carol.evaluate(() => [...T.subscribers.values()][0].setPreferredFrameRate(15));
  await expectWidth(carol, 320);
  // Bad preferences are refused by the SDK.
  const refused = await carol.evaluate(async () => {
    const sub = [...T.subscribers.values()][0];
    const out = [];
    for (const bad of [{ width: 0, height: 10 }, { width: 1.5, height: 2 }, 'big']) {
      try {
        await sub.setPreferredResolution(bad);
        out.push('accepted');
      } catch (e) {
        out.push(e.name);
      }
    }
    try {
      await sub.setPreferredFrameRate(-1);
      out.push('accepted');
    } catch (e) {
      out.push(e.name);
    }
    return out;
  });
  assert.deepEqual(refused, ['OT_INVALID_PARAMETER', 'OT_INVALID_PARAMETER', 'OT_INVALID_PARAMETER', 'OT_INVALID_PARAMETER']);
  for (const p of [ann, bob, carol]) await p.context().close();
});
