// Moderation and roles: forceMuteStream, forceMuteAll, forceUnpublish and forceDisconnect
// from a moderator; the documented OT_PERMISSION_DENIED errors for other roles.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSession, expectLiveVideos, join, openTestPage, useEnvironment, waitInPage } from './lib/harness.mjs';

const env = useEnvironment();

test('a moderator mutes a stream; the publisher may unmute', async () => {
  const sid = await createSession(env.server);
  const mod = await openTestPage(env);
  const ann = await openTestPage(env);
  const bob = await openTestPage(env);
  const m = await join(mod, sid, { role: 'moderator', data: 'name=Mod', publish: false });
  assert.deepEqual(
    [m.capabilities.forceDisconnect, m.capabilities.forceUnpublish, m.capabilities.forceMute, m.capabilities.publish],
    [1, 1, 1, 1],
  );
  const a = await join(ann, sid, { data: 'name=Ann' });
  await join(bob, sid, { data: 'name=Bob', publish: false });
  await expectLiveVideos(bob, 1);
  await ann.evaluate(() => T.publishers[0].on('muteForced', () => T.log.push({ type: 'publisher:muteForcedEvent' })));

  assert.equal(await mod.evaluate((id) => T.session.forceMuteStream(T.streamById(id)).then(() => 'ok', (e) => e.name), a.streamId), 'ok');
  await waitInPage(ann, () => T.events('publisher:muteForcedEvent').length === 1);
  assert.equal(await ann.evaluate(() => T.events('muteForced').length), 1, 'the session dispatches muteForced too');
  assert.equal(await ann.evaluate(() => T.publishers[0].getAudioSource().enabled), false, 'the microphone track is muted');
  for (const p of [bob, mod]) {
    const e = await waitInPage(p, () => T.events('streamPropertyChanged')[0]);
    assert.deepEqual([e.streamId, e.changedProperty, e.newValue], [a.streamId, 'hasAudio', false]);
  }
  await ann.evaluate(() => T.publishers[0].publishAudio.promise(true));
  const unmuted = await waitInPage(bob, () => T.events('streamPropertyChanged')[1]);
  assert.deepEqual([unmuted.changedProperty, unmuted.newValue], ['hasAudio', true]);

  // forceMuteAll mutes her again (the moderator publishes nothing to mute).
  await mod.evaluate(() => T.session.forceMuteAll([]));
  await waitInPage(ann, () => T.events('publisher:muteForcedEvent').length === 2);
  for (const p of [ann, bob, mod]) await p.context().close();
});

test('a moderator force-unpublishes and force-disconnects', async () => {
  const sid = await createSession(env.server);
  const mod = await openTestPage(env);
  const ann = await openTestPage(env);
  const bob = await openTestPage(env);
  await join(mod, sid, { role: 'moderator', data: 'name=Mod', publish: false });
  const a = await join(ann, sid, { data: 'name=Ann' });
  const b = await join(bob, sid, { data: 'name=Bob' });
  await expectLiveVideos(mod, 2);

  // forceUnpublish: Ann stays connected, her stream goes, her publisher element with it.
  await mod.evaluate((id) => new Promise((resolve) => T.session.forceUnpublish(T.streamById(id), resolve)), a.streamId);
  const ownGone = await waitInPage(ann, () => T.events('publisher:streamDestroyed')[0]);
  assert.equal(ownGone.reason, 'forceUnpublished');
  await waitInPage(ann, () => T.events('publisher:destroyed').length === 1);
  assert.equal(await ann.evaluate(() => document.querySelectorAll('.OT_publisher').length), 0);
  for (const p of [bob, mod]) {
    const e = await waitInPage(p, (id) => T.events('streamDestroyed').find((x) => x.streamId === id), a.streamId);
    assert.equal(e.reason, 'forceUnpublished');
  }
  assert.equal(await ann.evaluate(() => T.session.isConnected()), true);

  // forceDisconnect: Bob is out; everyone else sees his stream and connection go.
  const err = await mod.evaluate((id) => new Promise((resolve) => T.session.forceDisconnect(T.connectionById(id), (e) => resolve(e ? e.name : null))), b.connectionId);
  assert.equal(err, null);
  const bobOut = await waitInPage(bob, () => T.events('sessionDisconnected')[0]);
  assert.equal(bobOut.reason, 'forceDisconnected');
  for (const p of [ann, mod]) {
    const s = await waitInPage(p, (id) => T.events('streamDestroyed').find((x) => x.streamId === id), b.streamId);
    assert.equal(s.reason, 'forceDisconnected');
    const c = await waitInPage(p, (id) => T.events('connectionDestroyed').find((x) => x.connectionId === id), b.connectionId);
    assert.equal(c.reason, 'forceDisconnected');
  }
  // Bob's subscribers were removed from his page with the session.
  assert.equal(await bob.evaluate(() => document.querySelectorAll('.OT_subscriber').length), 0);
  for (const p of [ann, bob, mod]) await p.context().close();
});

test('roles: OT_PERMISSION_DENIED for moderation without a moderator token and for publishing with a subscriber token', async () => {
  const sid = await createSession(env.server);
  const ann = await openTestPage(env);
  const sub = await openTestPage(env);
  const a = await join(ann, sid, { data: 'name=Ann' });

  const denied = await ann.evaluate(() => new Promise((resolve) => {
    T.session.forceDisconnect(T.session.connection, (e) => resolve([e.name, e.code]));
  }));
  assert.deepEqual(denied, ['OT_PERMISSION_DENIED', 1520]);
  assert.deepEqual(
    await ann.evaluate((id) => T.session.forceMuteStream(T.streamById(id)).then(() => null, (e) => [e.name, e.code]), a.streamId),
    ['OT_PERMISSION_DENIED', 1540],
  );
  assert.deepEqual(
    await ann.evaluate((id) => T.session.forceUnpublish(T.streamById(id)).then(() => null, (e) => [e.name, e.code]), a.streamId),
    ['OT_PERMISSION_DENIED', 1530],
  );

  // A subscriber token: connects, subscribes, but publishing fails with the documented error.
  await sub.evaluate(() => OT.on('exception', (e) => T.log.push({ type: 'exception', code: e.code, title: e.title, message: e.message })));
  const s = await join(sub, sid, { role: 'subscriber', data: 'name=Viewer' });
  assert.equal(s.capabilities.publish, 0);
  assert.equal(s.error.name, 'OT_PERMISSION_DENIED');
  assert.equal(s.error.code, 1500);
  assert.match(s.error.message, /does not allow publishing/);
  const exception = await sub.evaluate(() => T.events('exception')[0]);
  assert.deepEqual([exception.code, exception.title], [1500, 'OT_PERMISSION_DENIED']);
  await expectLiveVideos(sub, 1);
  await ann.context().close();
  await sub.context().close();
});
