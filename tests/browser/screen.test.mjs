// Screen sharing: a publisher with videoSource 'screen' reaches the others as a stream with
// videoType 'screen', and its video plays.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSession, expectLiveVideos, join, openTestPage, useEnvironment, waitInPage } from './lib/harness.mjs';

const env = useEnvironment();

test('a shared screen is a stream with videoType screen', async () => {
  const sid = await createSession(env.server);
  const ann = await openTestPage(env);
  const bob = await openTestPage(env);
  const capability = await ann.evaluate(() => OT.checkScreenSharingCapability());
  assert.equal(capability.supported, true);
  await join(ann, sid, { data: 'name=Ann', publish: false });
  await join(bob, sid, { data: 'name=Bob', publish: false });

  const shared = await ann.evaluate(() => T.publishNow({ videoSource: 'screen', audioSource: null, name: 'Ann (screen)' }));
  assert.equal(shared.error, undefined, JSON.stringify(shared));
  assert.equal(shared.videoType, 'screen');

  const created = await waitInPage(bob, () => T.events('streamCreated')[0]);
  assert.equal(created.videoType, 'screen');
  assert.equal(created.name, 'Ann (screen)');
  assert.equal(created.hasAudio, false);
  const { videos } = await expectLiveVideos(bob, 1);
  assert.ok(videos[0].videoWidth > 0);
  await ann.context().close();
  await bob.context().close();
});
