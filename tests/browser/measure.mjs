// Measures, over many runs on loopback, with Chromium and a real `parlor serve`:
//   connect:     session.connect() called → sessionConnected
//   first frame: streamCreated at a subscriber → the first decoded video frame shown
//                (requestVideoFrameCallback on the subscriber's <video>); also when the
//                subscription's media connected (the Subscriber's `connected` event)
// Each run opens a fresh participant (new browser context) that connects, then a publisher
// page publishes a new stream, which the participant subscribes to from its streamCreated.
//
//   node tests/browser/measure.mjs [--runs 25]        (needs target/debug/parlor, Chromium)
import { API_KEY, createSession, launchBrowser, openPage, startPageServer, startServer, token } from './lib/harness.mjs';
import { summary } from './lib/percentiles.mjs';

const i = process.argv.indexOf('--runs');
const RUNS = i > 0 ? Number(process.argv[i + 1]) : 25;

const server = await startServer();
const pages = await startPageServer(server);
const browser = await launchBrowser();
const connectMs = [];
const frameMs = [];
const connectedMs = [];
try {
  const sid = await createSession(server);
  const pub = await openPage(browser, `${pages.baseUrl}/test.html`);
  const joined = await pub.evaluate((x) => T.join(x), { apiKey: API_KEY, sessionId: sid, token: token(sid, { data: 'publisher' }), publish: false, autoSubscribe: false });
  if (joined.error) throw new Error(JSON.stringify(joined.error));

  for (let run = 1; run <= RUNS; run++) {
    const sub = await openPage(browser, `${pages.baseUrl}/test.html`);
    const connect = await sub.evaluate(({ apiKey, sessionId, token }) => new Promise((resolve, reject) => {
      const session = OT.initSession(apiKey, sessionId);
      window.firstFrame = new Promise((done) => {
        session.on('streamCreated', (e) => {
          const created = performance.now();
          const box = document.createElement('div');
          document.body.appendChild(box);
          const subscriber = session.subscribe(e.stream, box, { insertMode: 'append' });
          let connected = NaN;
          subscriber.on('connected', () => {
            connected = performance.now() - created;
          });
          subscriber.on('videoElementCreated', (ev) => {
            ev.element.requestVideoFrameCallback(() => done({ frame: performance.now() - created, connected }));
          });
        });
      });
      const t0 = performance.now();
      session.on('sessionConnected', () => resolve(performance.now() - t0));
      session.connect(token, (err) => err && reject(new Error(err.message)));
      window.S = session;
    }), { apiKey: API_KEY, sessionId: sid, token: token(sid) });
    connectMs.push(connect);

    const published = await pub.evaluate(() => T.publishNow({ name: 'measured' }));
    if (published.error) throw new Error(JSON.stringify(published.error));
    const { frame, connected } = await sub.evaluate(() => Promise.race([window.firstFrame, new Promise((_, r) => setTimeout(() => r(new Error('no frame in 20 s')), 20000))]));
    frameMs.push(frame);
    connectedMs.push(connected);
    process.stdout.write(`run ${String(run).padStart(2)}: connect ${connect.toFixed(1)} ms, streamCreated → subscriber connected ${connected.toFixed(1)} ms → first frame ${frame.toFixed(1)} ms\n`);

    await pub.evaluate(() => {
      const p = T.publishers.at(-1);
      T.session.unpublish(p);
    });
    await sub.evaluate(() => window.S.disconnect());
    await sub.context().close();
  }
  console.log();
  console.log(`Chromium ${browser.version()}, ${RUNS} runs, loopback`);
  console.log(summary('connect() → sessionConnected', connectMs));
  console.log(summary('streamCreated → subscriber connected', connectedMs));
  console.log(summary('streamCreated → first decoded frame', frameMs));
} finally {
  await browser.close();
  await pages.close();
  await server.stop();
}
