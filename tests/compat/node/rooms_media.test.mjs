// Live compatibility: the official `telnyx` Node SDK (7.24) driving Parlor's Rooms recordings,
// compositions and webhooks (`/v2`, docs/rooms.md). A room with enable_recording and a
// webhook_event_url (a receiver in this test) gets three native publishers
// (`parlor client publish --session ROOM_ID --token JOIN_TOKEN`), two with audio and video and
// one with video only, for a few seconds; `rooms.sessions.actions.end` ends the session.
// Then: roomRecordings.list (filters, auto-pagination), retrieve, the download_url (ffprobe;
// a tampered signature 403), roomCompositions.create / retrieve (polled to completed) / list
// / delete with the MP4 checked by ffprobe, the 422 / 404 cases, roomRecordings.delete and
// deleteBulk; and every webhook received, verified with the SDK's `webhooks.unwrap` and the
// key from `GET /v2/parlor/webhook_public_key`. Every wait polls (the only sleep is the few
// seconds of recording). Results: results/telnyx-node-rooms-media.json (compatTest).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer } from './helpers.mjs';
import { makeMedia } from './live.mjs';
import {
  Telnyx, telnyxClient, credential, exchanges, oneExchange, assertNoServerErrors, expectApiError, E,
  uniqueName, randomUuid, UUID_RE, isoTime, utcDate, collect, poll, joinSubscriber, joinPublisher,
  stopAllRoomClients, compatSuite, need,
} from './telnyx_sdk.mjs';

const compatTest = compatSuite('rooms-media');
const RECORDINGS = 'recordings';
const COMPOSITIONS = 'compositions';
const WEBHOOKS = 'webhooks';

let server;
let tx;
let media;
let receiver;
let hookBase;
let tmp;
/** Every webhook request received: {path, headers, body (the raw text)}. */
const hooks = [];

before(async () => {
  server = await startServer();
  tx = telnyxClient(server);
  media = makeMedia();
  tmp = mkdtempSync(path.join(tmpdir(), 'parlor-compat-rooms-media-'));
  receiver = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      hooks.push({ path: req.url, headers: { ...req.headers }, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
    });
  });
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  hookBase = `http://127.0.0.1:${receiver.address().port}`;
});

after(async () => {
  await stopAllRoomClients();
  if (media) media.remove();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  if (receiver) await new Promise((resolve) => receiver.close(resolve));
  if (!server) return;
  const { code, signal } = await server.stop();
  assert.equal(signal, null, `parlor serve did not exit after SIGTERM\n${server.stderr}`);
  assert.equal(code, 0, `parlor serve exited with ${code}\n${server.stderr}`);
});

// --- helpers --------------------------------------------------------------------------------

const joinToken = async (roomId) => (await tx.rooms.actions.generateJoinClientToken(roomId, {})).data.token;
const activeSessionOf = (roomId) => poll(`room ${roomId} to get an active session`,
  async () => (await tx.rooms.retrieve(roomId)).data.active_session_id);
const recordingsOf = (filter, extra = {}) => collect(tx.roomRecordings.list({ filter, ...extra }));
const ids = (xs) => xs.map((x) => x.id).sort();

/** GET `url` with no credentials → {status, contentType, bytes}. */
async function download(url) {
  const res = await fetch(url);
  return { status: res.status, contentType: res.headers.get('content-type'), bytes: Buffer.from(await res.arrayBuffer()) };
}

/** `url` with one character of its `sig` changed. */
function tampered(url) {
  const u = new URL(url);
  const sig = u.searchParams.get('sig');
  assert.ok(sig, `no sig in ${url}`);
  const c = sig[sig.length - 1];
  u.searchParams.set('sig', sig.slice(0, -1) + (c === 'A' ? 'B' : 'A'));
  return u.toString();
}

/** ffprobe's streams and format of the bytes (written to a temp file). */
function ffprobe(bytes, name) {
  const file = path.join(tmp, name);
  writeFileSync(file, bytes);
  const r = spawnSync('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', file], { encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, `ffprobe ${name}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function checkRecording(r) {
  assert.match(r.id, UUID_RE, `recording id ${r.id}`);
  assert.equal(r.record_type, 'room_recording');
  assert.ok(['audio', 'video'].includes(r.type), `type ${r.type}`);
  assert.ok(['processing', 'completed'].includes(r.status), `status ${r.status}`);
  isoTime(r.started_at, 'recording.started_at');
  isoTime(r.created_at, 'recording.created_at');
  isoTime(r.updated_at, 'recording.updated_at');
  if (r.status === 'completed') {
    isoTime(r.ended_at, 'recording.ended_at');
    isoTime(r.completed_at, 'recording.completed_at');
    assert.ok(typeof r.duration_secs === 'number' && r.duration_secs > 0, `duration_secs ${r.duration_secs}`);
    assert.ok(typeof r.size_mb === 'number' && r.size_mb > 0, `size_mb ${r.size_mb}`);
    assert.equal(r.codec, r.type === 'audio' ? 'opus' : 'vp8');
    assert.match(r.download_url, /^https?:\/\/.*[?&]sig=/, `download_url ${r.download_url}`);
  }
}

// --- the recorded session -------------------------------------------------------------------

let recordedPromise;
/**
 * The recorded session, made once: a room with recording and webhooks, publishers A and B
 * (audio + video) and C (video only) for a few seconds, then `actions.end`; resolves once every
 * recording is completed → {room, sid, pubs: {A, B, C}, recs, t0}.
 */
function recorded() {
  recordedPromise ||= (async () => {
    const t0 = Date.now();
    const room = (await tx.rooms.create({
      unique_name: uniqueName('recorded'), enable_recording: true, webhook_event_url: `${hookBase}/rec`,
    })).data;
    assert.equal(room.enable_recording, true);
    const A = await joinPublisher(server, room.id, await joinToken(room.id), media, { label: 'A' });
    const B = await joinPublisher(server, room.id, await joinToken(room.id), media, { label: 'B' });
    const C = await joinPublisher(server, room.id, await joinToken(room.id), media, { label: 'C', audio: false });
    const sid = await activeSessionOf(room.id);
    await poll('five recordings to start', async () => (await recordingsOf({ session_id: sid })).length === 5, { timeoutMs: 10000 });
    await new Promise((r) => setTimeout(r, 2500)); // the seconds recorded
    assert.deepEqual(await tx.rooms.sessions.actions.end(sid), { data: { result: 'ok' } });
    await Promise.all([A, B, C].map((c) => c.waitExit()));
    const recs = await poll('every recording to complete', async () => {
      const xs = await recordingsOf({ session_id: sid });
      return xs.length === 5 && xs.every((x) => x.status === 'completed') ? xs : null;
    }, { timeoutMs: 30000, intervalMs: 250 });
    return { room, sid, pubs: { A, B, C }, recs, t0 };
  })();
  return recordedPromise;
}

// --- recordings -----------------------------------------------------------------------------

compatTest('roomRecordings.list: filters session_id, participant_id, type, status, date_started_at', { method: 'roomRecordings.list', operation: 'List recordings (filters)', feature: RECORDINGS }, async (rec) => {
  const { room, sid, pubs, recs, t0 } = await recorded();
  for (const r of recs) {
    checkRecording(r);
    assert.equal(r.room_id, room.id);
    assert.equal(r.session_id, sid);
  }
  const byPid = (pid) => recs.filter((r) => r.participant_id === pid);
  assert.deepEqual(byPid(pubs.A.participantId).map((r) => r.type).sort(), ['audio', 'video']);
  assert.deepEqual(byPid(pubs.B.participantId).map((r) => r.type).sort(), ['audio', 'video']);
  assert.deepEqual(byPid(pubs.C.participantId).map((r) => r.type), ['video']);

  const mark = exchanges.length;
  const page = await tx.roomRecordings.list({ filter: { session_id: sid, participant_id: pubs.A.participantId } });
  const x = oneExchange(mark, 'GET', '/v2/room_recordings', 200);
  assert.match(x.query, /filter\[session_id\]=/);
  assert.deepEqual(ids(page.data), ids(byPid(pubs.A.participantId)));
  assert.deepEqual(page.meta, { page_number: 1, page_size: 20, total_pages: 1, total_results: 2 });
  assert.deepEqual(ids(await recordingsOf({ session_id: sid, type: 'audio' })), ids(recs.filter((r) => r.type === 'audio')));
  assert.equal((await recordingsOf({ session_id: sid, type: 'video' })).length, 3);
  assert.deepEqual(ids(await recordingsOf({ session_id: sid, status: 'completed' })), ids(recs));
  assert.deepEqual(await recordingsOf({ session_id: sid, status: 'processing' }), []);
  assert.deepEqual(ids(await recordingsOf({ session_id: sid, date_started_at: { gte: new Date(t0 - 60000).toISOString() } })), ids(recs));
  assert.deepEqual(await recordingsOf({ session_id: sid, date_started_at: { gte: new Date(Date.now() + 3600000).toISOString() } }), []);
  assert.deepEqual(ids(await recordingsOf({ session_id: sid, date_started_at: { eq: utcDate(isoTime(recs[0].started_at)) } })), ids(recs));
  assert.deepEqual(await recordingsOf({ session_id: randomUuid() }), []);
  rec.note = 'three publishers (two with audio and video, one video only) of a recording room, session ended with '
    + 'actions.end: five recordings, each completed with codec opus/vp8, duration_secs, size_mb, download_url; '
    + 'filter[session_id] + [participant_id] (meta total_results 2), [type] audio/video, [status] completed/processing, '
    + '[date_started_at][gte] (past: all, future: none), [eq] a date; an unknown session: none';
});

compatTest('roomRecordings.list: auto-pagination with page[size] 2 over three pages', { method: 'roomRecordings.list', operation: 'Recordings auto-pagination', feature: RECORDINGS }, async (rec) => {
  const { sid, recs } = await recorded();
  const first = await tx.roomRecordings.list({ filter: { session_id: sid }, 'page[size]': 2 });
  assert.deepEqual(first.meta, { page_number: 1, page_size: 2, total_pages: 3, total_results: 5 });
  assert.equal(first.data.length, 2);
  const mark = exchanges.length;
  const all = await collect(tx.roomRecordings.list({ filter: { session_id: sid }, 'page[size]': 2 }));
  const pages = exchanges.slice(mark).filter((x) => x.path === '/v2/room_recordings');
  assert.equal(pages.length, 3, pages.map((p) => p.query).join('\n'));
  assert.match(pages[2].query, /page\[number\]=3/);
  assert.equal(all.length, 5);
  assert.deepEqual(ids(all), ids(recs), 'every recording once');
  rec.note = 'page[size] 2 with filter[session_id]: meta {page_number 1, page_size 2, total_pages 3, total_results 5}; '
    + 'the SDK\'s auto-pagination requests pages 1-3 and yields each of the five recordings once';
});

compatTest('roomRecordings.retrieve: every field', { method: 'roomRecordings.retrieve', operation: 'Retrieve a recording', feature: RECORDINGS }, async (rec) => {
  const { recs } = await recorded();
  for (const r of recs) {
    const mark = exchanges.length;
    const got = (await tx.roomRecordings.retrieve(r.id)).data;
    oneExchange(mark, 'GET', `/v2/room_recordings/${r.id}`, 200);
    checkRecording(got);
    const { download_url: u1, ...rest1 } = got;
    const { download_url: u2, ...rest2 } = r;
    assert.deepEqual(rest1, rest2);
  }
  await expectApiError(tx.roomRecordings.retrieve(randomUuid()), [E[404]], { code: '10005' });
  rec.note = 'each of the five reads back as listed (download_url freshly signed); an unknown id: NotFoundError 404 10005';
});

compatTest('recording download_url: the file, and a tampered signature 403', { method: 'roomRecordings.retrieve', operation: 'Download a recording (download_url)', feature: RECORDINGS }, async (rec) => {
  const { recs } = await recorded();
  for (const type of ['audio', 'video']) {
    const r = (await tx.roomRecordings.retrieve(recs.find((x) => x.type === type).id)).data;
    const d = await download(r.download_url);
    assert.equal(d.status, 200, `${type}: ${d.bytes.toString().slice(0, 200)}`);
    assert.ok(d.bytes.length > 0);
    assert.match(d.contentType, type === 'audio' ? /^audio\/webm/ : /^video\/(webm|x-matroska)/);
    assert.ok(Math.abs(d.bytes.length / 1e6 - r.size_mb) < 0.01, `size ${d.bytes.length} vs size_mb ${r.size_mb}`);
    const probe = ffprobe(d.bytes, `${r.id}.webm`);
    assert.deepEqual(probe.streams.map((s) => `${s.codec_type}/${s.codec_name}`), [type === 'audio' ? 'audio/opus' : 'video/vp8']);
    assert.equal((await download(tampered(r.download_url))).status, 403);
  }
  rec.note = 'audio: 200 audio/webm, ffprobe one opus stream; video: 200 video/webm, one vp8 stream; sizes match '
    + 'size_mb; a changed sig: 403';
});

// --- compositions ---------------------------------------------------------------------------

let composition;

compatTest('roomCompositions.create: 202 enqueued with two regions', { method: 'roomCompositions.create', operation: 'Create a composition', feature: COMPOSITIONS }, async (rec) => {
  const { room, sid, pubs, recs } = await recorded();
  const videoA = recs.find((r) => r.type === 'video' && r.participant_id === pubs.A.participantId);
  const body = {
    session_id: sid,
    format: 'mp4',
    resolution: '320x240',
    video_layout: {
      grid: { x_pos: 0, y_pos: 0, z_pos: 0, width: 320, height: 240, max_columns: 2, max_rows: 2, video_sources: ['*'] },
      speaker: { x_pos: 220, y_pos: 10, z_pos: 10, width: 80, height: 60, max_columns: 1, max_rows: 1, video_sources: [videoA.id] },
    },
  };
  const mark = exchanges.length;
  const c = (await tx.roomCompositions.create(body)).data;
  const x = oneExchange(mark, 'POST', '/v2/room_compositions', 202);
  assert.deepEqual(JSON.parse(x.requestBody), body);
  assert.match(c.id, UUID_RE);
  assert.equal(c.record_type, 'composition');
  assert.equal(c.status, 'enqueued');
  assert.equal(c.session_id, sid);
  assert.equal(c.room_id, room.id);
  assert.equal(c.resolution, '320x240');
  assert.equal(c.format, 'mp4');
  assert.deepEqual(Object.keys(c.video_layout).sort(), ['grid', 'speaker']);
  assert.deepEqual(c.video_layout.speaker.video_sources, [videoA.id]);
  isoTime(c.created_at, 'composition.created_at');
  composition = c;
  rec.note = 'POST /v2/room_compositions {session_id, format mp4, resolution 320x240, video_layout: grid ["*"] + '
    + 'speaker [a video recording id]} 202: status enqueued, record_type composition, the fields as sent';
});

compatTest('roomCompositions.retrieve: polled until completed', { method: 'roomCompositions.retrieve', operation: 'Retrieve a composition', feature: COMPOSITIONS }, async (rec) => {
  const c0 = need(composition, 'the composition create made');
  const seen = new Set();
  const c = await poll('the composition to complete', async () => {
    const v = (await tx.roomCompositions.retrieve(c0.id)).data;
    seen.add(v.status);
    assert.notEqual(v.status, 'failed', JSON.stringify(v));
    return v.status === 'completed' ? v : null;
  }, { timeoutMs: 45000, intervalMs: 250 });
  assert.equal(c.id, c0.id);
  assert.ok(typeof c.duration_secs === 'number' && c.duration_secs > 0, `duration_secs ${c.duration_secs}`);
  assert.ok(typeof c.size_mb === 'number' && c.size_mb > 0, `size_mb ${c.size_mb}`);
  isoTime(c.completed_at, 'composition.completed_at');
  assert.match(c.download_url, /[?&]sig=/);
  composition = c;
  assert.ok([...seen].every((st) => ['enqueued', 'processing', 'completed'].includes(st)), [...seen].join(', '));
  rec.note = 'retrieve polled: enqueued / processing, then completed with duration_secs, size_mb, completed_at and a '
    + 'signed download_url';
});

compatTest('composition download_url: an MP4 with video at the requested size', { method: 'roomCompositions.retrieve', operation: 'Download a composition (download_url)', feature: COMPOSITIONS }, async (rec) => {
  const c = need(composition && composition.download_url && composition, 'the completed composition');
  const d = await download(c.download_url);
  assert.equal(d.status, 200);
  assert.match(d.contentType, /^video\/mp4/);
  assert.ok(d.bytes.length > 0);
  const probe = ffprobe(d.bytes, `${c.id}.mp4`);
  const v = probe.streams.find((s) => s.codec_type === 'video');
  assert.ok(v, JSON.stringify(probe.streams));
  assert.equal(v.codec_name, 'h264');
  assert.deepEqual([v.width, v.height], [320, 240]);
  assert.ok(probe.streams.some((s) => s.codec_type === 'audio' && s.codec_name === 'aac'), 'no AAC audio');
  assert.equal((await download(tampered(c.download_url))).status, 403);
  rec.note = '200 video/mp4; ffprobe: H.264 320x240 and AAC; a changed sig: 403';
});

compatTest('roomCompositions.list: filters session_id and status', { method: 'roomCompositions.list', operation: 'List compositions', feature: COMPOSITIONS }, async (rec) => {
  const c = need(composition && composition.status === 'completed' && composition, 'the completed composition');
  const mark = exchanges.length;
  const page = await tx.roomCompositions.list({ filter: { session_id: c.session_id } });
  oneExchange(mark, 'GET', '/v2/room_compositions', 200);
  assert.deepEqual(page.data.map((x) => x.id), [c.id]);
  assert.deepEqual(page.meta, { page_number: 1, page_size: 20, total_pages: 1, total_results: 1 });
  assert.deepEqual((await collect(tx.roomCompositions.list({ filter: { session_id: c.session_id, status: 'completed' } }))).map((x) => x.id), [c.id]);
  assert.deepEqual(await collect(tx.roomCompositions.list({ filter: { session_id: c.session_id, status: 'enqueued' } })), []);
  assert.deepEqual(await collect(tx.roomCompositions.list({ filter: { session_id: randomUuid() } })), []);
  rec.note = 'filter[session_id]: the one composition (meta total_results 1); + [status] completed: it, enqueued: none; '
    + 'an unknown session: none';
});

compatTest('roomCompositions.create refuses bad input: 422; unknown ids: 404', { method: 'roomCompositions.create / roomCompositions.retrieve / roomCompositions.delete', operation: 'Invalid compositions: 422, unknown ids: 404', feature: COMPOSITIONS }, async (rec) => {
  const { sid, recs } = await recorded();
  const audio = recs.find((r) => r.type === 'audio');
  const region = (extra = {}) => ({ x_pos: 0, y_pos: 0, z_pos: 0, width: 160, height: 120, video_sources: ['*'], ...extra });
  const room = (await tx.rooms.create({ unique_name: uniqueName('live') })).data;
  const live = await joinSubscriber(server, room.id, await joinToken(room.id), 'live');
  const liveSid = await activeSessionOf(room.id);
  const cases = [
    ['resolution over the area', { session_id: sid, resolution: '1280x1280' }, '/resolution'],
    ['three regions', { session_id: sid, resolution: '320x240', video_layout: { a: region(), b: region(), c: region() } }, '/video_layout'],
    ['z_pos 100', { session_id: sid, resolution: '320x240', video_layout: { a: region({ z_pos: 100 }) } }, '/video_layout/a/z_pos'],
    ['an unknown recording id', { session_id: sid, resolution: '320x240', video_layout: { a: region({ video_sources: [randomUuid()] }) } }, '/video_layout/a/video_sources'],
    ['an audio recording as a video source', { session_id: sid, resolution: '320x240', video_layout: { a: region({ video_sources: [audio.id] }) } }, '/video_layout/a/video_sources'],
    ['a live session', { session_id: liveSid, resolution: '320x240' }, '/session_id'],
    ['an unknown session', { session_id: randomUuid(), resolution: '320x240' }, '/session_id'],
  ];
  const failed = [];
  for (const [label, body, pointer] of cases) {
    try {
      await expectApiError(tx.roomCompositions.create(body), [E[422]], { pointer });
    } catch (e) {
      failed.push(`${label}: ${String(e.message).split('\n')[0]}`);
    }
  }
  await live.stop();
  assert.deepEqual(failed, [], failed.join('\n'));
  await expectApiError(tx.roomCompositions.retrieve(randomUuid()), [E[404]], { code: '10005' });
  await expectApiError(tx.roomCompositions.delete(randomUuid()), [E[404]], { code: '10005' });
  rec.note = 'UnprocessableEntityError 422 {errors} with source.pointer for: resolution 1280x1280 (/resolution), three '
    + 'regions (/video_layout), z_pos 100, an unknown recording id and an audio recording in video_sources, a live '
    + 'session and an unknown one (/session_id); retrieve and delete of an unknown id: NotFoundError 404 10005';
});

compatTest('roomCompositions.delete: 204, then gone with its file', { method: 'roomCompositions.delete', operation: 'Delete a composition', feature: COMPOSITIONS }, async (rec) => {
  const c = need(composition && composition.download_url && composition, 'the completed composition');
  const mark = exchanges.length;
  await tx.roomCompositions.delete(c.id);
  oneExchange(mark, 'DELETE', `/v2/room_compositions/${c.id}`, 204);
  await expectApiError(tx.roomCompositions.retrieve(c.id), [E[404]], { code: '10005' });
  assert.deepEqual(await collect(tx.roomCompositions.list({ filter: { session_id: c.session_id } })), []);
  const d = await download(c.download_url);
  assert.ok(d.status === 403 || d.status === 404, `download after delete: ${d.status}`);
  rec.note = 'DELETE 204; then retrieve NotFoundError 404 10005, the list is empty, and its download_url answers '
    + '403/404';
});

// --- recording deletes (after the composition, which used them) -------------------------------

compatTest('roomRecordings.delete: 204, then gone', { method: 'roomRecordings.delete', operation: 'Delete a recording', feature: RECORDINGS }, async (rec) => {
  const { sid, pubs, recs } = await recorded();
  const r = recs.find((x) => x.participant_id === pubs.C.participantId);
  const url = (await tx.roomRecordings.retrieve(r.id)).data.download_url;
  const mark = exchanges.length;
  await tx.roomRecordings.delete(r.id);
  oneExchange(mark, 'DELETE', `/v2/room_recordings/${r.id}`, 204);
  await expectApiError(tx.roomRecordings.retrieve(r.id), [E[404]], { code: '10005' });
  assert.deepEqual(ids(await recordingsOf({ session_id: sid })), ids(recs.filter((x) => x.id !== r.id)));
  const d = await download(url);
  assert.ok(d.status === 403 || d.status === 404, `download after delete: ${d.status}`);
  await expectApiError(tx.roomRecordings.delete(randomUuid()), [E[404]], { code: '10005' });
  rec.note = 'DELETE /v2/room_recordings/{id} 204: retrieve then NotFoundError 404 10005, the session lists the other '
    + 'four, its download_url answers 403/404; an unknown id: 404 10005';
});

compatTest('roomRecordings.deleteBulk: by filter, returns the count, exactly those gone', { method: 'roomRecordings.deleteBulk', operation: 'Delete recordings in bulk', feature: RECORDINGS }, async (rec) => {
  const { sid, pubs, recs } = await recorded();
  const before = await recordingsOf({ session_id: sid });
  const mine = before.filter((x) => x.participant_id === pubs.A.participantId);
  assert.equal(mine.length, 2);
  const mark = exchanges.length;
  const r = await tx.roomRecordings.deleteBulk({ filter: { session_id: sid, participant_id: pubs.A.participantId } });
  const x = oneExchange(mark, 'DELETE', '/v2/room_recordings', 200);
  assert.match(x.query, /filter\[participant_id\]=/);
  assert.deepEqual(r, { data: { room_recordings: 2 } });
  assert.deepEqual(ids(await recordingsOf({ session_id: sid })), ids(before.filter((y) => y.participant_id !== pubs.A.participantId)));
  for (const y of mine) await expectApiError(tx.roomRecordings.retrieve(y.id), [E[404]]);
  assert.deepEqual(await tx.roomRecordings.deleteBulk({ filter: { session_id: randomUuid() } }), { data: { room_recordings: 0 } });
  const rest = await tx.roomRecordings.deleteBulk({ filter: { session_id: sid, type: 'audio' } });
  assert.deepEqual(rest, { data: { room_recordings: recs.filter((y) => y.type === 'audio' && y.participant_id === pubs.B.participantId).length } });
  assert.deepEqual((await recordingsOf({ session_id: sid })).map((y) => `${y.participant_id === pubs.B.participantId ? 'B' : '?'}/${y.type}`), ['B/video']);
  rec.note = 'DELETE /v2/room_recordings?filter[session_id]&filter[participant_id] 200 {data: {room_recordings: 2}}: '
    + 'exactly A\'s two gone (each 404), the others listed; a filter matching none: 0; then [type] audio: 1 (B\'s), '
    + 'B\'s video left';
});

// --- webhooks --------------------------------------------------------------------------------

let publicKey;

async function webhookKey() {
  if (publicKey) return publicKey;
  const res = await fetch(`${server.baseUrl}/v2/parlor/webhook_public_key`, { headers: { Authorization: `Bearer ${credential(server)}` } });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.data.algorithm, 'ed25519');
  assert.equal(Buffer.from(body.data.public_key, 'base64').length, 32);
  publicKey = body.data.public_key;
  return publicKey;
}

/** The events of `list` (hook requests), each verified with the SDK's unwrap. */
async function unwrapAll(list) {
  const key = await webhookKey();
  const out = [];
  for (const h of list) {
    const ev = await tx.webhooks.unwrap(h.body, { headers: h.headers, key });
    assert.equal(ev.data.record_type, 'event');
    assert.match(ev.data.id, UUID_RE);
    isoTime(ev.data.occurred_at, 'occurred_at');
    out.push(ev);
  }
  return out;
}

const short = (t) => t.replace(/^video\.room\./, '');

compatTest('webhooks.unwrap: join and leave of a room, in order, each verified', { method: 'webhooks.unwrap', operation: 'Verify webhooks (unwrap)', feature: WEBHOOKS, check: 'join and leave' }, async (rec) => {
  const room = (await tx.rooms.create({ unique_name: uniqueName('hooks'), webhook_event_url: `${hookBase}/plain` })).data;
  const s = await joinSubscriber(server, room.id, await joinToken(room.id), 'S');
  const sid = await activeSessionOf(room.id);
  await s.stop();
  const mine = () => hooks.filter((h) => h.path === '/plain');
  await poll('session.ended to arrive', () => mine().some((h) => h.body.includes('video.room.session.ended')), { timeoutMs: 10000 });
  const evs = await unwrapAll(mine());
  assert.deepEqual(evs.map((e) => short(e.data.event_type)), ['session.started', 'participant.joined', 'participant.left', 'session.ended']);
  for (const e of evs) {
    assert.equal(e.data.payload.room_id, room.id);
    assert.equal(e.data.payload.session_id, sid);
    assert.equal(e.meta.attempt, 1);
    assert.equal(e.meta.delivered_to, `${hookBase}/plain`);
  }
  assert.equal(evs[1].data.payload.participant_id, s.participantId);
  assert.equal(evs[2].data.payload.left_reason, 'user_initiated');
  assert.equal(evs[3].data.payload.ended_reason, 'all_participants_left');
  rec.note = 'a room with webhook_event_url at a receiver in the test, one client joins and leaves: session.started, '
    + 'participant.joined, participant.left (user_initiated), session.ended (all_participants_left), in that order; '
    + 'each request passes client.webhooks.unwrap(body, {headers, key}) with the key of GET /v2/parlor/webhook_public_key';
});

compatTest('webhooks.unwrap: the recorded session\'s events, in order', { method: 'webhooks.unwrap', operation: 'Verify webhooks (unwrap)', feature: WEBHOOKS, check: 'recordings' }, async (rec) => {
  const { room, sid, pubs, recs } = await recorded();
  const composed = need(composition && composition.status === 'completed' && composition, 'the completed composition');
  const mine = () => hooks.filter((h) => h.path === '/rec');
  await poll('the recording and composition events to arrive', () => {
    const bodies = mine().map((h) => h.body);
    return bodies.filter((b) => b.includes('video.room.recording.completed')).length === 5
      && bodies.some((b) => b.includes('video.room.session.ended'))
      && bodies.some((b) => b.includes('video.room.composition.completed'));
  }, { timeoutMs: 15000 });
  const evs = await unwrapAll(mine());
  const types = evs.map((e) => short(e.data.event_type));
  const at = (type, pred = () => true) => evs.findIndex((e) => short(e.data.event_type) === type && pred(e.data.payload));
  const count = (type) => types.filter((t) => t === type).length;
  assert.equal(types[0], 'session.started', types.join(', '));
  assert.deepEqual([count('session.started'), count('participant.joined'), count('participant.left'), count('session.ended'),
    count('recording.started'), count('recording.completed'), count('composition.completed')], [1, 3, 3, 1, 5, 5, 1], types.join(', '));
  for (const e of evs) {
    assert.equal(e.data.payload.room_id, room.id);
    assert.equal(e.data.payload.session_id, sid);
  }
  for (const p of Object.values(pubs)) {
    const joined = at('participant.joined', (x) => x.participant_id === p.participantId);
    const left = at('participant.left', (x) => x.participant_id === p.participantId);
    assert.ok(joined >= 0 && joined < left && left < at('session.ended'), `${p.label}: ${types.join(', ')}`);
    assert.equal(evs[left].data.payload.left_reason, 'session_terminated');
  }
  assert.equal(evs[at('session.ended')].data.payload.ended_reason, 'ended_via_api');
  for (const r of recs) {
    const started = at('recording.started', (x) => x.recording_id === r.id);
    const completed = at('recording.completed', (x) => x.recording_id === r.id);
    assert.ok(started > at('participant.joined', (x) => x.participant_id === r.participant_id) && started < completed,
      `${r.type} of ${r.participant_id}: ${types.join(', ')}`);
    assert.equal(evs[started].data.payload.participant_id, r.participant_id);
    assert.equal(evs[started].data.payload.type, r.type);
    const c = evs[completed].data.payload;
    assert.equal(c.codec, r.codec);
    assert.equal(typeof c.duration_secs, 'number');
    assert.match(c.download_url, /[?&]sig=/);
  }
  const comp = evs[at('composition.completed')].data.payload;
  assert.equal(comp.composition_id, composed.id);
  assert.match(comp.download_url, /[?&]sig=/);

  // Tampering: the body, the signature, the timestamp, and another key all make unwrap throw.
  const h = mine()[0];
  const key = await webhookKey();
  const sig = Buffer.from(h.headers['telnyx-signature-ed25519'], 'base64');
  sig[0] ^= 1;
  const otherKey = Buffer.alloc(32, 7).toString('base64');
  const bad = [
    ['a changed body', h.body.replace('"record_type":"event"', '"record_type":"evenT"'), h.headers, key],
    ['a changed signature', h.body, { ...h.headers, 'telnyx-signature-ed25519': sig.toString('base64') }, key],
    ['a changed timestamp', h.body, { ...h.headers, 'telnyx-timestamp': String(Number(h.headers['telnyx-timestamp']) - 1) }, key],
    ['another key', h.body, h.headers, otherKey],
  ];
  for (const [label, body, headers, k] of bad) {
    assert.notEqual(body + JSON.stringify(headers) + k, h.body + JSON.stringify(h.headers) + key, `${label}: nothing changed`);
    await assert.rejects(tx.webhooks.unwrap(body, { headers, key: k }), Telnyx.TelnyxError, label);
  }
  rec.note = 'every request to the recording room\'s URL passes unwrap: session.started first; 3 participant.joined, '
    + '5 recording.started (each after its participant joined, with participant_id and type), every participant.left '
    + '(session_terminated) before session.ended (ended_via_api), 5 recording.completed (codec, duration_secs, '
    + 'download_url), composition.completed (the room\'s URL: the composition has none); a changed body, signature, '
    + 'timestamp or key: unwrap throws';
});

// Not an SDK method: no result record.
test('no request got a 5xx or a 409', () => {
  assertNoServerErrors();
});
