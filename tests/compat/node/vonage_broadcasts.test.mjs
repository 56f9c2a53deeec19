// Live compatibility: npm `@vonage/video`, authenticated as a Vonage application, driving live
// streaming broadcasts of a session with two native publishers: a broadcast to HLS (served by
// Parlor at a signed URL) and one RTMP target (an `ffmpeg -listen` receiver the suite starts),
// polled with getBroadcast until both are live; a second, manual-mode broadcast with its own
// multiBroadcastTag whose streams are added and removed; searchBroadcasts; stopBroadcast; and
// what the receiver and the HLS playlist got (ffprobe: H.264 + AAC 640x480). The SDK posts to
// `/broadcast/` (a trailing slash) and has no call for a broadcast's layout.
// Results go to results/vonage-node-broadcasts.json.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MediaMode } from '@vonage/video';
import { startServer } from './helpers.mjs';
import { makeMedia, subscriber, publisher, stopAllClients } from './live.mjs';
import {
  compatSuite, createApplication, videoClient, exchanges, since, describeExchanges, rejection,
} from './vonage_sdk.mjs';
import { freePort, rtmpReceiver, fetchHls, ffprobe, avOf } from './broadcast_media.mjs';

const compatTest = compatSuite('broadcasts');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UNKNOWN_BROADCAST = '5a1e0a4c-0000-4000-8000-00000000b001';

let server;
let app;
let video;
let P;
let media;
let work;
let rx;

before(async () => {
  server = await startServer();
  app = createApplication(server, 'node-broadcasts');
  video = videoClient(server, app);
  P = `/v2/project/${app.applicationId}`;
  media = makeMedia();
  work = mkdtempSync(path.join(tmpdir(), 'parlor-compat-vonage-broadcasts-'));
});

after(async () => {
  if (rx) await rx.stop();
  await stopAllClients();
  if (media) media.remove();
  if (work) rmSync(work, { recursive: true, force: true });
  if (!server) return;
  const { code, signal } = await server.stop();
  assert.equal(signal, null, `parlor serve did not exit after SIGTERM\n${server.stderr}`);
  assert.equal(code, 0, `parlor serve exited with ${code}\n${server.stderr}`);
  const fivexx = exchanges.filter((x) => x.status >= 500);
  assert.deepEqual(fivexx, [], describeExchanges(fivexx));
});

const tok = (sid, opts = {}) => video.generateClientToken(sid, opts);
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });
const byId = (list) => [...list].sort((p, q) => p.streamId.localeCompare(q.streamId));

/** The single exchange made since `mark`; checks its method, path, status and auth. */
function exchange(mark, method, p, status) {
  const xs = since(mark);
  assert.equal(xs.length, 1, `expected one request, got:\n${describeExchanges(xs)}`);
  const [x] = xs;
  assert.equal(`${x.method} ${x.path}`, `${method} ${p}`, describeExchanges(xs));
  assert.equal(x.status, status, describeExchanges(xs));
  assert.match(x.headers.Authorization || x.headers.authorization || '', /^Bearer /);
  return x;
}

/** `promise`'s value; its error with the exchanges made since `mark` (what the server said). */
async function answered(mark, promise) {
  try {
    return await promise;
  } catch (e) {
    throw new Error(`${e.message}\n${describeExchanges(since(mark))}`);
  }
}

/** A broadcast as the SDK hands it over (the JSON object): fields and `want`'s values. */
function checkBroadcast(b, want) {
  assert.match(b.id, UUID);
  assert.equal(b.sessionId, state.sid);
  assert.equal(String(b.projectId), app.applicationId);
  assert.ok(Number.isInteger(b.createdAt) && Number.isInteger(b.updatedAt), JSON.stringify(b));
  assert.ok(Array.isArray(b.streams), JSON.stringify(b));
  for (const [k, v] of Object.entries(want)) assert.deepEqual(b[k], v, `${k} of ${JSON.stringify(b)}`);
}

const state = {};

compatTest({ method: 'startBroadcast', operation: 'Start a broadcast', feature: 'broadcasts' }, async (rec) => {
  state.sid = (await video.createSession({ mediaMode: MediaMode.ROUTED })).sessionId;
  const watcher = await subscriber(server, tok(state.sid, { role: 'subscriber' }), 'watcher');
  state.a = await publisher(server, tok(state.sid), media, { name: 'cam-a', label: 'publisher A' });
  state.b = await publisher(server, tok(state.sid), media, { name: 'cam-b', label: 'publisher B' });
  for (const p of [state.a, state.b]) await watcher.waitEvent('streamCreated', (e) => e.stream.streamId === p.streamId);
  await watcher.stop();
  rx = await rtmpReceiver(await freePort(), 'vonage', path.join(work, 'vonage.flv'));
  const config = {
    outputs: { hls: {}, rtmp: [{ id: 'rx', serverUrl: rx.url, streamName: 'vonage' }] },
    resolution: '640x480',
    maxDuration: 300,
    layout: { type: 'bestFit' },
    multiBroadcastTag: 'main',
  };
  const mark = exchanges.length;
  const b = await answered(mark, video.startBroadcast(state.sid, config));
  // @vonage/video posts to /broadcast/, with a trailing slash.
  const x = exchange(mark, 'POST', `${P}/broadcast/`, 200);
  assert.deepEqual(JSON.parse(x.requestBody), { sessionId: state.sid, ...config });
  checkBroadcast(b, {
    status: 'started', resolution: '640x480', maxDuration: 300, streamMode: 'auto', layout: { type: 'bestFit' },
  });
  assert.deepEqual(byId(b.streams), byId([
    { streamId: state.a.streamId, hasAudio: true, hasVideo: true },
    { streamId: state.b.streamId, hasAudio: true, hasVideo: true },
  ]));
  assert.ok(b.broadcastUrls.hls.startsWith(`${server.baseUrl}/`), b.broadcastUrls.hls);
  assert.deepEqual(b.broadcastUrls.rtmp.map(({ status, ...t }) => t), config.outputs.rtmp);
  state.main = b;
  rec.note = 'POST /broadcast/ (trailing slash) with HLS, one RTMP target, resolution, maxDuration, layout and multiBroadcastTag: started with both published streams, a signed HLS URL and the target';
}, { timeout: 40000 });

compatTest({ method: 'getBroadcast', operation: 'Get a broadcast', feature: 'broadcasts' }, async (rec) => {
  assert.ok(state.main, 'startBroadcast did not run');
  const started = Date.now();
  const seen = [];
  let b;
  for (;;) {
    const mark = exchanges.length;
    b = await video.getBroadcast(state.main.id);
    exchange(mark, 'GET', `${P}/broadcast/${state.main.id}`, 200);
    const now = `hls ${b.broadcastUrls.hlsStatus}, rx ${b.broadcastUrls.rtmp[0].status}`;
    if (seen.at(-1) !== now) seen.push(now);
    if (now === 'hls live, rx live') break;
    assert.ok(Date.now() - started < 30000, `not live after 30 s: ${seen.join(' → ')}`);
    await sleep(250);
  }
  state.liveAt = Date.now();
  checkBroadcast(b, { id: state.main.id, status: 'started' });
  const hls = await fetchHls(b.broadcastUrls.hls, work, 'vonage');
  assert.equal(hls.response.status, 200, hls.playlist);
  assert.ok(hls.file, `no segment in:\n${hls.playlist}`);
  assert.deepEqual(avOf(hls.probe), ['h264', 640, 480, 'aac'], JSON.stringify(hls.probe.streams));
  const missing = await rejection(video.getBroadcast(UNKNOWN_BROADCAST));
  assert.equal(missing.status, 404);
  rec.note = 'polled until HLS and the RTMP target were live; the HLS URL serves a playlist without credentials, a segment is H.264 640x480 + AAC; unknown broadcast: 404 (VetchError, the server\'s message on error.response)';
}, { timeout: 45000 });

compatTest({ method: 'startBroadcast', operation: 'Start a broadcast', feature: 'broadcasts', check: 'manual, tagged; 409 without a tag' }, async (rec) => {
  assert.ok(state.main, 'startBroadcast did not run');
  const m = await answered(exchanges.length, video.startBroadcast(state.sid, { outputs: { hls: {} }, streamMode: 'manual', multiBroadcastTag: 'manual' }));
  checkBroadcast(m, { status: 'started', streamMode: 'manual', streams: [] });
  state.m = m;
  const mark = exchanges.length;
  const refused = await rejection(video.startBroadcast(state.sid, { outputs: { hls: {} } }));
  exchange(mark, 'POST', `${P}/broadcast/`, 409);
  assert.equal(refused.status, 409);
  assert.match(refused.message, /already being broadcast/);
  const bad = await rejection(video.startBroadcast(state.sid, { outputs: { hls: { dvr: true, lowLatency: true } }, multiBroadcastTag: 'bad' }));
  assert.equal(bad.status, 400);
  rec.note = 'a manual broadcast with its own multiBroadcastTag starts beside the first with no streams; an untagged one: 409; dvr with lowLatency (not checked by this SDK): 400';
});

compatTest({ method: 'addStreamToBroadcast', operation: 'Add a stream to a broadcast', feature: 'broadcasts' }, async (rec) => {
  assert.ok(state.m, 'the manual broadcast did not start');
  const mark = exchanges.length;
  await answered(mark, video.addStreamToBroadcast(state.m.id, state.a.streamId));
  const x = exchange(mark, 'PATCH', `${P}/broadcast/${state.m.id}/streams`, 204);
  // The SDK sends its whole update config, broadcastId included.
  assert.deepEqual(JSON.parse(x.requestBody), { broadcastId: state.m.id, addStream: state.a.streamId });
  const got = await video.getBroadcast(state.m.id);
  assert.deepEqual(got.streams, [{ streamId: state.a.streamId, hasAudio: true, hasVideo: true }]);
  const auto = await rejection(video.addStreamToBroadcast(state.main.id, state.a.streamId));
  assert.equal(auto.status, 405);
  rec.note = 'the body carries broadcastId beside addStream; the stream is in getBroadcast\'s streams (audio and video by default); on an auto broadcast: 405';
});

compatTest({ method: 'removeStreamFromBroadcast', operation: 'Remove a stream from a broadcast', feature: 'broadcasts' }, async (rec) => {
  assert.ok(state.m, 'the manual broadcast did not start');
  const mark = exchanges.length;
  await answered(mark, video.removeStreamFromBroadcast(state.m.id, state.a.streamId));
  const x = exchange(mark, 'PATCH', `${P}/broadcast/${state.m.id}/streams`, 204);
  assert.deepEqual(JSON.parse(x.requestBody), { broadcastId: state.m.id, removeStream: state.a.streamId });
  assert.deepEqual((await video.getBroadcast(state.m.id)).streams, []);
  const again = await rejection(video.removeStreamFromBroadcast(state.m.id, state.a.streamId));
  assert.equal(again.status, 404);
  rec.note = 'the broadcast\'s streams are empty again; removing it twice: 404';
});

compatTest({ method: 'searchBroadcasts', operation: 'List broadcasts', feature: 'broadcasts' }, async (rec) => {
  assert.ok(state.m, 'the broadcasts did not start');
  let mark = exchanges.length;
  const found = await answered(mark, video.searchBroadcasts({ sessionId: state.sid }));
  let x = exchange(mark, 'GET', `${P}/broadcast/`, 200);
  assert.equal(new URLSearchParams(x.query).get('sessionId'), state.sid);
  assert.equal(found.count, 2);
  assert.deepEqual(found.items.map((b) => b.id), [state.m.id, state.main.id], 'newest first');
  mark = exchanges.length;
  const page = await video.searchBroadcasts({ sessionId: state.sid, offset: 1, count: 1 });
  x = exchange(mark, 'GET', `${P}/broadcast/`, 200);
  assert.deepEqual(Object.fromEntries(new URLSearchParams(x.query)), { sessionId: state.sid, offset: '1', count: '1' });
  assert.equal(page.count, 2);
  assert.deepEqual(page.items.map((b) => b.id), [state.main.id]);
  rec.note = 'GET /broadcast/ (trailing slash) with sessionId: both broadcasts, newest first, count 2; offset 1 count 1: the older one';
});

compatTest({ method: 'stopBroadcast', operation: 'Stop a broadcast', feature: 'broadcasts' }, async (rec) => {
  assert.ok(state.main && state.m, 'the broadcasts did not start');
  await sleep(Math.max(0, (state.liveAt || Date.now()) + 3000 - Date.now()));
  const mark = exchanges.length;
  const b = await video.stopBroadcast(state.main.id);
  exchange(mark, 'POST', `${P}/broadcast/${state.main.id}/stop`, 200);
  checkBroadcast(b, { id: state.main.id, status: 'stopped' });
  assert.equal(b.broadcastUrls.hlsStatus, 'ended');
  assert.equal(b.broadcastUrls.rtmp[0].status, 'ended');
  assert.ok(typeof b.reason === 'string' && b.reason, JSON.stringify(b));
  assert.equal((await video.stopBroadcast(state.m.id)).status, 'stopped');
  const again = await rejection(video.stopBroadcast(state.main.id));
  assert.equal(again.status, 409);
  // What the RTMP receiver got.
  if (!(await rx.waitExit(10000))) await rx.stop();
  const probe = ffprobe(rx.out);
  assert.deepEqual(avOf(probe), ['h264', 640, 480, 'aac'], JSON.stringify(probe.streams));
  rec.note = 'stopped (hlsStatus and the target ended, with a reason); stopping again: 409; the RTMP receiver got H.264 640x480 + AAC';
}, { timeout: 40000 });

compatTest({ method: '(none)', operation: 'Set a broadcast\'s layout', feature: 'broadcasts' }, async (rec) => {
  // @vonage/video sets a broadcast's layout only when starting it (no update call).
  const names = Object.getOwnPropertyNames(Object.getPrototypeOf(video));
  assert.deepEqual(names.filter((n) => /broadcast.*layout|layout.*broadcast/i.test(n)), []);
  rec.status = 'n/a';
});
