// Media quality as an OpenTok.js app and the Inspector see it: with the server sampling
// every second, a Chromium subscriber gets `qualityScoreChanged` with OpenTok's 1–5
// audio and video scores (only when a score changes), and the Inspector API has the same
// session's quality windows for both sides, scored, with the browsers' SDK and User-Agent
// and what the browsers themselves measure (frame rate, resolution, freezes, concealment,
// quality limitation, candidate type).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSession, inspector as inspectorOf, join, openTestPage, useEnvironment, waitInPage } from './lib/harness.mjs';

const env = useEnvironment({ serverArgs: ['--quality-interval', '1s'] });

const inspector = (path) => inspectorOf(env.server, path);

test('qualityScoreChanged on subscribers, and the same session in the Inspector', async () => {
  const sid = await createSession(env.server);
  const ann = await openTestPage(env);
  const bob = await openTestPage(env);
  await ann.evaluate(() => {
    window.scores = [];
  });
  const a = await join(ann, sid, { publish: true });
  assert.ok(a.streamId, JSON.stringify(a));
  const b = await join(bob, sid, { publish: true });
  assert.ok(b.streamId, JSON.stringify(b));
  // Ann subscribes to Bob's stream: record the events on that subscriber.
  await waitInPage(ann, () => T.subscribers.size === 1);
  await ann.evaluate(() => {
    for (const sub of T.subscribers.values()) {
      sub.on('qualityScoreChanged', (e) => window.scores.push(e.qualityScore));
    }
  });
  const scores = await waitInPage(
    ann,
    () => {
      const s = window.scores;
      const last = s[s.length - 1];
      return last && last.audioQualityScore !== undefined && last.videoQualityScore !== undefined ? s : null;
    },
    undefined,
    30000,
  );
  for (const s of scores) {
    for (const v of [s.audioQualityScore, s.videoQualityScore]) {
      if (v !== undefined) assert.ok(Number.isInteger(v) && v >= 1 && v <= 5, JSON.stringify(scores));
    }
  }
  // Dispatched only on a change: no two consecutive events carry the same scores.
  for (let i = 1; i < scores.length; i++) assert.notDeepEqual(scores[i], scores[i - 1], JSON.stringify(scores));

  const session = await inspector(`/sessions/${sid}`);
  assert.equal(session.live, true);
  assert.equal(session.connections.length, 2);
  for (const c of session.connections) {
    assert.equal(c.sdk, 'parlor-web', JSON.stringify(c));
    assert.match(c.userAgent, /Chrome\//);
    assert.equal(c.remoteAddr, '127.0.0.1');
  }
  const quality = await inspector(`/sessions/${sid}/quality?streamId=${b.streamId}`);
  const sides = new Set(quality.items.filter((s) => s.summary.lastMos !== null).map((s) => `${s.side}/${s.media}`));
  for (const side of ['publisher/audio', 'publisher/video', 'subscriber/audio', 'subscriber/video']) {
    assert.ok(sides.has(side), `${side} missing: ${[...sides]}`);
  }
  const video = quality.items.find((s) => s.side === 'publisher' && s.media === 'video');
  assert.equal(video.connectionId, b.connectionId);
  assert.ok(video.samples.some((w) => w.bitrateBps > 50000), JSON.stringify(video.samples));

  // The browsers' own measures (W3C getStats, sent as `stats` every window) are in the
  // same windows: what Bob's browser encodes, and what Ann's decodes and plays.
  const reported = async () => {
    const q = await inspector(`/sessions/${sid}/quality?streamId=${b.streamId}`);
    const side = (s, m) => q.items.filter((i) => i.side === s && i.media === m).flatMap((i) => i.samples);
    const sent = side('publisher', 'video').find((w) => w.fps > 0 && w.width > 0);
    const shown = side('subscriber', 'video').find((w) => w.fps > 0 && w.width > 0 && w.freezes !== null);
    const heard = side('subscriber', 'audio').find((w) => w.concealed !== null);
    return sent && shown && heard ? { sent, shown, heard } : null;
  };
  let seen = null;
  for (let i = 0; i < 40 && !seen; i++) {
    seen = await reported();
    if (!seen) await new Promise((r) => setTimeout(r, 500));
  }
  assert.ok(seen, 'the browsers never reported their stats');
  const { sent, shown, heard } = seen;
  assert.ok(['none', 'cpu', 'bandwidth', 'other'].includes(sent.qualityLimitation), JSON.stringify(sent));
  assert.equal(sent.candidateType, 'host', JSON.stringify(sent));
  assert.equal(sent.protocol, 'udp');
  assert.ok(sent.fps <= 60 && sent.height > 0, JSON.stringify(sent));
  assert.ok(shown.freezes >= 0 && shown.freezeMs >= 0, JSON.stringify(shown));
  assert.ok(heard.concealed >= 0 && heard.concealed <= 1, JSON.stringify(heard));

  for (const p of [ann, bob]) await p.context().close();
});
