// Signals: text chat both ways, `signal` and `signal:<type>` events, signals to one
// connection, and the documented errors for invalid signals.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSession, join, openTestPage, useEnvironment, waitInPage } from './lib/harness.mjs';

const env = useEnvironment();

test('chat both ways, to everyone and to one connection', async () => {
  const sid = await createSession(env.server);
  const ann = await openTestPage(env);
  const bob = await openTestPage(env);
  const a = await join(ann, sid, { data: 'name=Ann', publish: false });
  const b = await join(bob, sid, { data: 'name=Bob', publish: false });
  for (const p of [ann, bob]) {
    await p.evaluate(() => {
      window.chat = [];
      T.session.on('signal:chat', (e) => window.chat.push({ type: e.type, data: e.data, from: e.from.connectionId }));
    });
  }

  assert.equal(await ann.evaluate(() => T.signal({ type: 'chat', data: 'hello Bob' })), null);
  assert.equal(await bob.evaluate(() => T.signal({ type: 'chat', data: 'hi Ann ✓' })), null);
  // A signal reaches every connection, the sender's too, in one order for everyone.
  const expected = [
    { type: 'signal:chat', data: 'hello Bob', from: a.connectionId },
    { type: 'signal:chat', data: 'hi Ann ✓', from: b.connectionId },
  ];
  for (const p of [ann, bob]) {
    const got = await waitInPage(p, () => (window.chat.length >= 2 ? window.chat : null));
    assert.deepEqual(got, expected);
  }
  // The generic `signal` event saw them too, with the typed event's type.
  const generic = await bob.evaluate(() => T.events('signal').map((e) => [e.signalType, e.data]));
  assert.deepEqual(generic, [['signal:chat', 'hello Bob'], ['signal:chat', 'hi Ann ✓']]);

  // A signal `to` one connection reaches only it.
  const err = await bob.evaluate((to) => T.signal({ type: 'private', data: 'just you', to: T.connectionById(to) }), a.connectionId);
  assert.equal(err, null);
  const priv = await waitInPage(ann, () => T.events('signal').find((e) => e.signalType === 'signal:private'));
  assert.equal(priv.data, 'just you');
  assert.equal(priv.from, b.connectionId);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await bob.evaluate(() => T.events('signal').filter((e) => e.signalType === 'signal:private').length), 0);

  // A signal with no type is a plain `signal` event.
  await ann.evaluate(() => T.signal({ data: 'untyped' }));
  const plain = await waitInPage(bob, () => T.events('signal').find((e) => e.data === 'untyped'));
  assert.equal(plain.signalType, 'signal');

  await ann.context().close();
  await bob.context().close();
});

test('invalid signals get OpenTok error codes, with callbacks and promises', async () => {
  const sid = await createSession(env.server);
  const ann = await openTestPage(env);
  await join(ann, sid, { publish: false });
  const badType = await ann.evaluate(() => T.signal({ type: 'no spaces', data: 'x' }));
  assert.deepEqual([badType.name, badType.code], ['OT_INVALID_PARAMETER', 400]);
  const long = await ann.evaluate(() => T.signal({ type: 'chat', data: 'x'.repeat(8193) }));
  assert.deepEqual([long.name, long.code], ['OT_INVALID_PARAMETER', 413]);
  const promise = await ann.evaluate(() => T.session.signal({ type: 't'.repeat(129) }).then(() => null, (e) => [e.name, e.code]));
  assert.deepEqual(promise, ['OT_INVALID_PARAMETER', 413]);
  await ann.evaluate(() => T.session.disconnect());
  await waitInPage(ann, () => T.events('sessionDisconnected').length === 1);
  const offline = await ann.evaluate(() => T.signal({ type: 'chat', data: 'x' }));
  assert.deepEqual([offline.name, offline.code], ['OT_NOT_CONNECTED', 500]);
  await ann.context().close();
});
