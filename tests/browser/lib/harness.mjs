// Shared helpers for the browser tests: a real `parlor serve` per test file, Debian's
// Chromium through playwright-core, sessions and tokens, and the test pages of pages/,
// served from another loopback origin as an app's own pages are (they load the SDK from
// the Parlor server with a script tag, so its default server is that server).
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

import {
  API_KEY,
  API_SECRET,
  PARLOR_BIN,
  REPO_ROOT,
  signHs256,
  startServer as startParlor,
} from '../../compat/node/helpers.mjs';

export { API_KEY, API_SECRET, PARLOR_BIN, REPO_ROOT };

const here = path.dirname(fileURLToPath(import.meta.url));
export const CHROMIUM = process.env.PARLOR_CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');
const PAGES = path.join(here, '..', 'pages');

/** Chromium flags: no network beyond loopback, fake camera/microphone, no prompts. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Debian's wrapper enables extension updates (/etc/chromium.d/extensions): resolve no host
  // names at all, so nothing is looked up or fetched beyond the loopback IPs the tests use.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
  // ICE host candidates as plain IPs, not mDNS names: no mDNS responder joining multicast
  // groups on the LAN. Chromium honours the last --disable-features, so this repeats the
  // ones playwright-core 1.65 passes.
  `--disable-features=${[
    'AvoidUnnecessaryBeforeUnloadCheckSync',
    'DestroyProfileOnBrowserClose',
    'HttpsUpgrades',
    'HttpsFirstBalancedModeAutoEnable',
    'LensOverlay',
    'MediaRouter',
    'PaintHolding',
    'ThirdPartyStoragePartitioning',
    'AvoidCorsURLLoaderRestartOnRedirect',
    'OptimizationHints',
    'NetworkTimeServiceQuerying',
    'AimEnabled',
    'PreconnectToSearch',
    'WebRtcHideLocalIpsWithMdns',
  ].join(',')}`,
  '--use-fake-device-for-media-stream',
  // Grants camera and microphone, and (Chromium 156, headless) getDisplayMedia too, without
  // a picker: neither --auto-accept-this-tab-capture nor --auto-select-desktop-capture-source
  // is needed for screen sharing.
  '--use-fake-ui-for-media-stream',
  // ICE over 127.0.0.1 (the router's host candidate is on loopback).
  '--allow-loopback-in-peer-connection',
  // Remote audio plays without a click (the tests cannot click "unmute").
  '--autoplay-policy=no-user-gesture-required',
  // Background tabs keep their timers and rendering (several participants share one window).
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

/** Starts `parlor serve` on free ports with a fresh data dir (the compat suites' launcher). */
export function startServer(extraArgs = [], { listen } = {}) {
  return startParlor({
    extraArgs,
    listen,
    env: { PARLOR_LOG: process.env.PARLOR_LOG || 'warn' },
    dataDirPrefix: 'parlor-browser-',
  });
}

/**
 * Creates a session through the REST API, as an app server does: routed, or relayed
 * (`p2p.preference=enabled`, peer-to-peer media) with `{ relayed: true }`.
 */
export async function createSession(server, { relayed = false, ca } = {}) {
  const body = relayed ? 'p2p.preference=enabled' : 'p2p.preference=disabled';
  const headers = { 'X-OPENTOK-AUTH': projectAuth(), 'Content-Type': 'application/x-www-form-urlencoded' };
  const { status, text } = await request(`${server.baseUrl}/session/create`, { method: 'POST', headers, body, ca });
  if (status !== 200) throw new Error(`session/create: ${status} ${text}`);
  return JSON.parse(text)[0].session_id;
}

/**
 * An HTTP(S) request: `{status, text}`. `ca`: a PEM file to trust, for a server on a test
 * certificate (Node's fetch takes none).
 */
export async function request(url, { method = 'GET', headers = {}, body, ca } = {}) {
  if (!ca) {
    const r = await fetch(url, { method, headers, body });
    return { status: r.status, text: await r.text() };
  }
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, ca: readFileSync(ca), headers: body === undefined ? headers : { ...headers, 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A fresh project JWT (`X-OPENTOK-AUTH`), as an app server signs one. */
export function projectAuth() {
  const now = Math.floor(Date.now() / 1000);
  return signHs256({ iss: API_KEY, ist: 'project', iat: now, exp: now + 300 }, API_SECRET);
}

/** The server's `GET /v1/stats` (its router's, TURN server's… counters). */
export async function serverStats(server, { ca } = {}) {
  const { status, text } = await request(`${server.baseUrl}/v1/stats`, { headers: { 'X-OPENTOK-AUTH': projectAuth() }, ca });
  if (status !== 200) throw new Error(`/v1/stats: ${status} ${text}`);
  return JSON.parse(text);
}

/**
 * The candidate pair each of the page's peer connections selected, from getRtcStatsReport():
 * `publishers` (one entry per publisher, or per subscriber of it in a relayed session) and
 * `subscribers`. Each pair: its local candidate's `localType`, `protocol`, `relayProtocol`,
 * `url` and `local` address, the remote candidate's `remoteType`, `remoteProtocol` and
 * `remote` address, and the bytes it carried.
 */
export function selectedPairs(page) {
  return page.evaluate(async () => {
    const pick = (report) => {
      const all = [...report.values()];
      const transport = all.find((s) => s.type === 'transport' && s.selectedCandidatePairId);
      const p = transport ? report.get(transport.selectedCandidatePairId) : all.find((s) => s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded');
      if (!p) return null;
      const local = report.get(p.localCandidateId);
      const remote = report.get(p.remoteCandidateId);
      return {
        state: p.state,
        localType: local.candidateType,
        protocol: local.protocol,
        relayProtocol: local.relayProtocol ?? null,
        url: local.url ?? null,
        localAddress: local.address,
        local: `${local.address}:${local.port}`,
        remoteType: remote.candidateType,
        remoteProtocol: remote.protocol,
        remotePort: remote.port,
        remote: `${remote.address}:${remote.port}`,
        bytesReceived: p.bytesReceived,
        bytesSent: p.bytesSent,
      };
    };
    const publishers = [];
    for (const pub of T.publishers) {
      for (const c of await pub.getRtcStatsReport()) publishers.push({ connectionId: c.connectionId, subscriberId: c.subscriberId, ...pick(c.rtcStatsReport) });
    }
    const subscribers = [];
    for (const [streamId, sub] of T.subscribers) subscribers.push({ streamId, from: sub.stream.connection.connectionId, ...pick(await sub.getRtcStatsReport()) });
    return { publishers, subscribers };
  });
}

/** `GET /v2/project/{key}/inspector{path}` with a fresh project JWT; asserts a 200, returns the JSON. */
export async function inspector(server, path) {
  const r = await fetch(`${server.baseUrl}/v2/project/${API_KEY}/inspector${path}`, {
    headers: { 'X-OPENTOK-AUTH': projectAuth() },
  });
  if (r.status !== 200) throw new Error(`inspector ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

/** A client token with the claims the Node OpenTok SDK mints. */
export function token(sessionId, { role = 'publisher', data } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: API_KEY,
    ist: 'project',
    iat: now,
    exp: now + 3600,
    session_id: sessionId,
    create_time: now,
    nonce: Math.random(),
    role,
    expire_time: now + 3600,
    initial_layout_class_list: '',
    scope: 'session.connect',
  };
  if (data !== undefined) claims.connection_data = data;
  return signHs256(claims, API_SECRET);
}

/** Launches Chromium (a fresh profile in a temp dir, as Playwright does for every launch). */
export async function launchBrowser({ executablePath = CHROMIUM, hosts = [], secureOrigins = [], extraArgs = [] } = {}) {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install chromium)`);
  // `hosts`: more addresses the pages may reach (the test hosts of lib/impair.mjs);
  // `secureOrigins`: plain-HTTP origins beyond localhost whose pages may use the camera.
  const args = CHROMIUM_ARGS.map((a) => (a.startsWith('--host-resolver-rules=') ? [a, ...hosts.map((h) => `EXCLUDE ${h}`)].join(', ') : a));
  if (secureOrigins.length) args.push(`--unsafely-treat-insecure-origin-as-secure=${secureOrigins.join(',')}`);
  // `extraArgs`: more flags (e.g. --ignore-certificate-errors for a test certificate).
  return chromium.launch({ executablePath, headless: true, args: [...args, ...extraArgs] });
}

/**
 * Serves `pages/` over HTTP on another loopback port: the app's own origin, distinct from
 * the Parlor server's, as for a real app that loads the SDK with a script tag. `{{PARLOR}}`
 * in a page becomes the Parlor server's base URL.
 */
export async function startPageServer(server, host = '127.0.0.1') {
  const srv = http.createServer((req, res) => {
    const name = path.basename(new URL(req.url, 'http://x').pathname) || 'test.html';
    const file = path.join(PAGES, name);
    if (!existsSync(file)) {
      res.writeHead(404).end('no such test page');
      return;
    }
    const type = file.endsWith('.js') ? 'text/javascript' : 'text/html';
    const body = readFileSync(file, 'utf8').replaceAll('{{PARLOR}}', server.baseUrl);
    res.writeHead(200, { 'Content-Type': `${type}; charset=utf-8`, 'Cache-Control': 'no-store' }).end(body);
  });
  await new Promise((resolve) => srv.listen(0, host, resolve));
  const { port } = srv.address();
  return {
    baseUrl: `http://${host}:${port}`,
    close: () => new Promise((resolve) => srv.close(resolve)),
  };
}

/**
 * Opens a participant: a page at `url` in a fresh browser context (its own storage, like
 * another person's browser), or as another tab of `context`.
 */
export async function openPage(browser, url, { viewport, context } = {}) {
  // Camera and microphone granted up front, as a returning user would have them.
  context ??= await browser.newContext({ viewport: viewport ?? { width: 960, height: 600 }, permissions: ['camera', 'microphone'] });
  const p = await context.newPage();
  p.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  p.on('console', (m) => {
    if (m.type() === 'error' || process.env.PARLOR_BROWSER_LOG) console.log(`[console.${m.type()}] ${m.text()}`);
  });
  await p.goto(url);
  return p;
}

/** Polls `fn` in the page until it returns a truthy value; returns that value. */
export async function waitInPage(page, fn, arg, timeout = 20000) {
  const handle = await page.waitForFunction(fn, arg, { timeout, polling: 100 });
  return handle.jsonValue();
}

/** Where screenshots go: $PARLOR_SCREENSHOT_DIR, by default target/screenshots/inspector. */
export const SCREENSHOTS = process.env.PARLOR_SCREENSHOT_DIR || path.join(REPO_ROOT, 'target', 'screenshots', 'inspector');

/** A full-page screenshot of `page` as SCREENSHOTS/`name`.png; returns its path. */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Logs in to `server`'s Inspector page through its form; resolves after the redirect. */
export async function logInInspector(page, server, key = API_KEY, secret = API_SECRET) {
  await page.goto(`${server.baseUrl}/inspector`);
  await page.fill('#key', key);
  await page.fill('#secret', secret);
  await Promise.all([page.waitForNavigation(), page.click('#login-form button[type=submit]')]);
  return page;
}

export function artifactPath(name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, name);
}


/**
 * Registers before/after hooks for a test file: one server, one page server and one
 * Chromium for the file; returns an object whose fields are set once `before` ran.
 */
export function useEnvironment({ serverArgs = [] } = {}) {
  const env = {};
  before(async () => {
    env.server = await startServer(serverArgs);
    env.pages = await startPageServer(env.server);
    env.browser = await launchBrowser();
  });
  after(async () => {
    await env.browser?.close();
    await env.pages?.close();
    const exit = await env.server?.stop();
    if (exit && exit.code !== 0) throw new Error(`parlor serve exited with ${JSON.stringify(exit)}:\n${env.server.stderr}`);
  });
  return env;
}

/** Opens the SDK test page (pages/test.html) as a new participant. */
export function openTestPage(env, opts) {
  return openPage(env.browser, `${env.pages.baseUrl}/test.html`, opts);
}

/** Joins `sessionId` from a test page; see pages/helpers.js `T.join` for the options. */
export async function join(page, sessionId, { role, data, ...opts } = {}) {
  const result = await page.evaluate((x) => T.join(x), { apiKey: API_KEY, sessionId, token: token(sessionId, { role, data }), ...opts });
  return result;
}

/**
 * Waits until the page shows `count` subscribed videos that play: each <video> has a size
 * and its currentTime advances, and each subscriber's getStats() counts decoded frames.
 */
export async function expectLiveVideos(page, count, timeout = 20000) {
  const first = await waitInPage(
    page,
    (n) => {
      const v = T.videos().filter((x) => x.inDom);
      return v.length === n && v.every((x) => x.videoWidth > 0) ? v : null;
    },
    count,
    timeout,
  );
  const later = await waitInPage(
    page,
    (before) => {
      const v = T.videos().filter((x) => x.inDom);
      const ok = before.every((b) => {
        const now = v.find((x) => x.streamId === b.streamId);
        return now && now.currentTime > b.currentTime + 0.3;
      });
      return ok ? v : null;
    },
    first,
    timeout,
  );
  const stats = await page.evaluate(() => T.stats());
  for (const v of later) {
    const s = stats[v.streamId];
    const audioOk = !v.hasAudio || s?.audio.packetsReceived > 0;
    if (!s || !(s.video.framesDecoded > 0) || !(s.video.bytesReceived > 0) || !audioOk) {
      throw new Error(`subscriber stats of ${v.streamId} show no media: ${JSON.stringify(s)}`);
    }
  }
  return { videos: later, stats };
}
