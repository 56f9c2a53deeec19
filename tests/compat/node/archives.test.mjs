// Live compatibility: every archive call of the official Node SDK against a real Parlor
// server, with native publishers (`parlor client publish`, ffmpeg-made VP8/Opus) in the
// session and a subscriber that must be told when archives start and stop.
//
// One recording window of a few seconds serves three archives of the same session at once
// (each with its own multiArchiveTag): a composed one with every option (1280x720,
// bestFit + screenshareType, maxBitrate; its layout changed live to pip), an audio-only
// composed one, and an individual manual-mode one (streams added with and without video,
// one removed halfway). The outputs are downloaded from their signed URLs and checked with
// ffprobe (composed: H.264 + AAC at the requested size; individual: a ZIP of per-stream
// WebM files with the `<archiveId>.json` manifest). Then list (offset, count, sessionId),
// delete, and an archiveMode=always session. Results go to results/node-archives.json.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, sessionShow, forgeSessionId, API_KEY, API_SECRET } from './helpers.mjs';
import { makeMedia, subscriber, publisher, stopAllClients } from './live.mjs';
import { OpenTok, compatSuite, call, ok, errorText, exchanges, since, describeExchanges } from './sdk.mjs';
import { readZip, ffprobe, codecs, streamOf, decodesCleanly, greyFrame } from './archive_files.mjs';

const compatTest = compatSuite('archives');
const P = `/v2/project/${API_KEY}`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAX_BITRATE = 150000;
const UNKNOWN_ARCHIVE = '5a1e0a4c-0000-4000-8000-00000000a001';

let server;
let ot;
let media;
let work;

before(async () => {
  server = await startServer();
  ot = new OpenTok(API_KEY, API_SECRET, { apiUrl: server.baseUrl });
  media = makeMedia();
  work = mkdtempSync(path.join(tmpdir(), 'parlor-compat-archives-'));
});

after(async () => {
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
/** Sleeps until `ms` after `since` (Date.now() values). */
const sleepUntil = (since, ms) => sleep(Math.max(0, since + ms - Date.now()));

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

const ARCHIVE_FIELDS = ['id', 'status', 'name', 'reason', 'sessionId', 'projectId', 'partnerId', 'createdAt',
  'size', 'duration', 'outputMode', 'streamMode', 'hasAudio', 'hasVideo', 'resolution', 'url', 'sha256sum', 'streams'];

/** The SDK's Archive object: every field, of the documented type, with `want`'s values. */
function checkArchive(a, want) {
  assert.equal(typeof a.stop, 'function', 'not an SDK Archive object (no stop())');
  assert.equal(typeof a.delete, 'function', 'not an SDK Archive object (no delete())');
  for (const k of ARCHIVE_FIELDS) assert.ok(k in a, `the Archive has no ${k}: ${JSON.stringify(a)}`);
  assert.match(a.id, UUID);
  assert.equal(a.sessionId, state.sid);
  assert.equal(String(a.projectId), API_KEY);
  assert.equal(String(a.partnerId), API_KEY);
  assert.ok(Number.isInteger(a.createdAt) && Math.abs(a.createdAt - Date.now()) < 120000, `createdAt ${a.createdAt}`);
  assert.ok(Number.isInteger(a.size) && a.size >= 0, `size ${a.size}`);
  assert.ok(Number.isInteger(a.duration) && a.duration >= 0, `duration ${a.duration}`);
  assert.equal(typeof a.reason, 'string');
  assert.ok(Array.isArray(a.streams), `streams ${JSON.stringify(a.streams)}`);
  for (const [k, v] of Object.entries(want)) assert.deepEqual(a[k], v, `${k} of ${JSON.stringify(a)}`);
  if (a.status === 'available') {
    assert.equal(typeof a.url, 'string');
    assert.match(a.sha256sum, /^[0-9a-f]{64}$/);
    assert.ok(a.size > 0);
  } else {
    assert.equal(a.url, null, `url while ${a.status}`);
  }
}

/** Polls getArchive until the archive leaves started/paused/stopped. */
async function waitDone(id, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const a = await must('getArchive', id);
    if (!['started', 'paused', 'stopped'].includes(a.status)) return a;
    if (Date.now() > deadline) throw new Error(`archive ${id} still ${a.status} after ${timeoutMs} ms`);
    await sleep(200);
  }
}

/** Downloads a URL (not through the SDK) to `work/name`; returns {file, bytes}. */
async function download(url, name) {
  const res = await fetch(url);
  assert.equal(res.status, 200, `GET ${url}`);
  const bytes = Buffer.from(await res.arrayBuffer());
  const file = path.join(work, name);
  writeFileSync(file, bytes);
  return { file, bytes, contentType: res.headers.get('content-type') };
}

/** Shared by the tests, in the order they run. */
const state = {};

// ---------------------------------------------------------------------------------------
// Start: three archives of one session at once, each with its own multiArchiveTag.

async function liveSession() {
  if (state.sid) return;
  state.sid = (await must('createSession', { mediaMode: 'routed' })).sessionId;
  state.watcher = await subscriber(server, ot.generateToken(state.sid, { role: 'subscriber' }), 'watcher');
  state.a = await publisher(server, ot.generateToken(state.sid), media, { name: 'cam-a', label: 'publisher A' });
  state.b = await publisher(server, ot.generateToken(state.sid), media, { name: 'cam-b', label: 'publisher B' });
  await state.watcher.waitEvent('streamCreated', (e) => e.stream.streamId === state.b.streamId);
}

const archiveStarted = (id) => state.watcher.waitEvent('archiveStarted', (e) => e.id === id);

compatTest({ method: 'startArchive', operation: 'Start an archive', feature: 'archiving', check: 'composed, every option' }, async (rec) => {
  await liveSession();
  const options = {
    name: 'composed ✓', hasAudio: true, hasVideo: true, outputMode: 'composed', resolution: '1280x720',
    layout: { type: 'bestFit', screenshareType: 'pip' }, streamMode: 'auto', multiArchiveTag: 'composed', maxBitrate: MAX_BITRATE,
  };
  const mark = exchanges.length;
  const k = await must('startArchive', state.sid, options);
  state.kStarted = Date.now();
  const x = exchange(mark, 'POST', `${P}/archive`, 200);
  assert.deepEqual(JSON.parse(x.requestBody), { sessionId: state.sid, ...options });
  checkArchive(k, {
    status: 'started', name: options.name, outputMode: 'composed', streamMode: 'auto', hasAudio: true, hasVideo: true,
    resolution: '1280x720', size: 0, duration: 0, reason: '', url: null, sha256sum: null,
  });
  assert.deepEqual(k.layout, options.layout);
  assert.equal(k.multiArchiveTag, 'composed');
  assert.equal(k.maxBitrate, MAX_BITRATE);
  // Auto mode: the two published streams are in it.
  assert.deepEqual(k.streams.map((s) => s.streamId).sort(), [state.a.streamId, state.b.streamId].sort());
  const ev = await archiveStarted(k.id);
  assert.equal(ev.name, options.name);
  state.k = k;
  rec.note = 'every option (name, hasAudio, hasVideo, outputMode composed, resolution 1280x720, layout bestFit + screenshareType, streamMode auto, multiArchiveTag, maxBitrate) sent and read back on the Archive; a subscriber printed archiveStarted with the name';
});

compatTest({ method: 'startArchive', operation: 'Start an archive', feature: 'archiving', check: 'audio only, a second tagged archive' }, async (rec) => {
  await liveSession();
  const l = await must('startArchive', state.sid, { hasVideo: false, multiArchiveTag: 'audio' });
  state.lStarted = Date.now();
  checkArchive(l, { status: 'started', name: null, outputMode: 'composed', streamMode: 'auto', hasAudio: true, hasVideo: false, resolution: '640x480' });
  assert.ok(l.streams.every((s) => s.hasVideo === false), JSON.stringify(l.streams));
  await archiveStarted(l.id);
  state.l = l;
  rec.note = 'hasVideo false with another multiArchiveTag while the first archive runs: started, default name null and resolution 640x480';
});

compatTest({ method: 'startArchive', operation: 'Start an archive', feature: 'archiving', check: 'individual, streamMode manual' }, async (rec) => {
  await liveSession();
  const options = { name: 'individual', outputMode: 'individual', streamMode: 'manual', multiArchiveTag: 'individual' };
  const m = await must('startArchive', state.sid, options);
  state.mStarted = Date.now();
  checkArchive(m, { status: 'started', name: 'individual', outputMode: 'individual', streamMode: 'manual', hasAudio: true, hasVideo: true, streams: [] });
  assert.ok(m.resolution == null, `an individual archive has no resolution: ${m.resolution}`);
  await archiveStarted(m.id);
  state.m = m;
  rec.note = 'outputMode individual, streamMode manual: started with no streams';
});

compatTest({ method: 'startArchive', operation: 'Start an archive', feature: 'archiving', check: '409 without a tag' }, async (rec) => {
  assert.ok(state.k, 'no archive running');
  const mark = exchanges.length;
  const r = await run('startArchive', state.sid, { name: 'one too many' });
  const body = errorBody(exchange(mark, 'POST', `${P}/archive`, 409), 409);
  assert.ok(r.err, 'a second archive without multiArchiveTag was accepted');
  // The SDK calls back (RequestError carrying the server's message, ArchiveError).
  assert.ok(r.err instanceof OpenTok.RequestError, errorText(r.err));
  assert.ok(r.err.message.includes(JSON.stringify(body.message).slice(1, -1)), errorText(r.err));
  assert.ok(r.value instanceof OpenTok.ArchiveError, `second callback argument: ${errorText(r.value)}`);
  rec.note = `a session already archived, no multiArchiveTag: 409; the SDK's error: ${errorText(r.err).slice(0, 60)}…, then ${errorText(r.value)}`;
});

compatTest({ method: 'startArchive', operation: 'Start an archive', feature: 'archiving', check: 'bad input' }, async (rec) => {
  await liveSession();
  let mark = exchanges.length;
  let r = await run('startArchive', state.sid, { resolution: '800x600', multiArchiveTag: 'bad' });
  errorBody(exchange(mark, 'POST', `${P}/archive`, 400), 400);
  assert.ok(r.err instanceof OpenTok.RequestError, errorText(r.err));
  assert.match(r.err.message, /resolution must be one of/);
  mark = exchanges.length;
  r = await run('startArchive', state.sid, { outputMode: 'individual', layout: { type: 'pip' }, multiArchiveTag: 'bad' });
  errorBody(exchange(mark, 'POST', `${P}/archive`, 400), 400);
  assert.match(r.err.message, /only to composed/);
  mark = exchanges.length;
  r = await run('startArchive', state.sid, { maxBitrate: 5, multiArchiveTag: 'bad' });
  errorBody(exchange(mark, 'POST', `${P}/archive`, 400), 400);
  assert.match(r.err.message, /maxBitrate/);
  mark = exchanges.length;
  r = await run('startArchive', forgeSessionId(state.sid), {});
  errorBody(exchange(mark, 'POST', `${P}/archive`, 404), 404);
  assert.ok(r.err instanceof OpenTok.ArchiveError, errorText(r.err));
  assert.equal(r.err.message, 'Session not found');
  rec.note = 'resolution 800x600, a layout on an individual archive, maxBitrate 5: 400 RequestError with the server message; unknown session: 404, ArchiveError "Session not found"';
});

// ---------------------------------------------------------------------------------------
// While recording: manual streams, a live layout change.

compatTest({ method: 'addArchiveStream', operation: 'Add a stream to an archive', feature: 'archiving' }, async (rec) => {
  assert.ok(state.m && state.k, 'the archives did not start');
  let mark = exchanges.length;
  await must('addArchiveStream', state.m.id, state.a.streamId, { hasAudio: true, hasVideo: true });
  let x = exchange(mark, 'PATCH', `${P}/archive/${state.m.id}/streams`, 204);
  assert.deepEqual(JSON.parse(x.requestBody), { hasAudio: true, hasVideo: true, addStream: state.a.streamId });
  state.aAdded = Date.now();
  mark = exchanges.length;
  await must('addArchiveStream', state.m.id, state.b.streamId, { hasVideo: false });
  x = exchange(mark, 'PATCH', `${P}/archive/${state.m.id}/streams`, 204);
  assert.deepEqual(JSON.parse(x.requestBody), { hasAudio: true, hasVideo: false, addStream: state.b.streamId });
  state.bAdded = Date.now();
  const m = await must('getArchive', state.m.id);
  assert.deepEqual(
    [...m.streams].sort((p, q) => p.streamId.localeCompare(q.streamId)),
    [{ streamId: state.a.streamId, hasAudio: true, hasVideo: true }, { streamId: state.b.streamId, hasAudio: true, hasVideo: false }]
      .sort((p, q) => p.streamId.localeCompare(q.streamId)),
  );
  rec.note = 'manual archive: 204 for a stream with audio and video and one with hasVideo false; getArchive lists both with those flags';
});

compatTest({ method: 'addArchiveStream', operation: 'Add a stream to an archive', feature: 'archiving', check: 'auto archive, unknown stream' }, async (rec) => {
  assert.ok(state.k, 'the archives did not start');
  let mark = exchanges.length;
  let r = await run('addArchiveStream', state.k.id, state.a.streamId, {});
  errorBody(exchange(mark, 'PATCH', `${P}/archive/${state.k.id}/streams`, 405), 405);
  assert.ok(r.err instanceof OpenTok.ArchiveError, errorText(r.err));
  assert.equal(r.err.message, 'Unsupported Stream Mode');
  mark = exchanges.length;
  r = await run('addArchiveStream', state.m.id, UNKNOWN_ARCHIVE, {});
  errorBody(exchange(mark, 'PATCH', `${P}/archive/${state.m.id}/streams`, 404), 404);
  assert.ok(r.err instanceof OpenTok.ArchiveError, errorText(r.err));
  rec.note = 'on an auto archive: 405, ArchiveError "Unsupported Stream Mode"; a stream not in the session: 404, ArchiveError';
});

compatTest({ method: 'setArchiveLayout', operation: 'Set an archive\'s layout', feature: 'archiving' }, async (rec) => {
  assert.ok(state.k, 'the archive did not start');
  await sleepUntil(state.kStarted, 2000);
  const mark = exchanges.length;
  const r = await run('setArchiveLayout', state.k.id, 'pip', null, null);
  state.layoutAt = Date.now();
  assert.ifError(r.err);
  const x = exchange(mark, 'PUT', `${P}/archive/${state.k.id}/layout`, 200);
  assert.deepEqual(JSON.parse(x.requestBody), { type: 'pip' });
  const k = await must('getArchive', state.k.id);
  assert.deepEqual(k.layout, { type: 'pip' });
  assert.equal(k.status, 'started');
  rec.note = '200 on a started composed archive; getArchive reads the new layout back (its effect on the file: see below)';
});

compatTest({ method: 'setArchiveLayout', operation: 'Set an archive\'s layout', feature: 'archiving', check: 'bad input' }, async (rec) => {
  assert.ok(state.m, 'the archive did not start');
  let mark = exchanges.length;
  let r = await run('setArchiveLayout', state.m.id, 'pip', null, null);
  errorBody(exchange(mark, 'PUT', `${P}/archive/${state.m.id}/layout`, 400), 400);
  assert.ok(r.err instanceof OpenTok.RequestError, errorText(r.err));
  mark = exchanges.length;
  r = await run('setArchiveLayout', state.k.id, 'custom', null, null);
  errorBody(exchange(mark, 'PUT', `${P}/archive/${state.k.id}/layout`, 400), 400);
  assert.ok(r.err instanceof OpenTok.RequestError, errorText(r.err));
  mark = exchanges.length;
  r = await run('setArchiveLayout', UNKNOWN_ARCHIVE, 'pip', null, null);
  errorBody(exchange(mark, 'PUT', `${P}/archive/${UNKNOWN_ARCHIVE}/layout`, 404), 404);
  assert.ok(r.err instanceof OpenTok.NotFoundError, errorText(r.err));
  rec.note = 'an individual archive, custom without a stylesheet: 400 RequestError; unknown archive: 404 NotFoundError';
});

compatTest({ method: 'removeArchiveStream', operation: 'Remove a stream from an archive', feature: 'archiving' }, async (rec) => {
  assert.ok(state.bAdded, 'the stream was not added');
  await sleepUntil(state.bAdded, 1500);
  const mark = exchanges.length;
  await must('removeArchiveStream', state.m.id, state.b.streamId);
  state.bRemoved = Date.now();
  const x = exchange(mark, 'PATCH', `${P}/archive/${state.m.id}/streams`, 204);
  assert.deepEqual(JSON.parse(x.requestBody), { removeStream: state.b.streamId });
  const m = await must('getArchive', state.m.id);
  assert.deepEqual(m.streams, [{ streamId: state.a.streamId, hasAudio: true, hasVideo: true }]);
  const r = await run('removeArchiveStream', state.k.id, state.a.streamId);
  assert.ok(r.err instanceof OpenTok.ArchiveError, errorText(r.err));
  assert.equal(r.err.message, 'Unsupported Stream Mode');
  rec.note = '204; getArchive lists only the stream left; on an auto archive: 405, ArchiveError "Unsupported Stream Mode"';
});

// ---------------------------------------------------------------------------------------
// Stop, then wait for the outputs.

compatTest({ method: 'stopArchive', operation: 'Stop an archive', feature: 'archiving' }, async (rec) => {
  assert.ok(state.k && state.l && state.m, 'the archives did not start');
  await sleepUntil(state.layoutAt || state.kStarted, 2000);
  const watcherFrom = state.watcher.events.length;
  const mark = exchanges.length;
  const k = await must('stopArchive', state.k.id);
  state.kStopped = Date.now();
  const x = exchange(mark, 'POST', `${P}/archive/${state.k.id}/stop`, 200);
  assert.equal(x.requestBody, '{}');
  checkArchive(k, { id: state.k.id, status: 'stopped', reason: 'user initiated', url: null, name: state.k.name });
  assert.ok(k.duration >= 3, `duration under 3 s\n${k.duration}`);
  // The Archive object's own stop() for the other two.
  for (const which of ['l', 'm']) {
    const stopped = await ok(state[which].stop);
    state[`${which}Stopped`] = Date.now();
    checkArchive(stopped, { id: state[which].id, status: 'stopped', reason: 'user initiated' });
  }
  for (const id of [state.k.id, state.l.id, state.m.id]) {
    await state.watcher.waitEvent('archiveStopped', (e) => e.id === id, { from: watcherFrom });
  }
  rec.note = 'stopped with reason "user initiated" and a duration (also through Archive#stop()); the subscriber printed archiveStopped for each';
});

compatTest({ method: 'stopArchive', operation: 'Stop an archive', feature: 'archiving', check: 'stop twice, unknown archive' }, async (rec) => {
  assert.ok(state.kStopped, 'the archive was not stopped');
  let mark = exchanges.length;
  let r = await run('stopArchive', state.k.id);
  const body = errorBody(exchange(mark, 'POST', `${P}/archive/${state.k.id}/stop`, 409), 409);
  assert.ok(r.err instanceof OpenTok.ArchiveError, errorText(r.err));
  assert.equal(r.err.message, body.message);
  mark = exchanges.length;
  r = await run('stopArchive', UNKNOWN_ARCHIVE);
  errorBody(exchange(mark, 'POST', `${P}/archive/${UNKNOWN_ARCHIVE}/stop`, 404), 404);
  assert.ok(r.err instanceof OpenTok.ArchiveError, errorText(r.err));
  assert.equal(r.err.message, 'Archive not found');
  rec.note = 'stopping a stopped archive: 409, ArchiveError with the server message; unknown archive: 404, ArchiveError "Archive not found"';
});

compatTest({ method: 'getArchive', operation: 'Get an archive', feature: 'archiving' }, async (rec) => {
  assert.ok(state.mStopped, 'the archives were not stopped');
  const mark = exchanges.length;
  state.kDone = await waitDone(state.k.id);
  state.lDone = await waitDone(state.l.id);
  state.mDone = await waitDone(state.m.id);
  const x = exchanges.slice(mark).find((e) => e.path === `${P}/archive/${state.k.id}`);
  assert.equal(x.method, 'GET');
  checkArchive(state.kDone, { id: state.k.id, status: 'available', outputMode: 'composed', resolution: '1280x720', name: state.k.name, layout: { type: 'pip' } });
  checkArchive(state.lDone, { id: state.l.id, status: 'available', hasVideo: false });
  checkArchive(state.mDone, { id: state.m.id, status: 'available', outputMode: 'individual', streamMode: 'manual' });
  for (const a of [state.kDone, state.lDone, state.mDone]) {
    // The URL is Parlor's own signed download URL.
    assert.ok(a.url.startsWith(`${server.baseUrl}/`), a.url);
  }
  state.kFile = await download(state.kDone.url, 'k.mp4');
  state.lFile = await download(state.lDone.url, 'l.mp4');
  state.mFile = await download(state.mDone.url, 'm.zip');
  for (const [a, f, type] of [[state.kDone, state.kFile, 'video/mp4'], [state.lDone, state.lFile, 'video/mp4'], [state.mDone, state.mFile, 'application/zip']]) {
    assert.equal(f.bytes.length, a.size, `size of ${a.id}`);
    assert.equal(createHash('sha256').update(f.bytes).digest('hex'), a.sha256sum, `sha256sum of ${a.id}`);
    assert.equal(f.contentType, type);
  }
  // A tampered URL is refused.
  const tampered = state.kDone.url.replace(/sig=([0-9a-f])/, (_, c) => `sig=${c === '0' ? '1' : '0'}`);
  assert.equal((await fetch(tampered)).status, 403);
  const r = await run('getArchive', UNKNOWN_ARCHIVE);
  assert.ok(r.err instanceof OpenTok.NotFoundError, errorText(r.err));
  assert.equal(r.err.message, 'Archive not found');
  rec.note = `polled to "available" for all three; every Archive field present and typed; the url downloads a file of the given size and sha256sum; a tampered URL: 403; unknown archive: NotFoundError "Archive not found"`;
}, { timeout: 90000 });

// ---------------------------------------------------------------------------------------
// The files.

compatTest({ method: 'startArchive', operation: 'Start an archive', feature: 'archiving', check: 'composed output' }, async (rec) => {
  assert.ok(state.kFile, 'not downloaded');
  const probe = ffprobe(state.kFile.file);
  assert.deepEqual(codecs(probe), ['aac', 'h264'], JSON.stringify(probe.streams));
  const v = streamOf(probe, 'video');
  assert.deepEqual([v.width, v.height], [1280, 720]);
  assert.equal(streamOf(probe, 'audio').sample_rate, '48000');
  const d = Number(probe.format.duration);
  const wall = (state.kStopped - state.kStarted) / 1000;
  assert.ok(Math.abs(d - wall) < 1.0, `the file is not as long as the time recorded (±1 s)\nfile ${d} s, recorded for ${wall} s`);
  decodesCleanly(state.kFile.file);
  const lProbe = ffprobe(state.lFile.file);
  assert.deepEqual(codecs(lProbe), ['aac'], `hasVideo false: ${JSON.stringify(lProbe.streams)}`);
  rec.note = 'composed: H.264 1280x720 + AAC 48 kHz, as long as the time recorded (±1 s), decodes cleanly; hasVideo false: AAC only';
});

compatTest({ method: 'startArchive', operation: 'Start an archive', feature: 'archiving', check: 'maxBitrate' }, async (rec) => {
  assert.ok(state.kFile, 'not downloaded');
  const v = streamOf(ffprobe(state.kFile.file), 'video');
  const rate = Number(v.bit_rate);
  assert.ok(rate > 0, `no video bit rate: ${JSON.stringify(v)}`);
  assert.ok(rate <= MAX_BITRATE * 1.25, `maxBitrate ${MAX_BITRATE} was accepted and echoed, but the composed video's bit rate is over 1.25 times that\n${rate} bit/s`);
  rec.note = `maxBitrate ${MAX_BITRATE}: the composed video's bit rate is at most 1.25 times that`;
});

compatTest({ method: 'setArchiveLayout', operation: 'Set an archive\'s layout', feature: 'archiving', check: 'the change in the file' }, async (rec) => {
  assert.ok(state.kFile && state.layoutAt, 'not downloaded');
  // bestFit with two 4:3 streams side by side in 1280x720 leaves the top of the middle
  // black; pip fills it with the first stream.
  const at = (state.layoutAt - state.kDone.createdAt) / 1000;
  const topMiddle = (t) => greyFrame(state.kFile.file, t).mean(0.3, 0, 0.7, 0.15);
  const before = topMiddle(Math.max(0.5, at - 0.8));
  const afterChange = topMiddle(at + 1.0);
  assert.ok(before < 20, `the file shows the new layout (pip) before it was set: the whole archive has the last layout\nchange at ${at.toFixed(1)} s; the top middle before it is not black (${before.toFixed(0)})`);
  assert.ok(afterChange > 50, `the file does not show the new layout (pip) after it was set\nchange at ${at.toFixed(1)} s; the top middle after it is black (${afterChange.toFixed(0)})`);
  rec.note = 'the file shows bestFit (two tiles) before the change and pip after it';
});

compatTest({ method: 'startArchive', operation: 'Start an archive', feature: 'archiving', check: 'individual output' }, async (rec) => {
  assert.ok(state.mFile, 'not downloaded');
  const entries = readZip(state.mFile.bytes);
  const names = entries.map((e) => e.name);
  const manifestEntry = entries.find((e) => e.name === `${state.m.id}.json`);
  assert.ok(manifestEntry, `no ${state.m.id}.json in ${names}`);
  const manifest = JSON.parse(manifestEntry.data.toString('utf8'));
  assert.equal(manifest.id, state.m.id);
  assert.equal(manifest.sessionId, state.sid);
  assert.equal(manifest.name, 'individual');
  assert.equal(String(manifest.partnerId), API_KEY);
  assert.ok(Number.isInteger(manifest.createdAt), JSON.stringify(manifest));
  const byStream = {};
  for (const f of manifest.files) {
    const entry = entries.find((e) => e.name === f.filename);
    assert.ok(entry, `${f.filename} is in the manifest but not in the ZIP (${names})`);
    assert.equal(entry.size, f.size, `size of ${f.filename}`);
    assert.match(f.filename, /\.webm$/);
    const file = path.join(work, path.basename(f.filename));
    writeFileSync(file, entry.data);
    decodesCleanly(file);
    byStream[f.streamId] = { ...f, probe: ffprobe(file) };
  }
  assert.deepEqual(Object.keys(byStream).sort(), [state.a.streamId, state.b.streamId].sort(), JSON.stringify(manifest.files));
  state.byStream = byStream;
  rec.note = `a ZIP of ${names.length} entries: <archiveId>.json (id, sessionId, name, partnerId, createdAt, files) and one .webm per stream, each decoding cleanly`;
});

compatTest({ method: 'addArchiveStream', operation: 'Add a stream to an archive', feature: 'archiving', check: 'the files' }, async (rec) => {
  assert.ok(state.byStream, 'no files');
  const a = state.byStream[state.a.streamId];
  const b = state.byStream[state.b.streamId];
  assert.deepEqual(codecs(a.probe), ['opus', 'vp8']);
  assert.deepEqual(codecs(b.probe), ['opus'], 'added with hasVideo false');
  const aWall = (state.mStopped - state.aAdded) / 1000;
  const aDur = Number(a.probe.format.duration);
  assert.ok(Math.abs(aDur - aWall) < 1.0, `the file of the stream added first is not as long as the time it was in the archive (±1 s)\n${aDur} s in the file, in the archive for ${aWall} s`);
  rec.note = 'the stream added with audio and video: VP8 + Opus for the time it was in (±1 s); the one added with hasVideo false: Opus only';
});

compatTest({ method: 'removeArchiveStream', operation: 'Remove a stream from an archive', feature: 'archiving', check: 'the files' }, async (rec) => {
  assert.ok(state.byStream, 'no files');
  const b = state.byStream[state.b.streamId];
  const bWall = (state.bRemoved - state.bAdded) / 1000;
  const bDur = Number(b.probe.format.duration);
  assert.ok(Math.abs(bDur - bWall) < 1.0, `the removed stream's file does not end when it was removed (±1 s)\n${bDur} s in the file, in the archive for ${bWall} s`);
  assert.ok(b.stopTimeOffset - b.startTimeOffset < (state.mStopped - state.mStarted) - 1000, `the manifest's offsets of the removed stream span the whole archive\n${b.startTimeOffset}..${b.stopTimeOffset}`);
  rec.note = 'the removed stream\'s file and its manifest offsets end when it was removed (±1 s)';
});

// ---------------------------------------------------------------------------------------
// List and delete.

compatTest({ method: 'listArchives', operation: 'List archives', feature: 'archiving' }, async (rec) => {
  assert.ok(state.mDone, 'no archives');
  // A second session with no archive, so the sessionId filter has something to leave out.
  const newest = [state.m.id, state.l.id, state.k.id]; // started in the order k, l, m
  let mark = exchanges.length;
  const all = await new Promise((resolve, reject) => {
    ot.listArchives({ sessionId: state.sid }, (e, items, count) => (e ? reject(e) : resolve({ items, count })));
  });
  let x = exchange(mark, 'GET', `${P}/archive`, 200);
  assert.equal(new URLSearchParams(x.query).get('sessionId'), state.sid);
  assert.equal(all.count, 3);
  assert.deepEqual(all.items.map((a) => a.id), newest, 'newest first');
  for (const a of all.items) checkArchive(a, { status: 'available' });
  mark = exchanges.length;
  const page = await new Promise((resolve, reject) => {
    ot.listArchives({ offset: 1, count: 1, sessionId: state.sid }, (e, items, count) => (e ? reject(e) : resolve({ items, count })));
  });
  x = exchange(mark, 'GET', `${P}/archive`, 200);
  assert.deepEqual(Object.fromEntries(new URLSearchParams(x.query)), { offset: '1', count: '1', sessionId: state.sid });
  assert.equal(page.count, 3, 'count is the total, not the page');
  assert.deepEqual(page.items.map((a) => a.id), [state.l.id]);
  const other = (await must('createSession', { mediaMode: 'routed' })).sessionId;
  const none = await new Promise((resolve, reject) => {
    ot.listArchives({ sessionId: other }, (e, items, count) => (e ? reject(e) : resolve({ items, count })));
  });
  assert.deepEqual([none.items, none.count], [[], 0]);
  const everything = await new Promise((resolve, reject) => {
    ot.listArchives((e, items, count) => (e ? reject(e) : resolve({ items, count })));
  });
  assert.ok(everything.count >= 3 && newest.every((id) => everything.items.some((a) => a.id === id)));
  rec.note = 'sessionId: the three archives, newest first, as Archive objects, count 3; offset 1 count 1: the middle one, count still 3; another session: none; no options: every archive';
});

compatTest({ method: 'deleteArchive', operation: 'Delete an archive', feature: 'archiving' }, async (rec) => {
  assert.ok(state.lDone, 'no archive');
  const mark = exchanges.length;
  await must('deleteArchive', state.l.id);
  exchange(mark, 'DELETE', `${P}/archive/${state.l.id}`, 204);
  const r = await run('getArchive', state.l.id);
  assert.ok(r.err instanceof OpenTok.NotFoundError, errorText(r.err));
  assert.notEqual((await fetch(state.lDone.url)).status, 200, 'the deleted archive still downloads');
  const list = await new Promise((resolve, reject) => {
    ot.listArchives({ sessionId: state.sid }, (e, items, count) => (e ? reject(e) : resolve({ items, count })));
  });
  assert.deepEqual(list.items.map((a) => a.id), [state.m.id, state.k.id]);
  assert.equal(list.count, 2);
  // The Archive object's own delete().
  await ok(state.mDone.delete);
  assert.ok((await run('getArchive', state.m.id)).err instanceof OpenTok.NotFoundError);
  const again = await run('deleteArchive', state.l.id);
  assert.ok(again.err instanceof OpenTok.ArchiveError, errorText(again.err));
  assert.equal(again.err.message, 'Archive not found');
  rec.note = '204; then getArchive: NotFoundError, the URL no longer downloads, gone from the list (also through Archive#delete()); deleting again: 404, ArchiveError "Archive not found"';
});

// ---------------------------------------------------------------------------------------
// archiveMode=always.

compatTest({ method: 'createSession', operation: 'Archive a session automatically (archiveMode always)', feature: 'archiving' }, async (rec) => {
  const mark = exchanges.length;
  const opts = { mediaMode: 'routed', archiveMode: 'always', archiveName: 'automatic', archiveResolution: '480x640' };
  const session = await must('createSession', opts);
  const x = exchange(mark, 'POST', '/session/create', 200);
  assert.match(x.requestBody, /archiveMode=always/);
  assert.equal(session.archiveMode, 'always');
  const shown = sessionShow(server, session.sessionId);
  assert.equal(shown.status, 0, shown.stderr);
  assert.equal(shown.json.archiveMode, 'always', shown.stdout);
  const sid = session.sessionId;
  state.alwaysSid = sid;
  const listOf = () => new Promise((resolve, reject) => {
    ot.listArchives({ sessionId: sid }, (e, items, count) => (e ? reject(e) : resolve({ items, count })));
  });
  const watcher = await subscriber(server, ot.generateToken(sid, { role: 'subscriber' }), 'always watcher');
  assert.equal((await listOf()).count, 0, 'an archive started before anyone published');
  const pub = await publisher(server, ot.generateToken(sid), media, { name: 'auto' });
  const ev = await watcher.waitEvent('archiveStarted');
  const { items } = await listOf();
  assert.equal(items.length, 1, JSON.stringify(items));
  const [a] = items;
  assert.equal(a.id, ev.id);
  assert.equal(a.sessionId, sid);
  assert.equal(a.status, 'started');
  assert.equal(a.outputMode, 'composed');
  assert.equal(a.name, 'automatic', 'the session\'s archiveName');
  assert.equal(ev.name, 'automatic');
  assert.equal(a.resolution, '480x640', 'the session\'s archiveResolution');
  assert.deepEqual(a.streams.map((s) => s.streamId), [pub.streamId]);
  // It stops by itself when the session ends, not through the API.
  const stop = await run('stopArchive', a.id);
  assert.ok(stop.err instanceof OpenTok.ArchiveError, errorText(stop.err));
  assert.equal(since(mark).at(-1).status, 409);
  state.alwaysArchive = a;
  rec.note = 'createSession archiveMode always (with archiveName and archiveResolution): stored as always; nothing recorded until a client publishes, then a composed archive of the stream starts by itself with that name and resolution, and the subscriber prints archiveStarted; stopArchive on it: 409 ArchiveError';
});

compatTest({ method: 'startArchive', operation: 'Archive a session automatically (archiveMode always)', feature: 'archiving', check: 'a tagged archive beside the automatic one' }, async (rec) => {
  assert.ok(state.alwaysArchive, 'no automatic archive');
  // The SDK's docs for multiArchiveTag: "You must also set this option when manually
  // starting an archive that is automatically archived."
  const mark = exchanges.length;
  const r = await run('startArchive', state.alwaysSid, { multiArchiveTag: 'manual-beside-auto' });
  const xs = since(mark);
  assert.equal(xs.length, 1, describeExchanges(xs));
  assert.equal(`${xs[0].method} ${xs[0].path}`, `POST ${P}/archive`);
  if (r.err) {
    const said = xs[0].responseBody.replace(/[0-9a-f]{8}-[0-9a-f-]{27}|[12]_[A-Za-z0-9_-]{40,}/g, '<id>');
    assert.fail(`a manual archive with a multiArchiveTag in an archiveMode=always session was refused: ${xs[0].status} ${said}`);
  }
  assert.equal(r.value.status, 'started');
  await must('stopArchive', r.value.id);
  rec.note = 'a manual archive with a multiArchiveTag starts beside the automatic one, and stops';
});

compatTest({ method: 'deleteArchive', operation: 'Delete an archive', feature: 'archiving', check: 'a started archive' }, async (rec) => {
  assert.ok(state.alwaysArchive, 'no started archive');
  const mark = exchanges.length;
  const r = await run('deleteArchive', state.alwaysArchive.id);
  errorBody(exchange(mark, 'DELETE', `${P}/archive/${state.alwaysArchive.id}`, 409), 409);
  assert.ok(r.err instanceof OpenTok.RequestError, errorText(r.err));
  assert.equal((await must('getArchive', state.alwaysArchive.id)).status, 'started');
  rec.note = 'a started archive: 409 RequestError carrying the server message, and it keeps recording';
});

compatTest({ method: 'getArchive', operation: 'Get an archive', feature: 'archiving', check: 'paused while nobody publishes' }, async (rec) => {
  const sid = (await must('createSession', { mediaMode: 'routed' })).sessionId;
  const watcher = await subscriber(server, ot.generateToken(sid, { role: 'subscriber' }), 'paused watcher');
  const statusIs = async (want) => {
    for (let i = 0; ; i++) {
      const a = await must('getArchive', state.paused.id);
      if (a.status === want) return a;
      assert.ok(i < 100, `archive still ${a.status}, not ${want}, after 10 s`);
      await sleep(100);
    }
  };
  // The SDK accepts only 'started' in startArchive's answer; the archive is paused next.
  state.paused = await must('startArchive', sid, { outputMode: 'individual' });
  assert.equal(state.paused.status, 'started');
  await watcher.waitEvent('archiveStarted', (e) => e.id === state.paused.id);
  await statusIs('paused');
  const pub = await publisher(server, ot.generateToken(sid), media, { name: 'late' });
  await statusIs('started');
  await pub.stop();
  const paused = await statusIs('paused');
  assert.equal(paused.url, null);
  const stopped = await must('stopArchive', state.paused.id);
  assert.equal(stopped.status, 'stopped');
  const done = await waitDone(state.paused.id);
  assert.equal(done.status, 'available', done.reason);
  rec.note = 'startArchive while nobody publishes answers started (the SDK takes nothing else), then getArchive reads paused; started while a client publishes, paused again when it leaves; stopArchive stops a paused archive, which becomes available';
});

test('no archive call got a 5xx', () => {
  const bad = exchanges.filter((x) => x.status >= 500);
  assert.deepEqual(bad, [], describeExchanges(bad));
});
