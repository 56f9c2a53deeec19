// A live streaming broadcast of three streams (Chromium's fake camera through the web SDK,
// and two native publishers): the app server starts it through the REST API with HLS and
// two RTMP targets (ffmpeg RTMP servers started here); hls.js (from npm) plays the HLS URL
// in Chromium, on a page of another origin, with no credentials; each RTMP target receives
// H.264 + AAC at the broadcast's size (ffprobe).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { signHs256 } from '../compat/node/helpers.mjs';
import { makeMedia, publisher, stopAllClients } from '../compat/node/live.mjs';
import { API_KEY, API_SECRET, createSession, join, openPage, openTestPage, token, useEnvironment, waitInPage } from './lib/harness.mjs';

const env = useEnvironment();
const here = path.dirname(fileURLToPath(import.meta.url));
const HLS_JS = path.join(here, 'node_modules', 'hls.js', 'dist', 'hls.min.js');

async function rest(method, route, body) {
  const now = Math.floor(Date.now() / 1000);
  const auth = signHs256({ iss: API_KEY, ist: 'project', iat: now, exp: now + 300, jti: `${Math.random()}` }, API_SECRET);
  const res = await fetch(`${env.server.baseUrl}/v2/project/${API_KEY}${route}`, {
    method,
    headers: { 'X-OPENTOK-AUTH': auth, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** An RTMP server: ffmpeg listening for /live/<key>, copying what it gets to `out`. */
function rtmpReceiver(port, key, out) {
  const child = spawn('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-listen', '1', '-i', `rtmp://127.0.0.1:${port}/live/${key}`, '-c', 'copy', '-f', 'flv', out], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return { child, exited };
}

function ffprobe(file) {
  const r = spawnSync('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_streams', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout).streams;
}

const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

async function waitBroadcast(id, what, pred, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status, body } = await rest('GET', `/broadcast/${id}`);
    assert.equal(status, 200, JSON.stringify(body));
    if (pred(body)) return body;
    assert.ok(Date.now() < deadline, `${what}: still ${JSON.stringify(body)}`);
    await sleep(250);
  }
}

test('a broadcast of Chromium and native publishers: hls.js plays it, two RTMP targets get H.264 + AAC', { timeout: 120000 }, async () => {
  const sid = await createSession(env.server);
  const media = makeMedia();
  const work = mkdtempSync(path.join(tmpdir(), 'parlor-browser-broadcast-'));
  const receivers = [];
  const pages = [];
  try {
    const camera = await openTestPage(env);
    pages.push(camera);
    const joined = await join(camera, sid, { data: 'chromium', autoSubscribe: false });
    assert.equal(joined.error, undefined, JSON.stringify(joined));
    await publisher(env.server, token(sid), media, { name: 'native-1' });
    await publisher(env.server, token(sid), media, { name: 'native-2' });
    for (let i = 0; ; i++) {
      const { body } = await rest('GET', `/session/${sid}/stream`);
      if (body?.items?.length === 3) break;
      assert.ok(i < 150, `3 streams were never announced: ${JSON.stringify(body)}`);
      await sleep(100);
    }

    const targets = [];
    for (const key of ['one', 'two']) {
      const port = await freePort();
      const out = path.join(work, `${key}.flv`);
      receivers.push({ ...rtmpReceiver(port, key, out), out });
      targets.push({ id: key, serverUrl: `rtmp://127.0.0.1:${port}/live`, streamName: key });
    }
    await sleep(500);
    const started = await rest('POST', '/broadcast', {
      sessionId: sid,
      outputs: { hls: { lowLatency: true }, rtmp: targets },
      resolution: '640x480',
      maxDuration: 300,
    });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const { id } = started.body;
    assert.equal(started.body.streams.length, 3, JSON.stringify(started.body));
    const hlsUrl = started.body.broadcastUrls.hls;
    await waitBroadcast(id, 'every output live', (b) => b.broadcastUrls.hlsStatus === 'live'
      && b.broadcastUrls.rtmp.every((t) => t.status === 'live'));

    // A viewer: a page of another origin (the test page server), hls.js from npm.
    const viewer = await openPage(env.browser, `${env.pages.baseUrl}/test.html`);
    pages.push(viewer);
    await viewer.addScriptTag({ path: HLS_JS });
    const supported = await viewer.evaluate((url) => {
      window.hlsErrors = [];
      const video = document.createElement('video');
      video.muted = true;
      video.autoplay = true;
      document.body.appendChild(video);
      window.viewerVideo = video;
      if (!window.Hls.isSupported()) return false;
      const hls = new window.Hls({ lowLatencyMode: true });
      hls.on(window.Hls.Events.ERROR, (_e, d) => { if (d.fatal) window.hlsErrors.push(`${d.type}: ${d.details}`); });
      hls.loadSource(url);
      hls.attachMedia(video);
      video.play().catch(() => {});
      return true;
    }, hlsUrl);
    assert.equal(supported, true, 'hls.js says this Chromium has no MSE');
    const playing = await waitInPage(viewer, () => {
      const v = window.viewerVideo;
      if (window.hlsErrors.length) return { errors: window.hlsErrors };
      return v.currentTime > 3 && v.videoWidth > 0 ? { t: v.currentTime, w: v.videoWidth, h: v.videoHeight } : null;
    }, undefined, 40000);
    assert.equal(playing.errors, undefined, JSON.stringify(playing));
    assert.deepEqual([playing.w, playing.h], [640, 480]);
    // It keeps playing.
    const later = await waitInPage(viewer, (t0) => (window.viewerVideo.currentTime > t0 + 1 ? window.viewerVideo.currentTime : null), playing.t, 10000);
    console.log(`hls.js: playing at ${later.toFixed(1)} s, ${playing.w}x${playing.h}`);

    const stopped = await rest('POST', `/broadcast/${id}/stop`);
    assert.equal(stopped.status, 200, JSON.stringify(stopped.body));
    assert.equal(stopped.body.status, 'stopped');
    for (const r of receivers) {
      await Promise.race([r.exited, sleep(10000)]);
      r.child.kill('SIGKILL');
      const streams = ffprobe(r.out);
      const v = streams.find((s) => s.codec_type === 'video');
      const a = streams.find((s) => s.codec_type === 'audio');
      assert.deepEqual([v?.codec_name, v?.width, v?.height, a?.codec_name], ['h264', 640, 480, 'aac'], JSON.stringify(streams));
    }
  } finally {
    for (const r of receivers) r.child.kill('SIGKILL');
    for (const p of pages) await p.context().close();
    await stopAllClients();
    media.remove();
    rmSync(work, { recursive: true, force: true });
  }
});
