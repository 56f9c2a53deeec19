// Active speakers: the router reads each stream's audio level (RFC 6464, as Chromium sends
// it), the server decides who speaks with hysteresis and announces it (`speakers`); the SDK
// fires `speakersChanged` and sets Room State's `isSpeaking`. The publishers' microphones
// are tones the test turns on and off (pages/helpers.js `'tone'`).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSession, join, openTestPage, useEnvironment, waitInPage } from './lib/harness.mjs';

const env = useEnvironment();

/** The last speakersChanged a page saw that satisfies `pred` (run in the page). */
function waitSpeakers(page, pred, arg, timeout = 15000) {
  return waitInPage(
    page,
    ({ pred, arg }) => {
      const last = T.events('speakersChanged').at(-1);
      return last && new Function('e', 'arg', `return (${pred})(e, arg)`)(last, arg) ? last : null;
    },
    { pred: pred.toString(), arg },
    timeout,
  );
}

const speakingOf = (page, id) => page.evaluate((id) => T.session.getState().streams[id]?.isSpeaking, id);

test('the server announces who speaks and who dominates, with hysteresis', { timeout: 120000 }, async () => {
  const sid = await createSession(env.server);
  const ann = await openTestPage(env);
  const bob = await openTestPage(env);
  const a = await join(ann, sid, { publisherProps: { audioSource: 'tone' } });
  await ann.evaluate(() => T.setTone(false));
  const b = await join(bob, sid, { publisherProps: { audioSource: 'tone' } });
  await bob.evaluate(() => T.setTone(false));
  await waitInPage(ann, () => T.session.streams.length === 2);

  // Bob speaks: both hear it (his own client too), and Room State follows.
  await bob.evaluate(() => T.setTone(true));
  const on = await waitSpeakers(ann, (e, id) => e.speaking.includes(id), b.streamId);
  assert.deepEqual([on.speaking, on.dominant], [[b.streamId], b.streamId]);
  assert.equal(await speakingOf(ann, b.streamId), true);
  assert.equal(await speakingOf(ann, a.streamId), false);
  await waitSpeakers(bob, (e, id) => e.dominant === id, b.streamId);
  assert.equal(await speakingOf(bob, b.streamId), true);

  // A late joiner is told at once, without waiting for a change.
  const carl = await openTestPage(env);
  await join(carl, sid, { publish: false });
  await waitSpeakers(carl, (e, id) => e.speaking.includes(id) && e.dominant === id, b.streamId);

  // Bob stops: he is no longer speaking but stays the dominant (last) speaker.
  await bob.evaluate(() => T.setTone(false));
  const off = await waitSpeakers(ann, (e) => e.speaking.length === 0);
  assert.equal(off.dominant, b.streamId);
  assert.equal(await speakingOf(ann, b.streamId), false);

  // Ann speaks: she takes over at once (Bob is silent).
  await ann.evaluate(() => T.setTone(true));
  await waitSpeakers(ann, (e, id) => e.dominant === id && e.speaking.length === 1, a.streamId);

  // Turning her audio off (publishAudio false) silences her in the router's ears too.
  await ann.evaluate(() => T.publishers[0].publishAudio(false));
  await waitSpeakers(carl, (e) => e.speaking.length === 0);

  // A speaker who leaves gives up the place: Bob speaks, then unpublishes.
  await bob.evaluate(() => T.setTone(true));
  await waitSpeakers(carl, (e, id) => e.dominant === id, b.streamId);
  await bob.evaluate(() => T.session.unpublish(T.publishers[0]));
  const gone = await waitSpeakers(carl, (e, id) => !e.speaking.includes(id) && e.dominant !== id, b.streamId);
  assert.deepEqual(gone.speaking, []);

  // No flapping: a steady speaker makes one announcement, not one per window.
  const before = await ann.evaluate(() => T.events('speakersChanged').length);
  await ann.evaluate(() => T.publishers[0].publishAudio(true));
  await waitSpeakers(ann, (e, id) => e.speaking.includes(id), a.streamId);
  await new Promise((r) => setTimeout(r, 3000));
  const during = await ann.evaluate(() => T.events('speakersChanged').length);
  assert.ok(during - before <= 2, `${during - before} announcements for one steady speaker`);

  for (const p of [ann, bob, carl]) await p.context().close();
});
