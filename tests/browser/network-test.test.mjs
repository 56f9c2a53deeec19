// The official pre-call network test, npm `opentok-network-test-js` 3.1.x, run unchanged on
// Parlor's OT in Chromium, as an app would run it before a call: `testConnectivity()`
// passes its api, messaging and media checks (its logging check posts to OpenTok's cloud,
// which this test machine cannot reach, so that one fails), and `testQuality()` publishes
// and subscribes through Parlor's media router and reports the audio and video it measured,
// each with a MOS, and a recommended resolution. The same session then shows in the Inspector: the test's connections,
// its stream, the server's own quality windows of it, and a `precallTest` entry per test
// subscription with what the router and the browser measured.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import {
  API_KEY,
  createSession,
  inspector as inspectorOf,
  logInInspector,
  openTestPage,
  screenshot,
  token,
  useEnvironment,
  waitInPage,
} from './lib/harness.mjs';

const require = createRequire(import.meta.url);
const NETWORK_TEST = require.resolve('opentok-network-test-js');

const env = useEnvironment({ serverArgs: ['--quality-interval', '1s'] });

const inspector = (path) => inspectorOf(env.server, path);

test('opentok-network-test-js: connectivity and quality through Parlor', { timeout: 120000 }, async () => {
  const sid = await createSession(env.server);
  const page = await openTestPage(env);
  await page.addScriptTag({ path: NETWORK_TEST });
  const creds = { apiKey: API_KEY, sessionId: sid, token: token(sid) };
  const connectivity = await page.evaluate(async (c) => {
    const NetworkTest = window.OpenTokNetworkConnectivity.default;
    const nt = new NetworkTest(OT, c, { timeout: 15000 });
    const r = await nt.testConnectivity();
    return { success: r.success, failedTests: r.failedTests.map((f) => f.type) };
  }, creds);
  assert.deepEqual(connectivity.failedTests.filter((t) => t !== 'logging'), [], JSON.stringify(connectivity));

  const quality = await page.evaluate(async (c) => {
    const NetworkTest = window.OpenTokNetworkConnectivity.default;
    const nt = new NetworkTest(OT, c, { timeout: 15000 });
    return nt.testQuality();
  }, creds);
  for (const kind of ['audio', 'video']) {
    assert.ok(quality[kind].mos >= 1 && quality[kind].mos <= 5, JSON.stringify(quality));
  }
  assert.equal(quality.audio.supported, true, JSON.stringify(quality));
  assert.equal(quality.video.supported, true, JSON.stringify(quality));
  assert.ok(quality.video.bitrate > 0 && quality.audio.bitrate > 0, JSON.stringify(quality));
  assert.match(quality.video.recommendedResolution, /^\d+x\d+$/, JSON.stringify(quality));

  const s = await inspector(`/sessions/${sid}`);
  assert.ok(s.connections.length >= 2, JSON.stringify(s));
  assert.ok(s.streams.length >= 1, JSON.stringify(s));
  const q = await inspector(`/sessions/${sid}/quality`);
  const scored = q.items.filter((x) => x.summary.lastMos !== null).map((x) => `${x.side}/${x.media}`);
  assert.ok(scored.includes('publisher/video') && scored.includes('subscriber/video'), JSON.stringify(scored));

  // The pre-call entry: the test's subscriptions (it subscribes with `testNetwork`) are
  // marked, and each one's end records what it measured, beside the library's own result.
  assert.ok(s.subscriptions.length >= 1 && s.subscriptions.every((x) => x.testNetwork), JSON.stringify(s.subscriptions));
  let precall = [];
  for (let i = 0; i < 50 && !precall.some((e) => e.detail.video); i++) {
    const ev = await inspector(`/sessions/${sid}/events?kind=precallTest`);
    precall = ev.items;
    if (!precall.some((e) => e.detail.video)) await new Promise((r) => setTimeout(r, 200));
  }
  const entry = precall.find((e) => e.detail.video);
  assert.ok(entry, JSON.stringify(precall));
  const { audio, video, durationMs } = entry.detail;
  assert.ok(durationMs > 1000, JSON.stringify(entry));
  assert.ok(video.bitrateBps > 0 && video.windows >= 2, JSON.stringify(entry));
  assert.ok(video.score >= 1 && video.score <= 5 && video.mos > 1, JSON.stringify(entry));
  assert.ok(video.fps > 0 && video.width > 0 && video.height > 0, `the browser's own reports: ${JSON.stringify(entry)}`);
  // Audio loss comes from the subscriber's receiver reports, which Chromium sends for
  // audio only about every 5 s: a short pre-call test can end before the first one. When
  // one came, its loss is a fraction; video's (every second) always comes.
  assert.ok(audio && audio.bitrateBps > 0 && audio.windows >= 2, JSON.stringify(entry));
  assert.ok(audio.loss === null || (audio.loss >= 0 && audio.loss <= 1), JSON.stringify(entry));
  assert.ok(video.loss !== null && video.loss >= 0 && video.loss <= 1, JSON.stringify(entry));
  await page.context().close();

  // The Inspector page shows the pre-call test as its own section.
  const context = await env.browser.newContext({ viewport: { width: 1400, height: 900 } });
  const inspectorPage = await context.newPage();
  await logInInspector(inspectorPage, env.server);
  await inspectorPage.goto(`${env.server.baseUrl}/inspector/sessions/${encodeURIComponent(sid)}`);
  const rows = await waitInPage(
    inspectorPage,
    () => {
      const r = [...document.querySelectorAll('#precall-table tbody tr[data-event-id]')].map((tr) => tr.textContent);
      return r.length && !document.getElementById('precall').hidden ? r : null;
    },
    undefined,
    15000,
  );
  assert.ok(rows.some((t) => /\d+×\d+ · \d+ fps/.test(t) && /kbps/.test(t)), JSON.stringify(rows));
  console.log(`screenshot: ${await screenshot(inspectorPage, 'precall-session')}`);
  await context.close();
});
