// H.264 end to end: a publisher that prefers H.264 (`preferredVideoCodecs`, OpenTok's
// publisher property) sends it; the router forwards it as it is (its keyframes detected,
// so a subscriber that joins later starts on one) and Chromium subscribers decode it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSession, expectLiveVideos, join, openTestPage, useEnvironment, waitInPage } from './lib/harness.mjs';

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
