// Measures how fast the router moves a subscriber between simulcast layers when its downlink
// narrows and widens, with Chromium and a real `parlor serve`: Ann publishes 1280x720 in
// three layers; Bob subscribes from a host whose downlink a tbf queue caps
// (lib/impair.mjs `shapedHost`). Each round caps it at 250 kbps, waits for the lowest
// layer, holds, lifts the cap and waits for the top layer again. Times are from the cap's
// change to the first getStats (polled every 50 ms) showing the new frame width:
//   cap → first lower layer      the router's first reaction
//   cap → lowest layer           where 250 kbps belongs
//   lift → top layer             probes, layer resumes and keyframes on the way up
// and the video freeze (getStats totalFreezesDuration) each switch cost.
//
//   node tests/browser/measure-downlink.mjs [--rounds 10]   (root: network namespaces;
//   needs target/debug/parlor or PARLOR_BIN, Chromium)
import { createSession, join, launchBrowser, openPage, startPageServer, startServer, waitInPage } from './lib/harness.mjs';
import { impairmentUnavailable, shapedHost } from './lib/impair.mjs';
import { inboundStats, waitForInbound } from './lib/inbound.mjs';
import { summary } from './lib/percentiles.mjs';

const i = process.argv.indexOf('--rounds');
const ROUNDS = i > 0 ? Number(process.argv[i + 1]) : 10;
const unavailable = impairmentUnavailable();
if (unavailable) {
  console.error(`cannot measure: ${unavailable}`);
  process.exit(2);
}

const link = shapedHost('measure');
const server = await startServer([], { listen: `${link.hostIp}:0` });
const pages = await startPageServer(server, link.hostIp);
const opts = { hosts: [link.hostIp], secureOrigins: [pages.baseUrl] };
const browser = await launchBrowser(opts);
const shaped = await launchBrowser({ ...opts, executablePath: link.chromium });
const results = { first: [], lowest: [], top: [], downFreeze: [], upFreeze: [] };
try {
  const sid = await createSession(server);
  const ann = await openPage(browser, `${pages.baseUrl}/test.html`);
  const bob = await openPage(shaped, `${pages.baseUrl}/test.html`);
  await join(ann, sid, { data: 'name=Ann', publisherProps: { resolution: '1280x720', frameRate: 30 } });
  await join(bob, sid, { data: 'name=Bob', publish: false });
  await waitInPage(bob, () => T.subscribers.size === 1, undefined, 20000);
  await waitForInbound(bob, 'the top layer', (s) => s.width === 1280, 30000);
  await new Promise((r) => setTimeout(r, 5000));
  for (let round = 1; round <= ROUNDS; round++) {
    const before = await inboundStats(bob);
    link.limitDownlink(250);
    const first = await waitForInbound(bob, 'a lower layer', (s) => s.width < 1280, 30000, 50);
    const lowest = await waitForInbound(bob, 'the lowest layer', (s) => s.width === 320, 30000, 50);
    results.first.push(first.ms);
    results.lowest.push(first.ms + lowest.ms);
    await new Promise((r) => setTimeout(r, 4000));
    const held = await inboundStats(bob);
    results.downFreeze.push((held.totalFreezesDuration - before.totalFreezesDuration) * 1000);
    link.liftDownlink();
    const top = await waitForInbound(bob, 'the top layer', (s) => s.width === 1280, 60000, 50);
    results.top.push(top.ms);
    await new Promise((r) => setTimeout(r, 4000));
    const after = await inboundStats(bob);
    results.upFreeze.push((after.totalFreezesDuration - held.totalFreezesDuration) * 1000);
    console.log(`round ${round}: first lower ${first.ms} ms, lowest ${results.lowest.at(-1)} ms, top again ${top.ms} ms; freezes ${results.downFreeze.at(-1).toFixed(0)} ms down, ${results.upFreeze.at(-1).toFixed(0)} ms up`);
  }
  console.log(summary('cap 250 kbps → first lower layer', results.first));
  console.log(summary('cap 250 kbps → lowest layer', results.lowest));
  console.log(summary('cap lifted → top layer', results.top));
  console.log(summary('freeze, going down', results.downFreeze));
  console.log(summary('freeze, going up', results.upFreeze));
} finally {
  await shaped.close();
  await browser.close();
  await pages.close();
  await server.stop();
  link.close();
}
