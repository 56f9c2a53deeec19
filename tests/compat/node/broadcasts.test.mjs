// Live compatibility: every live streaming broadcast call of the official Node SDK against a
// real Parlor server, with two native publishers (`parlor client publish`, ffmpeg-made
// VP8/Opus) in a routed session.
//
// One broadcast (tagged "main", auto stream mode, 640x480) goes to HLS (served by Parlor at a
// signed URL) and to two RTMP targets received by `ffmpeg -listen` servers the suite starts on
// free ports. It is polled with getBroadcast until HLS and both targets are live; the HLS
// playlist is fetched with no credentials and a segment checked with ffprobe (H.264 + AAC
// 640x480). Its layout is changed (pip; bestFit + screenshareType). A second, manual-mode
// broadcast with its own multiBroadcastTag gets streams added and removed; an untagged third
// one is refused (409). Then list (sessionId, offset, count), stop (targets ended), the SDK's
// errors, and the RTMP receivers' FLV files (H.264 + AAC 640x480).
// Results go to results/node-broadcasts.json.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, forgeSessionId, API_KEY, API_SECRET } from './helpers.mjs';
import { makeMedia, subscriber, publisher, stopAllClients } from './live.mjs';
import { OpenTok, compatSuite, call, ok, errorText, exchanges, since, describeExchanges } from './sdk.mjs';
import { freePort, rtmpReceiver, fetchHls, ffprobe, avOf } from './broadcast_media.mjs';

const compatTest = compatSuite('broadcasts');
const P = `/v2/project/${API_KEY}`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UNKNOWN_BROADCAST = '5a1e0a4c-0000-4000-8000-00000000b001';
const MAX_BITRATE = 600000;
const STARTING = ['connecting', 'ready', 'live'];

let server;
let ot;
let media;
let work;
const receivers = [];

before(async () => {
  server = await startServer();
  ot = new OpenTok(API_KEY, API_SECRET, { apiUrl: server.baseUrl });
  media = makeMedia();
  work = mkdtempSync(path.join(tmpdir(), 'parlor-compat-broadcasts-'));
});

after(async () => {
  await Promise.all(receivers.map((rx) => rx.stop()));
  await stopAllClients();
  if (media) media.remove();
  if (work) rmSync(work, { recursive: true, force: true });
  if (!server) return;
  const { code, signal } = await server.stop();
  assert.equal(signal, null, `parlor serve did not exit after SIGTERM\n${server.stderr}`);
  assert.equal(code, 0, `parlor serve exited with ${code}\n${server.stderr}`);
});

/** Calls `ot[name](...args, cb)`; resolves {err, value, extra} (never rejects). */
const run = (name, ...args) => call(ot[name].bind(ot), ...args);
/** Calls `ot[name](...args, cb)`; rejects on an SDK error. */
const must = (name, ...args) => ok(ot[name].bind(ot), ...args);
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/** The single exchange made since `mark`; checks its method, path and status. */
function exchange(mark, method, p, status) {
  const xs = since(mark);
  assert.equal(xs.length, 1, `expected one request, got:\n${describeExchanges(xs)}`);
  const [x] = xs;
  assert.equal(`${x.method} ${x.path}`, `${method} ${p}`);
  assert.equal(x.status, status, `wrong status:\n${describeExchanges(xs)}`);
  return x;
}

/** A 4xx answer: JSON {code, message}, Content-Type exactly application/json. */
function errorBody(x, status) {
  assert.equal(x.status, status, describeExchanges([x]));
  assert.equal(x.contentType, 'application/json', describeExchanges([x]));
  const body = JSON.parse(x.responseBody);
  assert.equal(body.code, status);
  assert.ok(typeof body.message === 'string' && body.message.length > 0, describeExchanges([x]));
  return body;
}

/** Whether an SDK error's text carries the server's message (as is, or JSON-escaped). */
const carries = (err, message) => {
  const text = errorText(err);
  return text.includes(message) || text.includes(JSON.stringify(message).slice(1, -1));
};

const BROADCAST_FIELDS = ['id', 'sessionId', 'projectId', 'createdAt', 'updatedAt', 'resolution', 'status',
  'broadcastUrls', 'maxDuration', 'maxBitrate', 'streamMode', 'streams', 'hasAudio', 'hasVideo'];

/** The SDK's Broadcast object: every field, of the documented type, with `want`'s values. */
function checkBroadcast(b, want) {
  assert.equal(typeof b.stop, 'function', 'not an SDK Broadcast object (no stop())');
  for (const k of BROADCAST_FIELDS) assert.ok(k in b, `the Broadcast has no ${k}: ${JSON.stringify(b)}`);
  assert.match(b.id, UUID);
  assert.equal(b.sessionId, state.sid);
  assert.equal(String(b.projectId), API_KEY);
  for (const k of ['createdAt', 'updatedAt']) {
    assert.ok(Number.isInteger(b[k]) && Math.abs(b[k] - Date.now()) < 120000, `${k} ${b[k]}`);
  }
  assert.ok(b.updatedAt >= b.createdAt, `updatedAt ${b.updatedAt} < createdAt ${b.createdAt}`);
  assert.ok(['started', 'stopped'].includes(b.status), b.status);
  assert.ok(Array.isArray(b.streams), `streams ${JSON.stringify(b.streams)}`);
  assert.equal(typeof b.broadcastUrls, 'object');
  for (const [k, v] of Object.entries(want)) assert.deepEqual(b[k], v, `${k} of ${JSON.stringify(b)}`);
}

/** The RTMP target `id` of a Broadcast. */
const target = (b, id) => (b.broadcastUrls.rtmp || []).find((t) => t.id === id);
const sortStreams = (list) => [...list].sort((p, q) => p.streamId.localeCompare(q.streamId));

/** Shared by the tests, in the order they run. */
const state = {};

async function liveSession() {
  if (state.sid) return;
  state.sid = (await must('createSession', { mediaMode: 'routed' })).sessionId;
  // The client says "published" before the session announced its stream: the watcher sees
  // both announced before anything is broadcast.
  state.watcher = await subscriber(server, ot.generateToken(state.sid, { role: 'subscriber' }), 'watcher');
  state.a = await publisher(server, ot.generateToken(state.sid), media, { name: 'cam-a', label: 'publisher A' });
  state.b = await publisher(server, ot.generateToken(state.sid), media, { name: 'cam-b', label: 'publisher B' });
  for (const p of [state.a, state.b]) {
    await state.watcher.waitEvent('streamCreated', (e) => e.stream.streamId === p.streamId);
  }
  await state.watcher.stop();
}

// ---------------------------------------------------------------------------------------
// Start: HLS and two RTMP targets.

compatTest({ method: 'startBroadcast', operation: 'Start a broadcast', feature: 'broadcasts', check: 'HLS and two RTMP targets, every option' }, async (rec) => {
  await liveSession();
  const [p1, p2] = [await freePort(), await freePort()];
  state.rx1 = await rtmpReceiver(p1, 'one', path.join(work, 'one.flv'));
  state.rx2 = await rtmpReceiver(p2, 'two', path.join(work, 'two.flv'));
  receivers.push(state.rx1, state.rx2);
  const options = {
    outputs: {
      hls: { lowLatency: true },
      rtmp: [
        { id: 'one', serverUrl: state.rx1.url, streamName: 'one' },
        { id: 'two', serverUrl: `${state.rx2.url}/`, streamName: 'two' },
      ],
    },
    maxDuration: 300,
    maxBitrate: MAX_BITRATE,
    resolution: '640x480',
    layout: { type: 'bestFit' },
    multiBroadcastTag: 'main',
    hasAudio: true,
    hasVideo: true,
  };
  const sent = structuredClone(options);
  const mark = exchanges.length;
  const b = await must('startBroadcast', state.sid, options);
  const x = exchange(mark, 'POST', `${P}/broadcast`, 200);
  // The SDK adds sessionId and the default streamMode to the options it was given.
  assert.deepEqual(JSON.parse(x.requestBody), { ...sent, sessionId: state.sid, streamMode: 'auto' });
  checkBroadcast(b, {
    status: 'started', resolution: '640x480', maxDuration: 300, maxBitrate: MAX_BITRATE, streamMode: 'auto',
    hasAudio: true, hasVideo: true, layout: { type: 'bestFit' }, settings: { hls: { dvr: false, lowLatency: true } },
  });
  assert.equal(b.reason, undefined, 'a started broadcast has no reason');
  // Auto mode: the two published streams are in it.
  assert.deepEqual(sortStreams(b.streams), sortStreams([
    { streamId: state.a.streamId, hasAudio: true, hasVideo: true },
    { streamId: state.b.streamId, hasAudio: true, hasVideo: true },
  ]));
  const urls = b.broadcastUrls;
  assert.equal(typeof urls.hls, 'string');
  assert.ok(urls.hls.startsWith(`${server.baseUrl}/`) && urls.hls.endsWith('/index.m3u8'), urls.hls);
  assert.ok(STARTING.includes(urls.hlsStatus), `hlsStatus ${urls.hlsStatus}`);
  assert.deepEqual(urls.rtmp.map(({ status, ...t }) => t), options.outputs.rtmp);
  for (const t of urls.rtmp) assert.ok(['connecting', 'live'].includes(t.status), `target ${t.id}: ${t.status}`);
  state.main = b;
  rec.note = 'outputs (HLS lowLatency, two RTMP targets), maxDuration, maxBitrate, resolution, layout, multiBroadcastTag, hasAudio, hasVideo sent (with sessionId and the SDK\'s streamMode auto); the Broadcast reads them back with both published streams, a signed HLS URL on the server, hlsStatus and each target\'s id, serverUrl, streamName and status';
});

compatTest({ method: 'getBroadcast', operation: 'Get a broadcast', feature: 'broadcasts' }, async (rec) => {
  assert.ok(state.main, 'the broadcast did not start');
  const started = Date.now();
  const mark = exchanges.length;
  let b;
  const seen = new Set();
  for (;;) {
    b = await must('getBroadcast', state.main.id);
    const now = `hls ${b.broadcastUrls.hlsStatus}, one ${target(b, 'one').status}, two ${target(b, 'two').status}`;
    seen.add(now);
    if (b.broadcastUrls.hlsStatus === 'live' && target(b, 'one').status === 'live' && target(b, 'two').status === 'live') break;
    assert.ok(Date.now() - started < 30000, `the outputs are not all live after 30 s: ${[...seen].join(' → ')}`);
    await sleep(250);
  }
  state.liveAt = Date.now();
  const xs = since(mark);
  assert.ok(xs.every((x) => x.method === 'GET' && x.path === `${P}/broadcast/${state.main.id}` && x.status === 200), describeExchanges(xs));
  checkBroadcast(b, { id: state.main.id, status: 'started', resolution: '640x480', streamMode: 'auto', createdAt: state.main.createdAt });
  assert.equal(b.broadcastUrls.hls, state.main.broadcastUrls.hls);
  assert.equal(b.streams.length, 2);
  const r = await run('getBroadcast', UNKNOWN_BROADCAST);
  const body = errorBody(exchanges.at(-1), 404);
  assert.ok(r.err instanceof Error, errorText(r.err));
  assert.equal(r.err.message, 'Failed to get broadcast. Error: Not Found');
  rec.note = `polled until HLS and both RTMP targets were live; unknown broadcast: 404, the SDK says "${r.err.message}" (not the server's message: "${body.message}")`;
}, { timeout: 45000 });

compatTest({ method: 'startBroadcast', operation: 'Start a broadcast', feature: 'broadcasts', check: 'HLS output' }, async (rec) => {
  assert.ok(state.liveAt, 'HLS is not live');
  const url = state.main.broadcastUrls.hls;
  const hls = await fetchHls(url, work, 'main');
  assert.equal(hls.response.status, 200, `GET ${url} without credentials: ${hls.response.status} ${hls.playlist}`);
  assert.equal(hls.response.headers.get('content-type'), 'application/vnd.apple.mpegurl');
  assert.equal(hls.response.headers.get('access-control-allow-origin'), '*');
  assert.ok(hls.playlist.startsWith('#EXTM3U'), hls.playlist);
  assert.ok(hls.file, `no segment in the playlist:\n${hls.playlist}`);
  assert.deepEqual(avOf(hls.probe), ['h264', 640, 480, 'aac'], JSON.stringify(hls.probe.streams));
  // Another broadcast's id under this signature, or a changed signature: nothing.
  const forged = url.replace(state.main.id, UNKNOWN_BROADCAST);
  assert.equal((await fetch(forged)).status, 404, forged);
  const sig = /\/([0-9a-f]{64})\/index\.m3u8$/.exec(url);
  assert.ok(sig, url);
  const badSig = url.replace(sig[1], sig[1].replace(/^./, (c) => (c === '0' ? '1' : '0')));
  assert.equal((await fetch(badSig)).status, 404, badSig);
  rec.note = 'the signed broadcastUrls.hls serves the playlist with no credentials (application/vnd.apple.mpegurl, CORS *); a segment is H.264 640x480 + AAC; another id or a changed signature: 404';
});

// ---------------------------------------------------------------------------------------
// Layout.

compatTest({ method: 'setBroadcastLayout', operation: 'Set a broadcast\'s layout', feature: 'broadcasts' }, async (rec) => {
  assert.ok(state.main, 'the broadcast did not start');
  let mark = exchanges.length;
  let r = await run('setBroadcastLayout', state.main.id, 'pip', null, null);
  assert.ifError(r.err);
  let x = exchange(mark, 'PUT', `${P}/broadcast/${state.main.id}/layout`, 200);
  assert.deepEqual(JSON.parse(x.requestBody), { type: 'pip' });
  assert.deepEqual((await must('getBroadcast', state.main.id)).layout, { type: 'pip' });
  mark = exchanges.length;
  r = await run('setBroadcastLayout', state.main.id, 'bestFit', null, 'verticalPresentation');
  assert.ifError(r.err);
  x = exchange(mark, 'PUT', `${P}/broadcast/${state.main.id}/layout`, 200);
  assert.deepEqual(JSON.parse(x.requestBody), { type: 'bestFit', screenshareType: 'verticalPresentation' });
  const b = await must('getBroadcast', state.main.id);
  assert.deepEqual(b.layout, { type: 'bestFit', screenshareType: 'verticalPresentation' });
  assert.equal(b.status, 'started');
  rec.note = '200 for pip, then bestFit with a screenshareType; getBroadcast reads each back';
});

compatTest({ method: 'setBroadcastLayout', operation: 'Set a broadcast\'s layout', feature: 'broadcasts', check: 'bad input' }, async (rec) => {
  assert.ok(state.main, 'the broadcast did not start');
  // The SDK refuses a screenshareType without bestFit itself.
  let mark = exchanges.length;
  let r = await run('setBroadcastLayout', state.main.id, 'pip', null, 'pip');
  assert.equal(since(mark).length, 0, describeExchanges(since(mark)));
  assert.match(errorText(r.err), /type must be set to "bestFit"/);
  mark = exchanges.length;
  r = await run('setBroadcastLayout', state.main.id, 'custom', null, null);
  const body = errorBody(exchange(mark, 'PUT', `${P}/broadcast/${state.main.id}/layout`, 400), 400);
  assert.ok(r.err instanceof OpenTok.RequestError, errorText(r.err));
  assert.ok(carries(r.err, body.message), errorText(r.err));
  mark = exchanges.length;
  r = await run('setBroadcastLayout', UNKNOWN_BROADCAST, 'pip', null, null);
  errorBody(exchange(mark, 'PUT', `${P}/broadcast/${UNKNOWN_BROADCAST}/layout`, 404), 404);
  assert.ok(r.err instanceof OpenTok.NotFoundError, errorText(r.err));
  assert.deepEqual((await must('getBroadcast', state.main.id)).layout, { type: 'bestFit', screenshareType: 'verticalPresentation' });
  rec.note = 'screenshareType without bestFit: refused by the SDK, nothing sent; custom without a stylesheet: 400 RequestError carrying the server message; unknown broadcast: 404 NotFoundError; the layout is unchanged';
});

// ---------------------------------------------------------------------------------------
// A second, manual-mode broadcast with its own tag; an untagged one is refused.

compatTest({ method: 'startBroadcast', operation: 'Start a broadcast', feature: 'broadcasts', check: 'manual stream mode, a second tagged broadcast' }, async (rec) => {
  assert.ok(state.main, 'the first broadcast did not start');
  const mark = exchanges.length;
  const m = await must('startBroadcast', state.sid, { outputs: { hls: {} }, streamMode: 'manual', multiBroadcastTag: 'manual' });
  const x = exchange(mark, 'POST', `${P}/broadcast`, 200);
  assert.deepEqual(JSON.parse(x.requestBody), { outputs: { hls: {} }, streamMode: 'manual', multiBroadcastTag: 'manual', sessionId: state.sid });
  checkBroadcast(m, {
    status: 'started', streamMode: 'manual', streams: [], resolution: '640x480', maxDuration: 14400,
    hasAudio: true, hasVideo: true, settings: { hls: { dvr: false, lowLatency: false } },
  });
  assert.notEqual(m.id, state.main.id);
  assert.equal(m.broadcastUrls.rtmp, undefined, 'no RTMP target was asked for');
  state.m = m;
  rec.note = 'streamMode manual with another multiBroadcastTag while the first runs: started with no streams, the defaults (640x480, maxDuration 14400, HLS without dvr or lowLatency)';
});

compatTest({ method: 'startBroadcast', operation: 'Start a broadcast', feature: 'broadcasts', check: '409 without a tag' }, async (rec) => {
  assert.ok(state.main, 'no broadcast running');
  const mark = exchanges.length;
  const r = await run('startBroadcast', state.sid, { outputs: { hls: {} } });
  const body = errorBody(exchange(mark, 'POST', `${P}/broadcast`, 409), 409);
  assert.ok(r.err instanceof Error, 'a second broadcast without multiBroadcastTag was accepted');
  assert.ok(r.err.message.startsWith('Failed to start broadcast. '), errorText(r.err));
  assert.ok(carries(r.err, body.message), errorText(r.err));
  rec.note = 'a session already broadcast, no multiBroadcastTag: 409; the SDK\'s Error carries the server message';
});

compatTest({ method: 'startBroadcast', operation: 'Start a broadcast', feature: 'broadcasts', check: 'bad input' }, async (rec) => {
  await liveSession();
  // dvr and lowLatency together: the SDK refuses it itself.
  let mark = exchanges.length;
  let r = await run('startBroadcast', state.sid, { outputs: { hls: { dvr: true, lowLatency: true } }, multiBroadcastTag: 'bad' });
  assert.equal(since(mark).length, 0, describeExchanges(since(mark)));
  assert.ok(r.err instanceof OpenTok.ArgumentError, errorText(r.err));
  assert.equal(r.err.message, 'Cannot set both dvr and lowLatency on HLS');
  const rtmp = (n, url = 'rtmp://127.0.0.1:9/live') => Array.from({ length: n }, (_, i) => ({ id: `t${i}`, serverUrl: url, streamName: `k${i}` }));
  const said = [];
  for (const [options, says] of [
    [{ outputs: { rtmp: rtmp(6) } }, /at most 5/],
    [{ outputs: { rtmp: rtmp(1, 'http://127.0.0.1:9/live') } }, /rtmp:\/\/ or rtmps:\/\//],
    [{ outputs: { hls: {} }, maxDuration: 30 }, /maxDuration/],
    [{ outputs: { hls: {} }, resolution: '800x600' }, /resolution/],
    [{ outputs: {} }, /outputs/],
  ]) {
    mark = exchanges.length;
    r = await run('startBroadcast', state.sid, { ...options, multiBroadcastTag: 'bad' });
    const body = errorBody(exchange(mark, 'POST', `${P}/broadcast`, 400), 400);
    assert.match(body.message, says);
    assert.ok(r.err instanceof Error, errorText(r.err));
    said.push(r.err.message);
  }
  // The SDK answers every 400 with its own text (about SIP), not the server's message.
  assert.deepEqual([...new Set(said)], ['Failed to start broadcast. Error: Bad session ID, token, SIP credentials, or SIP URI (sip:user@domain.tld)']);
  mark = exchanges.length;
  r = await run('startBroadcast', forgeSessionId(state.sid), { outputs: { hls: {} } });
  errorBody(exchange(mark, 'POST', `${P}/broadcast`, 404), 404);
  assert.equal(r.err.message, 'Failed to start broadcast. Error: Not Found');
  rec.note = `dvr with lowLatency: ArgumentError from the SDK, nothing sent; 6 RTMP targets, an http:// target, maxDuration 30, resolution 800x600, no output: 400 with the server's reason, which the SDK replaces with "${said[0]}"; unknown session: 404, "${r.err.message}"`;
});

// ---------------------------------------------------------------------------------------
// Manual streams.

compatTest({ method: 'addBroadcastStream', operation: 'Add a stream to a broadcast', feature: 'broadcasts' }, async (rec) => {
  assert.ok(state.m, 'the manual broadcast did not start');
  let mark = exchanges.length;
  await must('addBroadcastStream', state.m.id, state.a.streamId, { hasAudio: true, hasVideo: true });
  let x = exchange(mark, 'PATCH', `${P}/broadcast/${state.m.id}/streams`, 204);
  assert.deepEqual(JSON.parse(x.requestBody), { addStream: state.a.streamId, hasAudio: true, hasVideo: true });
  mark = exchanges.length;
  await must('addBroadcastStream', state.m.id, state.b.streamId, { hasVideo: false });
  x = exchange(mark, 'PATCH', `${P}/broadcast/${state.m.id}/streams`, 204);
  // The SDK sends `hasVideo: options.hasVideo || true`: false never reaches the server.
  const sentB = JSON.parse(x.requestBody);
  assert.deepEqual(sentB, { addStream: state.b.streamId, hasAudio: true, hasVideo: true });
  const m = await must('getBroadcast', state.m.id);
  assert.deepEqual(sortStreams(m.streams), sortStreams([
    { streamId: state.a.streamId, hasAudio: true, hasVideo: true },
    { streamId: state.b.streamId, hasAudio: true, hasVideo: true },
  ]));
  rec.note = '204 for each stream; getBroadcast lists both with their flags. The SDK sends hasVideo (and hasAudio) as `option || true`, so { hasVideo: false } goes out as true';
});

compatTest({ method: 'addBroadcastStream', operation: 'Add a stream to a broadcast', feature: 'broadcasts', check: 'auto broadcast, unknown stream' }, async (rec) => {
  assert.ok(state.m, 'the manual broadcast did not start');
  let mark = exchanges.length;
  let r = await run('addBroadcastStream', state.main.id, state.a.streamId, {});
  let body = errorBody(exchange(mark, 'PATCH', `${P}/broadcast/${state.main.id}/streams`, 405), 405);
  assert.ok(r.err instanceof OpenTok.RequestError, errorText(r.err));
  assert.ok(carries(r.err, body.message), errorText(r.err));
  mark = exchanges.length;
  r = await run('addBroadcastStream', state.m.id, UNKNOWN_BROADCAST, {});
  body = errorBody(exchange(mark, 'PATCH', `${P}/broadcast/${state.m.id}/streams`, 404), 404);
  assert.ok(r.err instanceof OpenTok.NotFoundError, errorText(r.err));
  rec.note = 'on an auto broadcast: 405, RequestError carrying the server message; a stream not in the session: 404 NotFoundError';
});

compatTest({ method: 'removeBroadcastStream', operation: 'Remove a stream from a broadcast', feature: 'broadcasts' }, async (rec) => {
  assert.ok(state.m, 'the manual broadcast did not start');
  let mark = exchanges.length;
  await must('removeBroadcastStream', state.m.id, state.b.streamId);
  const x = exchange(mark, 'PATCH', `${P}/broadcast/${state.m.id}/streams`, 204);
  assert.deepEqual(JSON.parse(x.requestBody), { removeStream: state.b.streamId });
  const m = await must('getBroadcast', state.m.id);
  assert.deepEqual(m.streams, [{ streamId: state.a.streamId, hasAudio: true, hasVideo: true }]);
  mark = exchanges.length;
  let r = await run('removeBroadcastStream', state.m.id, state.b.streamId);
  errorBody(exchange(mark, 'PATCH', `${P}/broadcast/${state.m.id}/streams`, 404), 404);
  assert.ok(r.err instanceof OpenTok.NotFoundError, errorText(r.err));
  mark = exchanges.length;
  r = await run('removeBroadcastStream', state.main.id, state.a.streamId);
  errorBody(exchange(mark, 'PATCH', `${P}/broadcast/${state.main.id}/streams`, 405), 405);
  assert.ok(r.err instanceof OpenTok.RequestError, errorText(r.err));
  rec.note = '204; getBroadcast lists only the stream left; removing it again: 404 NotFoundError; on an auto broadcast: 405 RequestError';
});

// ---------------------------------------------------------------------------------------
// List.

compatTest({ method: 'listBroadcasts', operation: 'List broadcasts', feature: 'broadcasts' }, async (rec) => {
  assert.ok(state.m, 'the broadcasts did not start');
  const list = (options) => new Promise((resolve, reject) => {
    const cb = (e, items, count) => (e ? reject(e) : resolve({ items, count }));
    if (options) ot.listBroadcasts(options, cb); else ot.listBroadcasts(cb);
  });
  const newest = [state.m.id, state.main.id];
  let mark = exchanges.length;
  const all = await list({ sessionId: state.sid });
  let x = exchange(mark, 'GET', `${P}/broadcast`, 200);
  assert.equal(x.query, `?sessionId=${state.sid}`);
  assert.equal(all.count, 2);
  assert.deepEqual(all.items.map((b) => b.id), newest, 'newest first');
  for (const b of all.items) checkBroadcast(b, { status: 'started' });
  assert.deepEqual(all.items[1].broadcastUrls.hls, state.main.broadcastUrls.hls);
  mark = exchanges.length;
  const page = await list({ offset: 1, count: 1, sessionId: state.sid });
  x = exchange(mark, 'GET', `${P}/broadcast`, 200);
  assert.equal(x.query, `?offset=1&count=1&sessionId=${state.sid}`);
  assert.equal(page.count, 2, 'count is the total, not the page');
  assert.deepEqual(page.items.map((b) => b.id), [state.main.id]);
  const other = (await must('createSession', { mediaMode: 'routed' })).sessionId;
  const none = await list({ sessionId: other });
  assert.deepEqual([none.items, none.count], [[], 0]);
  const everything = await list();
  assert.ok(everything.count >= 2 && newest.every((id) => everything.items.some((b) => b.id === id)), JSON.stringify(everything));
  rec.note = 'sessionId: both broadcasts, newest first, as Broadcast objects, count 2; offset 1 count 1: the older one, count still 2; another session: none; no options: every broadcast';
});

// ---------------------------------------------------------------------------------------
// Stop.

compatTest({ method: 'stopBroadcast', operation: 'Stop a broadcast', feature: 'broadcasts' }, async (rec) => {
  assert.ok(state.main && state.m, 'the broadcasts did not start');
  // A few seconds of live output for the receivers.
  await sleep(Math.max(0, (state.liveAt || Date.now()) + 3000 - Date.now()));
  const mark = exchanges.length;
  const b = await must('stopBroadcast', state.main.id);
  state.stoppedAt = Date.now();
  const x = exchange(mark, 'POST', `${P}/broadcast/${state.main.id}/stop`, 200);
  assert.equal(x.requestBody, '{}');
  checkBroadcast(b, { id: state.main.id, status: 'stopped', streams: [], createdAt: state.main.createdAt });
  assert.equal(typeof b.reason, 'string');
  assert.ok(b.reason.length > 0, 'a stopped broadcast says why');
  assert.equal(b.broadcastUrls.hlsStatus, 'ended');
  assert.deepEqual(b.broadcastUrls.rtmp.map((t) => [t.id, t.status]), [['one', 'ended'], ['two', 'ended']]);
  // The Broadcast object's own stop() for the manual one.
  const m = await ok(state.m.stop);
  checkBroadcast(m, { id: state.m.id, status: 'stopped', streamMode: 'manual' });
  assert.equal(m.broadcastUrls.hlsStatus, 'ended');
  // The ended playlist says so (the encoder finishes it once its inputs are closed).
  let playlist;
  for (const until = Date.now() + 10000; ;) {
    playlist = await (await fetch(state.main.broadcastUrls.hls)).text();
    if (playlist.includes('#EXT-X-ENDLIST') || Date.now() > until) break;
    await sleep(200);
  }
  assert.match(playlist, /#EXT-X-ENDLIST/, 'the HLS playlist of a stopped broadcast never ends (10 s after the stop)');
  rec.note = `200 (body {}): stopped with reason "${b.reason}", hlsStatus ended, both RTMP targets ended (also through Broadcast#stop()); the playlist gets #EXT-X-ENDLIST`;
});

compatTest({ method: 'stopBroadcast', operation: 'Stop a broadcast', feature: 'broadcasts', check: 'stop twice, unknown broadcast, stopped broadcast' }, async (rec) => {
  assert.ok(state.stoppedAt, 'the broadcast was not stopped');
  let mark = exchanges.length;
  let r = await run('stopBroadcast', state.main.id);
  const body = errorBody(exchange(mark, 'POST', `${P}/broadcast/${state.main.id}/stop`, 409), 409);
  assert.ok(r.err.message.startsWith('Failed to stop broadcast. '), errorText(r.err));
  assert.ok(carries(r.err, body.message), errorText(r.err));
  mark = exchanges.length;
  r = await run('stopBroadcast', UNKNOWN_BROADCAST);
  errorBody(exchange(mark, 'POST', `${P}/broadcast/${UNKNOWN_BROADCAST}/stop`, 404), 404);
  assert.equal(r.err.message, 'Failed to stop broadcast. Error: Not Found');
  // A stopped broadcast's layout and streams cannot change.
  mark = exchanges.length;
  r = await run('setBroadcastLayout', state.main.id, 'pip', null, null);
  errorBody(exchange(mark, 'PUT', `${P}/broadcast/${state.main.id}/layout`, 409), 409);
  assert.ok(r.err instanceof OpenTok.RequestError, errorText(r.err));
  mark = exchanges.length;
  r = await run('addBroadcastStream', state.m.id, state.a.streamId, {});
  errorBody(exchange(mark, 'PATCH', `${P}/broadcast/${state.m.id}/streams`, 409), 409);
  assert.ok(r.err instanceof OpenTok.RequestError, errorText(r.err));
  const got = await must('getBroadcast', state.main.id);
  checkBroadcast(got, { status: 'stopped', layout: { type: 'bestFit', screenshareType: 'verticalPresentation' } });
  rec.note = 'stopping a stopped broadcast: 409, Error carrying the server message; unknown broadcast: 404 "Failed to stop broadcast. Error: Not Found"; layout or streams of a stopped broadcast: 409 RequestError; getBroadcast still reads it (stopped)';
});

compatTest({ method: 'startBroadcast', operation: 'Start a broadcast', feature: 'broadcasts', check: 'RTMP output' }, async (rec) => {
  assert.ok(state.stoppedAt, 'the broadcast was not stopped');
  for (const rx of [state.rx1, state.rx2]) {
    // The receiver ends when the server closes the stream; stopped (SIGTERM) otherwise.
    if (!(await rx.waitExit(10000))) await rx.stop();
    const probe = ffprobe(rx.out);
    assert.deepEqual(avOf(probe), ['h264', 640, 480, 'aac'], `${rx.key}: ${JSON.stringify(probe.streams)}`);
    const d = Number(probe.format.duration);
    assert.ok(d >= 2, `${rx.key}: ${d} s received`);
  }
  rec.note = 'each RTMP receiver (ffmpeg -listen) got FLV with H.264 640x480 + AAC, at least 2 s of it';
}, { timeout: 40000 });

test('no broadcast call got a 5xx', () => {
  const bad = exchanges.filter((x) => x.status >= 500);
  assert.deepEqual(bad, [], describeExchanges(bad));
});
