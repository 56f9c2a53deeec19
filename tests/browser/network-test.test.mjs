// The official pre-call network test, npm `opentok-network-test-js` 3.1.x, run unchanged on
// Parlor's OT in Chromium, as an app would run it before a call: `testConnectivity()`
// passes its api, messaging and media checks (its logging check posts to OpenTok's cloud,
// which this test machine cannot reach, so that one fails), and `testQuality()` publishes
// and subscribes through Parlor's media router and reports the audio and video it measured,
// each with a MOS, and a recommended resolution. The same session then shows in the Inspector: the test's connections,
// its stream and the server's own quality windows of it.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { API_KEY, createSession, inspector as inspectorOf, openTestPage, token, useEnvironment } from './lib/harness.mjs';

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
  await page.context().close();
});
