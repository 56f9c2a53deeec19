// Relayed sessions (p2p.preference=enabled): browsers connect to each other directly, the
// server only relays their offers, answers and candidates (p2pSignal). The router forwards
// nothing; the same events and API as routed sessions; a participant cap; archiving refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  API_KEY,
  createSession,
  expectLiveVideos,
  join,
  openTestPage,
  projectAuth,
  selectedPairs,
  serverStats,
  useEnvironment,
  waitInPage,
} from './lib/harness.mjs';

const env = useEnvironment();

test('two browsers in a relayed session call each other directly; a third joins; one leaves', { timeout: 120000 }, async () => {
  const sid = await createSession(env.server, { relayed: true });
  const before = (await serverStats(env.server)).router;
  const ann = await openTestPage(env);
  const bob = await openTestPage(env);
  const a = await join(ann, sid, { data: 'name=Ann' });
  const b = await join(bob, sid, { data: 'name=Bob' });
  assert.ok(a.streamId && b.streamId, JSON.stringify({ a, b }));
  await expectLiveVideos(ann, 1, 30000);
  await expectLiveVideos(bob, 1, 30000);

  // Each subscriber's media comes straight from the other browser: the remote end of its
  // selected pair is the local end of the publisher's peer connection for it.
  await waitInPage(ann, () => T.publishers[0].getRtcStatsReport().then((l) => l.length === 1), undefined, 10000);
  const pa = await selectedPairs(ann);
  const pb = await selectedPairs(bob);
  assert.equal(pa.publishers.length, 1, JSON.stringify(pa));
  assert.equal(pa.publishers[0].connectionId, b.connectionId);
  assert.equal(pb.publishers[0].connectionId, a.connectionId);
  assert.equal(pb.subscribers[0].remote, pa.publishers[0].local, JSON.stringify({ pa, pb }));
  assert.equal(pa.subscribers[0].remote, pb.publishers[0].local, JSON.stringify({ pa, pb }));
  assert.equal(pb.subscribers[0].local, pa.publishers[0].remote);
  assert.ok(pa.subscribers[0].bytesReceived > 10000, JSON.stringify(pa));
  // The OpenTok.js-shaped getStats: one entry per subscriber, with its connection.
  const stats = await ann.evaluate(() => T.publishers[0].getStats());
  assert.equal(stats.length, 1);
  assert.equal(stats[0].connectionId, b.connectionId);
  assert.ok(stats[0].stats.video.packetsSent > 0, JSON.stringify(stats));

  // The API works as in routed sessions: publishVideo(false) reaches the other side.
  await ann.evaluate(() => T.publishers[0].publishVideo.promise(false));
  await waitInPage(bob, () => T.events('streamPropertyChanged').some((e) => e.changedProperty === 'hasVideo' && e.newValue === false));
  await ann.evaluate(() => T.publishers[0].publishVideo.promise(true));

  // A third participant joins and subscribes to both; everyone sees everyone.
  const carol = await openTestPage(env);
  const c = await join(carol, sid, { data: 'name=Carol' });
  assert.ok(c.streamId, JSON.stringify(c));
  await expectLiveVideos(carol, 2, 30000);
  await expectLiveVideos(ann, 2, 30000);
  await expectLiveVideos(bob, 2, 30000);
  await waitInPage(ann, () => T.publishers[0].getRtcStatsReport().then((l) => l.length === 2), undefined, 10000);

  // The router forwarded nothing and holds no producer for any of it.
  const during = (await serverStats(env.server)).router;
  assert.equal(during.producers, 0, JSON.stringify(during));
  assert.equal(during.consumers ?? 0, 0, JSON.stringify(during));
  assert.equal(during.rtpForwarded, before.rtpForwarded, JSON.stringify({ before, during }));

  // Carol leaves: the others get streamDestroyed, and each publisher closes its peer
  // connection to her.
  await carol.context().close();
  for (const p of [ann, bob]) {
    await waitInPage(p, (id) => T.events('streamDestroyed').some((e) => e.streamId === id), c.streamId);
    await waitInPage(p, () => T.publishers[0].getRtcStatsReport().then((l) => l.length === 1), undefined, 10000);
  }
  // Bob unpublishes: Ann's subscriber goes, and Bob's publisher has no peer connection left.
  await bob.evaluate(() => T.session.unpublish(T.publishers[0]));
  await waitInPage(ann, (id) => T.events('streamDestroyed').some((e) => e.streamId === id), b.streamId);
  await waitInPage(ann, () => T.videos().filter((v) => v.inDom).length === 0);
  await waitInPage(bob, () => T.events('publisher:streamDestroyed').length === 1);
  const after = (await serverStats(env.server)).router;
  assert.equal(after.rtpForwarded, before.rtpForwarded);
  for (const p of [ann, bob]) await p.context().close();
});

test('a relayed session takes 4 participants; the fifth gets OT_CONNECTION_LIMIT_EXCEEDED', { timeout: 60000 }, async () => {
  const sid = await createSession(env.server, { relayed: true });
  const pages = [];
  for (let i = 0; i < 4; i++) {
    const p = await openTestPage(env);
    pages.push(p);
    const r = await join(p, sid, { publish: false });
    assert.equal(r.error, undefined, JSON.stringify(r));
  }
  const fifth = await openTestPage(env);
  const r = await join(fifth, sid, { publish: false });
  assert.equal(r.error?.name, 'OT_CONNECTION_LIMIT_EXCEEDED', JSON.stringify(r));
  assert.equal(r.error.code, 1027);
  assert.match(r.error.message, /relayed/);
  // One leaves: there is room again.
  await pages.pop().context().close();
  await waitInPage(pages[0], () => T.events('connectionDestroyed').length === 1);
  const again = await openTestPage(env);
  assert.equal((await join(again, sid, { publish: false })).error, undefined);
  for (const p of [...pages, fifth, again]) await p.context().close();
});

test('archiving a relayed session is refused with OpenTok\'s error', async () => {
  const sid = await createSession(env.server, { relayed: true });
  const page = await openTestPage(env);
  const r = await join(page, sid, { data: 'name=Ann' });
  assert.ok(r.streamId, JSON.stringify(r));
  const res = await fetch(`${env.server.baseUrl}/v2/project/${API_KEY}/archive`, {
    method: 'POST',
    headers: { 'X-OPENTOK-AUTH': projectAuth(), 'Content-Type': 'application/json' },
    body: JSON.stringify({ sessionId: sid }),
  });
  const body = await res.text();
  assert.equal(res.status, 409, body);
  assert.match(body, /relayed|peer-to-peer|p2p/i);
  await page.context().close();
});
