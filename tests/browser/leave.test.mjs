// Leaving: closing a tab, session.disconnect() and unpublish() reach the others as
// streamDestroyed and connectionDestroyed, and the subscribers' elements go away.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSession, expectLiveVideos, join, openTestPage, useEnvironment, waitInPage } from './lib/harness.mjs';

const env = useEnvironment();

test('closing a tab: the others get streamDestroyed, then connectionDestroyed', async () => {
  const sid = await createSession(env.server);
  const ann = await openTestPage(env);
  const bob = await openTestPage(env);
  const carol = await openTestPage(env);
  await join(ann, sid, { data: 'name=Ann' });
  const b = await join(bob, sid, { data: 'name=Bob' });
  await join(carol, sid, { data: 'name=Carol' });
  await expectLiveVideos(ann, 2);

  await bob.close(); // the tab, as a user closes it
  for (const p of [ann, carol]) {
    const events = await waitInPage(p, (id) => {
      const e = T.log.filter((x) => (x.type === 'streamDestroyed' || x.type === 'connectionDestroyed') && x.connectionId === id);
      return e.length === 2 ? e : null;
    }, b.connectionId);
    assert.deepEqual(events.map((e) => [e.type, e.reason]), [
      ['streamDestroyed', 'clientDisconnected'],
      ['connectionDestroyed', 'clientDisconnected'],
    ]);
    assert.equal(events[0].streamId, b.streamId);
    // The default action removed Bob's subscriber element; the other video keeps playing.
    await waitInPage(p, () => document.querySelectorAll('.OT_subscriber').length === 1);
  }
  await expectLiveVideos(ann, 1);
  for (const p of [ann, carol]) await p.context().close();
});

test('disconnect() and unpublish()', async () => {
  const sid = await createSession(env.server);
  const ann = await openTestPage(env);
  const bob = await openTestPage(env);
  const a = await join(ann, sid, { data: 'name=Ann' });
  const b = await join(bob, sid, { data: 'name=Bob' });
  await expectLiveVideos(ann, 1);

  // unpublish: the publisher gets streamDestroyed ('unpublished'), the others 'clientDisconnected'.
  await bob.evaluate(() => T.session.unpublish(T.publishers[0]));
  const own = await waitInPage(bob, () => T.events('publisher:streamDestroyed')[0]);
  assert.equal(own.reason, 'unpublished');
  const gone = await waitInPage(ann, () => T.events('streamDestroyed')[0]);
  assert.deepEqual([gone.streamId, gone.reason], [b.streamId, 'clientDisconnected']);
  await waitInPage(ann, () => document.querySelectorAll('.OT_subscriber').length === 0);

  // disconnect: Ann's session ends (clientDisconnected), Bob sees her stream and connection go.
  await ann.evaluate(() => T.session.disconnect());
  const ended = await waitInPage(ann, () => T.events('sessionDisconnected')[0]);
  assert.equal(ended.reason, 'clientDisconnected');
  assert.equal(await ann.evaluate(() => document.querySelectorAll('.OT_publisher, .OT_subscriber').length), 0);
  const destroyed = await waitInPage(bob, (id) => T.events('connectionDestroyed').find((e) => e.connectionId === id), a.connectionId);
  assert.equal(destroyed.reason, 'clientDisconnected');
  assert.ok(await bob.evaluate((id) => T.events('streamDestroyed').some((e) => e.streamId === id), a.streamId));
  await ann.context().close();
  await bob.context().close();
});

test('preventDefault on streamDestroyed keeps the subscriber element', async () => {
  const sid = await createSession(env.server);
  const ann = await openTestPage(env);
  const bob = await openTestPage(env);
  await join(ann, sid, { data: 'name=Ann' });
  await join(bob, sid, { data: 'name=Bob', publish: false });
  await bob.evaluate(() => T.session.on('streamDestroyed', (e) => e.preventDefault()));
  await expectLiveVideos(bob, 1);
  await ann.close();
  await waitInPage(bob, () => T.events('streamDestroyed').length === 1);
  assert.equal(await bob.evaluate(() => document.querySelectorAll('.OT_subscriber').length), 1);
  await bob.context().close();
});
