// H.264 end to end: a publisher that prefers H.264 (`preferredVideoCodecs`, OpenTok's
// publisher property) sends it; the router forwards it as it is (its keyframes detected,
// so a subscriber that joins later starts on one) and Chromium subscribers decode it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSession, expectLiveVideos, join, openTestPage, useEnvironment, waitInPage } from './lib/harness.mjs';
import { waitForInbound } from './lib/inbound.mjs';

const env = useEnvironment();

/** The subscribers' video codec and frames decoded, per stream. */
function decoded(page) {
  return page.evaluate(async () => {
    const out = {};
    for (const [id, s] of Object.entries(await T.stats())) out[id] = { codec: s.video?.codec, frames: s.video?.framesDecoded ?? 0 };
    return out;
  });
}

test('H.264 from Chromium is forwarded and decoded by other Chromiums', { timeout: 90000 }, async () => {
  const sid = await createSession(env.server);
  const ann = await openTestPage(env);
  const bob = await openTestPage(env);
  const a = await join(ann, sid, { publisherProps: { preferredVideoCodecs: ['h264', 'vp8'] } });
  await join(bob, sid, { publish: false });
  await expectLiveVideos(bob, 1);

  // The publisher encodes H.264.
  const sent = await waitInPage(ann, async () => {
    const reports = await T.publishers[0].getRtcStatsReport();
    for (const { rtcStatsReport } of reports) {
      for (const s of rtcStatsReport.values()) {
        if (s.type === 'outbound-rtp' && s.kind === 'video' && s.codecId && s.framesEncoded > 0) {
          return rtcStatsReport.get(s.codecId).mimeType;
        }
      }
    }
    return null;
  });
  assert.equal(sent.toLowerCase(), 'video/h264');

  // Bob decodes it, and keeps decoding.
  const first = (await decoded(bob))[a.streamId];
  assert.equal(first.codec.toUpperCase(), 'H264', JSON.stringify(first));
  await waitInPage(bob, async ({ id, before }) => {
    const s = (await T.stats())[id];
    return s.video.framesDecoded > before + 30 ? s : null;
  }, { id: a.streamId, before: first.frames });

  // Carl joins later: he starts on one of the publisher's H.264 keyframes (the router
  // detects them and asks for one), and decodes too.
  const carl = await openTestPage(env);
  await join(carl, sid, { publish: false });
  await expectLiveVideos(carl, 1);
  const carls = (await decoded(carl))[a.streamId];
  assert.equal(carls.codec.toUpperCase(), 'H264');
  assert.ok(carls.frames > 0, JSON.stringify(carls));

  // A VP8 publisher in the same session is still VP8 for everyone (per-stream codecs).
  const b = await bob.evaluate(() => T.publishNow({ preferredVideoCodecs: ['vp8'] }));
  await expectLiveVideos(carl, 2);
  const both = await decoded(carl);
  assert.equal(both[b.streamId].codec.toUpperCase(), 'VP8', JSON.stringify(both));
  assert.equal(both[a.streamId].codec.toUpperCase(), 'H264', JSON.stringify(both));

  for (const p of [ann, bob, carl]) await p.context().close();
});

test('H.264 simulcast: the router switches a subscriber between H.264 layers on their keyframes', { timeout: 120000 }, async () => {
  const sid = await createSession(env.server);
  const ann = await openTestPage(env);
  const bob = await openTestPage(env);
  const a = await join(ann, sid, { publisherProps: { preferredVideoCodecs: ['h264'], resolution: '1280x720', frameRate: 30 } });
  assert.ok(a.streamId, JSON.stringify(a));
  await join(bob, sid, { publish: false });
  await expectLiveVideos(bob, 1);
  // Three H.264 layers leave the publisher.
  const encodings = () => ann.evaluate(async () => {
    const out = {};
    for (const { rtcStatsReport } of await T.publishers[0].getRtcStatsReport()) {
      for (const s of rtcStatsReport.values()) {
        if (s.type === 'outbound-rtp' && s.kind === 'video' && s.framesEncoded > 0 && s.codecId) {
          out[s.rid] = rtcStatsReport.get(s.codecId).mimeType.toLowerCase();
        }
      }
    }
    return out;
  });
  let rids = {};
  for (let i = 0; i < 100 && Object.keys(rids).length < 3; i++) {
    rids = await encodings();
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.deepEqual(rids, { q: 'video/h264', h: 'video/h264', f: 'video/h264' });
  // Bob is switched down, up one, and back to the top, each time on a keyframe of the new
  // layer (an H.264 one starts at its SPS), and keeps decoding H.264.
  for (const [prefer, width] of [[{ width: 320, height: 180 }, 320], [{ width: 640, height: 360 }, 640], [null, 1280]]) {
    await bob.evaluate((r) => [...T.subscribers.values()][0].setPreferredResolution(r), prefer);
    const { stats } = await waitForInbound(bob, `${width}-wide H.264`, (s) => s.width === width, 20000, 250);
    await waitForInbound(bob, `${width}-wide frames decoded`, (s) => s.width === width && s.framesDecoded > stats.framesDecoded + 30, 10000, 250);
    const got = (await decoded(bob))[a.streamId];
    assert.equal(got.codec.toUpperCase(), 'H264', JSON.stringify(got));
  }
  for (const p of [ann, bob]) await p.context().close();
});

test('preferredVideoCodecs ignores codecs the router does not forward', { timeout: 60000 }, async () => {
  const sid = await createSession(env.server);
  const ann = await openTestPage(env);
  const bob = await openTestPage(env);
  const a = await join(ann, sid, { publisherProps: { preferredVideoCodecs: ['vp9', 'av1'] } });
  await join(bob, sid, { publish: false });
  await expectLiveVideos(bob, 1);
  const got = (await decoded(bob))[a.streamId];
  assert.equal(got.codec.toUpperCase(), 'VP8', JSON.stringify(got));
  for (const p of [ann, bob]) await p.context().close();
});
