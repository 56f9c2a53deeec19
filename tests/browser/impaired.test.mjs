// A three-party call where one participant's network is bad, as the Inspector must show it:
// Ann and Bob on this machine, Carol on a host of her own whose uplink loses 15 % of its UDP
// and is capped at 1 Mbit/s (lib/impair.mjs: a network namespace, nftables and tc). All
// three publish and subscribe to the others. The Inspector's quality API then shows Carol's
// stream with her loss and RTT and a lower score, while Ann's and Bob's stay green; the
// subscribers of Carol's stream are told the lower score (`qualityScoreChanged`), and the
// Inspector page shows it (a screenshot in target/screenshots/inspector/impaired-session.png).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  createSession,
  inspector as inspectorOf,
  join,
  launchBrowser,
  logInInspector,
  openPage,
  screenshot,
  startPageServer,
  startServer,
  waitInPage,
} from './lib/harness.mjs';
import { impairedHost, impairmentUnavailable } from './lib/impair.mjs';

const unavailable = impairmentUnavailable();
const env = {};

before(async () => {
  if (unavailable) return;
  env.link = impairedHost({ lossPercent: 15, rateKbit: 1000, queueMs: 400 });
  // The server listens on the host end of Carol's link; everyone reaches it there.
  env.server = await startServer(['--quality-interval', '1s'], { listen: `${env.link.hostIp}:0` });
  env.pages = await startPageServer(env.server, env.link.hostIp);
  // The pages come from the host end's address: a secure context only by this flag.
  const opts = { hosts: [env.link.hostIp], secureOrigins: [env.pages.baseUrl] };
  env.browser = await launchBrowser(opts);
  env.impairedBrowser = await launchBrowser({ ...opts, executablePath: env.link.chromium });
});

after(async () => {
  await env.impairedBrowser?.close();
  await env.browser?.close();
  await env.pages?.close();
  const exit = await env.server?.stop();
  env.link?.close();
  if (exit && exit.code !== 0) throw new Error(`parlor serve exited with ${JSON.stringify(exit)}:\n${env.server.stderr}`);
});

const inspector = (path) => inspectorOf(env.server, path);

/** The publisher side's series of a stream, by media. */
function publisherSide(quality, streamId) {
  const out = {};
  for (const s of quality.items) if (s.side === 'publisher' && s.streamId === streamId) out[s.media] = s;
  return out;
}

test('one participant on a lossy link: the Inspector shows her loss, RTT and lower score; the others stay green', { skip: unavailable ?? false, timeout: 120000 }, async () => {
  const sid = await createSession(env.server);
  const url = `${env.pages.baseUrl}/test.html`;
  const ann = await openPage(env.browser, url);
  const bob = await openPage(env.browser, url);
  const carol = await openPage(env.impairedBrowser, url);
  await ann.evaluate(() => {
    window.scores = [];
  });
  const as = (name) => ({ publish: true, data: `name=${name}`, publisherProps: { name: 'webcam' } });
  const a = await join(ann, sid, as('Ann'));
  const b = await join(bob, sid, as('Bob'));
  const c = await join(carol, sid, as('Carol'));
  for (const r of [a, b, c]) assert.ok(r.streamId, JSON.stringify(r));
  // Everyone subscribes to the two others; Ann records the scores of Carol's stream.
  for (const p of [ann, bob, carol]) await waitInPage(p, () => T.subscribers.size === 2, undefined, 30000);
  await ann.evaluate((carolStream) => {
    T.subscribers.get(carolStream).on('qualityScoreChanged', (e) => window.scores.push(e.qualityScore));
  }, c.streamId);

  // Carol's connection really is on her own host.
  const session = await inspector(`/sessions/${sid}`);
  const addr = Object.fromEntries(session.connections.map((x) => [x.id, x.remoteAddr]));
  assert.equal(addr[c.connectionId], env.link.nsIp, JSON.stringify(session.connections));
  assert.equal(addr[a.connectionId], env.link.hostIp);

  // Windows of a second each: wait for 12 with a score on every publisher side.
  let sides;
  for (let i = 0; i < 60; i++) {
    const q = await inspector(`/sessions/${sid}/quality`);
    sides = Object.fromEntries([a, b, c].map((r) => [r.streamId, publisherSide(q, r.streamId)]));
    const ready = Object.values(sides).every((s) => s.audio && s.video && s.audio.samples.filter((w) => w.mos !== null).length >= 12);
    if (ready) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const summary = (id, media) => sides[id][media].summary;
  const bad = summary(c.streamId, 'audio');
  for (const [who, r] of [['Ann', a], ['Bob', b], ['Carol', c]]) {
    const { meanLoss, meanMos, meanRttMs, score } = summary(r.streamId, 'audio');
    console.log(`${who}'s audio as the router receives it: loss ${meanLoss?.toFixed(3)}, RTT ${meanRttMs?.toFixed(0)} ms, MOS ${meanMos?.toFixed(2)}, score ${score}`);
  }
  // Audio is not retransmitted: the router's receiver reports show Carol's loss.
  assert.ok(bad.meanLoss >= 0.07, `Carol's audio loss: ${JSON.stringify(bad)}`);
  for (const good of [a, b]) {
    const s = summary(good.streamId, 'audio');
    assert.ok(s.meanLoss < 0.02, `${good.connectionId}: ${JSON.stringify(s)}`);
    // Green: OpenTok's 4 or 5, and well above Carol's.
    assert.ok(s.meanMos >= 4 && s.score >= 4, JSON.stringify(s));
    assert.ok(s.meanMos > bad.meanMos + 0.5, `Carol scores lower: ${JSON.stringify(bad)} vs ${JSON.stringify(s)}`);
  }
  assert.ok(bad.score <= 3, JSON.stringify(bad));
  // Her RTT is known (her browser measures it from the router's receiver reports) for
  // both media, and her video is scored too.
  for (const media of ['audio', 'video']) {
    const rtts = sides[c.streamId][media].samples.map((w) => w.rttMs).filter((r) => r !== null);
    assert.ok(rtts.length >= 6 && rtts.every((r) => r > 0), `${media} RTT: ${JSON.stringify(rtts)}`);
  }
  assert.ok(summary(c.streamId, 'video').meanMos < summary(a.streamId, 'video').meanMos, JSON.stringify(sides[c.streamId].video.summary));

  // Ann, subscribing to Carol, is told a low audio score: the worse of Carol's side and hers.
  const scores = await waitInPage(ann, () => (window.scores.some((s) => s.audioQualityScore <= 3) ? window.scores : null), undefined, 20000);
  assert.ok(scores.length >= 1);

  // The Inspector page shows the same, for a person to look at: Carol's stream's audio
  // with her loss and a red or amber score beside the others' green ones.
  const context = await env.browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  await logInInspector(page, env.server);
  await page.goto(`${env.server.baseUrl}/inspector/sessions/${encodeURIComponent(sid)}`);
  await page.click('button[data-media="audio"]');
  const shown = await waitInPage(
    page,
    ([carolStream, others]) => {
      const score = (id) => document.querySelector(`.stream-quality[data-stream-id="${id}"] li[data-side="publisher"]`)?.dataset.score;
      const loss = document.querySelector(`.stream-quality[data-stream-id="${carolStream}"] .chart[data-metric="loss"]`);
      const c = Number(score(carolStream));
      const o = others.map((id) => Number(score(id)));
      return c && o.every(Boolean) && Number(loss?.dataset.points) > 0 ? { carol: c, others: o } : null;
    },
    [c.streamId, [a.streamId, b.streamId]],
    20000,
  );
  assert.ok(shown.carol <= 3 && shown.others.every((x) => x >= 4), JSON.stringify(shown));
  console.log(`screenshot: ${await screenshot(page, 'impaired-session')}`);
  await context.close();
  for (const p of [ann, bob, carol]) await p.context().close();
});
