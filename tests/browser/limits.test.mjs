// The server's limits as OpenTok.js apps see them: a full session refuses the next connect
// with OT_CONNECTION_LIMIT_EXCEEDED (1027), a session at its stream cap refuses a publish
// with OT_STREAM_LIMIT_EXCEEDED (1605), and signals over a connection's rate fail with
// OT_RATE_LIMIT_EXCEEDED (429) while the connection stays usable.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSession, join, openTestPage, useEnvironment } from './lib/harness.mjs';

const env = useEnvironment({
  serverArgs: ['--max-connections-per-session', '2', '--max-streams-per-session', '1', '--signal-rate-limit', '2'],
});

test('session caps and the signal rate surface as OpenTok errors', async () => {
  const sid = await createSession(env.server);
  const ann = await openTestPage(env);
  const bob = await openTestPage(env);
  const cid = await openTestPage(env);
  const a = await join(ann, sid, { publish: true });
  assert.ok(a.streamId, JSON.stringify(a));

  // The stream cap: Bob connects but cannot publish a second stream.
  const b = await join(bob, sid, { publish: true, autoSubscribe: false });
  assert.ok(b.connectionId, JSON.stringify(b));
  assert.deepEqual([b.error?.name, b.error?.code], ['OT_STREAM_LIMIT_EXCEEDED', 1605], JSON.stringify(b));

  // The connection cap: a third participant is refused.
  const c = await join(cid, sid, { publish: false });
  assert.deepEqual([c.error?.name, c.error?.code], ['OT_CONNECTION_LIMIT_EXCEEDED', 1027], JSON.stringify(c));
  assert.match(c.error.message, /session is full/);

  // The signal rate (2 a second, bursts of 4): of 12 signals sent at once, some fail with
  // 429, and the connection goes on working.
  const results = await bob.evaluate(async () => {
    const all = [];
    for (let i = 0; i < 12; i++) all.push(T.session.signal({ type: 'burst', data: String(i) }).then(() => 'ok', (e) => `${e.name}/${e.code}`));
    return Promise.all(all);
  });
  const refused = results.filter((r) => r !== 'ok');
  assert.ok(results.filter((r) => r === 'ok').length >= 4, JSON.stringify(results));
  assert.ok(refused.length >= 1, JSON.stringify(results));
  assert.deepEqual([...new Set(refused)], ['OT_RATE_LIMIT_EXCEEDED/429']);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(await bob.evaluate(() => T.signal({ type: 'later', data: 'x' })), null);

  for (const p of [ann, bob, cid]) await p.context().close();
});
