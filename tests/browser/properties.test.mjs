// publishVideo(false) / publishAudio(false) reach the others as streamPropertyChanged, the
// subscriber reports videoDisabled/videoEnabled, and audio levels are reported.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSession, expectLiveVideos, join, openTestPage, useEnvironment, waitInPage } from './lib/harness.mjs';

const env = useEnvironment();

test('publishVideo and publishAudio changes reach the others', async () => {
  const sid = await createSession(env.server);
  const ann = await openTestPage(env);
  const bob = await openTestPage(env);
  const carol = await openTestPage(env);
  const a = await join(ann, sid, { data: 'name=Ann' });
  await join(bob, sid, { data: 'name=Bob', publish: false });
  await join(carol, sid, { data: 'name=Carol', publish: false });
  await expectLiveVideos(bob, 1);
  await bob.evaluate(() => {
    const [sub] = [...T.subscribers.values()];
    sub.on('videoDisabled videoEnabled', (e) => T.log.push({ type: `subscriber:${e.type}`, reason: e.reason }));
  });

  await ann.evaluate(() => T.publishers[0].publishVideo(false));
  for (const p of [bob, carol, ann]) {
    const e = await waitInPage(p, () => T.events('streamPropertyChanged')[0]);
    assert.deepEqual(
      [e.streamId, e.changedProperty, e.oldValue, e.newValue, e.hasVideo],
      [a.streamId, 'hasVideo', true, false, false],
    );
  }
  await ann.evaluate(() => T.publishers[0].publishAudio.promise(false));
  for (const p of [bob, carol]) {
    const e = await waitInPage(p, () => T.events('streamPropertyChanged')[1]);
    assert.deepEqual([e.changedProperty, e.oldValue, e.newValue, e.hasAudio], ['hasAudio', true, false, false]);
  }
  await ann.evaluate(() => T.publishers[0].publishVideo(true));
  const back = await waitInPage(bob, () => T.events('streamPropertyChanged')[2]);
  assert.deepEqual([back.changedProperty, back.newValue], ['hasVideo', true]);
  assert.deepEqual(
    await bob.evaluate(() => T.log.filter((e) => e.type.startsWith('subscriber:video')).map((e) => [e.type, e.reason])),
    [['subscriber:videoDisabled', 'publishVideo'], ['subscriber:videoEnabled', 'publishVideo']],
  );
  // The stream object the app holds reflects the change.
  assert.deepEqual(await carol.evaluate((id) => {
    const s = T.streamById(id);
    return [s.hasAudio, s.hasVideo];
  }, a.streamId), [false, true]);
  // Video flows again after publishVideo(true).
  await expectLiveVideos(bob, 1);
  for (const p of [ann, bob, carol]) await p.context().close();
});

test('audioLevelUpdated reports the microphone and the received audio', async () => {
  const sid = await createSession(env.server);
  const ann = await openTestPage(env);
  const bob = await openTestPage(env);
  await join(ann, sid, { data: 'name=Ann' });
  await join(bob, sid, { data: 'name=Bob', publish: false });
  await expectLiveVideos(bob, 1);
  await ann.evaluate(() => {
    window.levels = [];
    T.publishers[0].on('audioLevelUpdated', (e) => window.levels.push(e.audioLevel));
  });
  await bob.evaluate(() => {
    window.levels = [];
    [...T.subscribers.values()][0].on('audioLevelUpdated', (e) => window.levels.push(e.audioLevel));
  });
  for (const p of [ann, bob]) {
    // The fake microphone beeps: some samples are loud, all are within 0–1.
    const levels = await waitInPage(p, () => (window.levels.length >= 15 && window.levels.some((l) => l > 0.01) ? window.levels : null));
    assert.ok(levels.every((l) => l >= 0 && l <= 1), JSON.stringify(levels));
  }
  await ann.context().close();
  await bob.context().close();
});
