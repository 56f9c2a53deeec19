// Two and three participants each see every other's live video: the <video> has a size,
// its currentTime advances, and the subscriber's getStats() counts frames.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSession, expectLiveVideos, join, openTestPage, useEnvironment, waitInPage } from './lib/harness.mjs';

const env = useEnvironment();

test('two participants see each other', async () => {
  const sid = await createSession(env.server);
  const ann = await openTestPage(env);
  const bob = await openTestPage(env);
  const a = await join(ann, sid, { data: 'name=Ann' });
  const b = await join(bob, sid, { data: 'name=Bob' });
  assert.ok(a.streamId && b.streamId, `both published: ${JSON.stringify({ a, b })}`);

  const seenByAnn = await expectLiveVideos(ann, 1);
  const seenByBob = await expectLiveVideos(bob, 1);
  assert.equal(seenByAnn.videos[0].streamId, b.streamId);
  assert.equal(seenByBob.videos[0].streamId, a.streamId);
  assert.equal(seenByBob.videos[0].videoWidth, 640, 'the fake camera is 640x480');
  const s = seenByAnn.stats[b.streamId];
  assert.equal(s.video.codec, 'VP8');
  assert.ok(s.video.frameRate > 0, `frame rate ${s.video.frameRate}`);
  assert.ok(s.timestamp > 0);

  // Events in OpenTok's order: Bob's stream reaches Ann as streamCreated with its connection.
  const created = await ann.evaluate(() => T.events('streamCreated'));
  assert.equal(created.length, 1);
  assert.equal(created[0].connectionData, 'name=Bob');
  assert.equal(created[0].videoType, 'camera');
  // Ann's own stream is announced on her publisher, not on the session.
  const own = await ann.evaluate(() => T.events('publisher:streamCreated'));
  assert.equal(own.length, 1);
  assert.equal(own[0].streamId, a.streamId);

  // The publisher side reports what it sends.
  const pubStats = await bob.evaluate(async () => {
    const [entry] = await T.publishers[0].getStats();
    const rtc = await T.publishers[0].getRtcStatsReport();
    return { entry, rtcSize: rtc[0].rtcStatsReport.size };
  });
  assert.ok(pubStats.entry.stats.video.packetsSent > 0 && pubStats.entry.stats.audio.bytesSent > 0, JSON.stringify(pubStats));
  assert.ok(pubStats.rtcSize > 0);
  await ann.context().close();
  await bob.context().close();
});

test('three participants each see the other two', async () => {
  const sid = await createSession(env.server);
  const pages = [await openTestPage(env), await openTestPage(env), await openTestPage(env)];
  const joined = [];
  for (const [i, p] of pages.entries()) joined.push(await join(p, sid, { data: `name=P${i}` }));
  const ids = joined.map((j) => j.streamId);
  for (const [i, p] of pages.entries()) {
    const { videos } = await expectLiveVideos(p, 2);
    assert.deepEqual(
      videos.map((v) => v.streamId).sort(),
      ids.filter((_, j) => j !== i).sort(),
      `participant ${i} sees the two others`,
    );
  }
  for (const p of pages) await p.context().close();
});

test('subscribeToVideo(false) stops the video; true brings it back', async () => {
  const sid = await createSession(env.server);
  const ann = await openTestPage(env);
  const bob = await openTestPage(env);
  await join(ann, sid, { data: 'name=Ann' });
  const b = await join(bob, sid, { data: 'name=Bob', publish: false });
  assert.equal(b.error, undefined);
  await expectLiveVideos(bob, 1);
  const frames = () => bob.evaluate(async () => {
    const [sub] = [...T.subscribers.values()];
    return (await sub.getStats()).video.framesDecoded;
  });
  await bob.evaluate(() => {
    const [sub] = [...T.subscribers.values()];
    sub.on('videoDisabled videoEnabled', (e) => T.log.push({ type: `subscriber:${e.type}`, reason: e.reason }));
  });
  await bob.evaluate(() => [...T.subscribers.values()][0].subscribeToVideo.promise(false));
  await new Promise((r) => setTimeout(r, 500));
  const paused = await frames();
  await new Promise((r) => setTimeout(r, 1000));
  assert.ok((await frames()) - paused <= 2, 'no video flows while unsubscribed from it');
  await bob.evaluate(() => [...T.subscribers.values()][0].subscribeToVideo.promise(true));
  await waitInPage(bob, async (n) => {
    const [sub] = [...T.subscribers.values()];
    return (await sub.getStats()).video.framesDecoded > n + 10;
  }, paused);
  assert.deepEqual(
    await bob.evaluate(() => T.log.filter((e) => e.type.startsWith('subscriber:video')).map((e) => [e.type, e.reason])),
    [['subscriber:videoDisabled', 'subscribeToVideo'], ['subscriber:videoEnabled', 'subscribeToVideo']],
    'the subscriber reports both changes, and why',
  );
  await ann.context().close();
  await bob.context().close();
});
