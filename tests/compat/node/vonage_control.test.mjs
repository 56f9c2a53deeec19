// Live compatibility: npm `@vonage/video`, authenticated as a Vonage application, controlling
// live sessions on a real Parlor server with native clients in them (`parlor client subscribe
// --json` / `publish`, with tokens from the SDK): signals, force disconnect, force mute (one,
// all with exclusions, lifted), stream info, layout class lists, and archives (start, stop,
// get, search, delete). Results go to results/vonage-node-control.json.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { MediaMode } from '@vonage/video';
import { startServer } from './helpers.mjs';
import { makeMedia, subscriber, publisher, stopAllClients, marker } from './live.mjs';
import {
  compatSuite, createApplication, videoClient, exchanges, since, describeExchanges, rejection,
} from './vonage_sdk.mjs';

const compatTest = compatSuite('control');

let server;
let app;
let video;
let P;
let media;

before(async () => {
  server = await startServer();
  app = createApplication(server, 'node-control');
  video = videoClient(server, app);
  P = `/v2/project/${app.applicationId}`;
  media = makeMedia();
});

after(async () => {
  await stopAllClients();
  if (media) media.remove();
  if (!server) return;
  const { code, signal } = await server.stop();
  assert.equal(signal, null, `parlor serve did not exit after SIGTERM\n${server.stderr}`);
  assert.equal(code, 0, `parlor serve exited with ${code}\n${server.stderr}`);
  const fivexx = exchanges.filter((x) => x.status >= 500);
  assert.deepEqual(fivexx, [], describeExchanges(fivexx));
});

const newSession = async () => (await video.createSession({ mediaMode: MediaMode.ROUTED })).sessionId;
const tok = (sid, opts = {}) => video.generateClientToken(sid, opts);

/** The single exchange made since `mark`; checks its method, path and status. */
function exchange(mark, method, path, status) {
  const xs = since(mark);
  assert.equal(xs.length, 1, `expected one request, got:\n${describeExchanges(xs)}`);
  const [x] = xs;
  assert.equal(`${x.method} ${x.path}`, `${method} ${path}`);
  assert.equal(x.status, status, describeExchanges(xs));
  assert.match(x.headers.Authorization || x.headers.authorization || '', /^Bearer /);
  return x;
}

/** Nothing matching `pred` reached `client` before a marker signal sent now. */
async function assertNoneBefore(sid, client, name, pred, what) {
  const m = marker();
  await video.sendSignal({ type: m, data: m }, sid);
  const markAt = await client.waitEvent('signal', (e) => e.type === m);
  const upTo = client.events.indexOf(markAt);
  const bad = client.events.slice(0, upTo).find((e) => e.event === name && pred(e));
  assert.equal(bad, undefined, `${what}: ${JSON.stringify(bad)}`);
}

compatTest({ method: 'sendSignal', operation: 'Signal every client in a session', feature: 'signaling' }, async (rec) => {
  const sid = await newSession();
  const a = await subscriber(server, tok(sid, { role: 'subscriber' }), 'subscriber A');
  const b = await subscriber(server, tok(sid, { role: 'subscriber' }), 'subscriber B');
  const mark = exchanges.length;
  const payload = { type: 'chat', data: 'hello everyone ✓' };
  await video.sendSignal(payload, sid);
  const x = exchange(mark, 'POST', `${P}/session/${sid}/signal`, 204);
  assert.deepEqual(JSON.parse(x.requestBody), payload);
  for (const c of [a, b]) {
    const ev = await c.waitEvent('signal', (e) => e.type === 'chat');
    assert.equal(ev.data, payload.data);
  }
  // An unknown session: 404.
  const bad = await rejection(video.sendSignal(payload, `${sid.slice(0, -4)}AAAA`));
  assert.equal(bad.status, 404);
  await Promise.all([a.stop(), b.stop()]);
  rec.note = '204; both subscribers printed the signal; an unknown session gets 404';
});

compatTest({ method: 'sendSignal', operation: 'Signal one connection', feature: 'signaling' }, async (rec) => {
  const sid = await newSession();
  const a = await subscriber(server, tok(sid, { role: 'subscriber' }), 'subscriber A');
  const b = await subscriber(server, tok(sid, { role: 'subscriber' }), 'subscriber B');
  const mark = exchanges.length;
  await video.sendSignal({ type: 'private', data: 'for A only' }, sid, a.connectionId);
  exchange(mark, 'POST', `${P}/session/${sid}/connection/${a.connectionId}/signal`, 204);
  assert.equal((await a.waitEvent('signal', (e) => e.type === 'private')).data, 'for A only');
  await assertNoneBefore(sid, b, 'signal', (e) => e.type === 'private', 'B got the signal sent to A');
  await Promise.all([a.stop(), b.stop()]);
  rec.note = '204; only the addressed subscriber printed the signal';
});

compatTest({ method: 'disconnectClient', operation: 'Force a client to disconnect', feature: 'moderation' }, async (rec) => {
  const sid = await newSession();
  const observer = await subscriber(server, tok(sid, { role: 'subscriber' }), 'observer');
  const victim = await subscriber(server, tok(sid, { role: 'subscriber' }), 'victim');
  await observer.waitEvent('connectionCreated', (e) => e.connection.connectionId === victim.connectionId);
  const mark = exchanges.length;
  await video.disconnectClient(sid, victim.connectionId);
  exchange(mark, 'DELETE', `${P}/session/${sid}/connection/${victim.connectionId}`, 204);
  await victim.waitEvent('sessionDisconnected');
  await victim.waitExit();
  await observer.waitEvent('connectionDestroyed', (e) => e.connection.connectionId === victim.connectionId);
  await observer.stop();
  rec.note = '204; the client printed sessionDisconnected and exited, the other saw connectionDestroyed';
});

compatTest({ method: 'muteStream', operation: 'Mute one stream', feature: 'moderation' }, async (rec) => {
  const sid = await newSession();
  const watcher = await subscriber(server, tok(sid, { role: 'subscriber' }), 'watcher');
  const pub = await publisher(server, tok(sid, { role: 'publisher' }), media, { name: 'cam' });
  await watcher.waitEvent('streamCreated', (e) => e.stream.streamId === pub.streamId);
  const mark = exchanges.length;
  await video.muteStream(sid, pub.streamId);
  exchange(mark, 'POST', `${P}/session/${sid}/stream/${pub.streamId}/mute`, 200);
  const ev = await watcher.waitEvent('streamPropertyChanged', (e) => e.stream.streamId === pub.streamId && e.changedProperty === 'hasAudio');
  assert.equal(ev.newValue, false);
  await Promise.all([watcher.stop(), pub.stop()]);
  rec.note = 'the other client saw hasAudio false';
});

compatTest({ method: 'forceMuteAll', operation: 'Mute all streams, with exclusions', feature: 'moderation' }, async (rec) => {
  const sid = await newSession();
  const watcher = await subscriber(server, tok(sid, { role: 'subscriber' }), 'watcher');
  const a = await publisher(server, tok(sid), media, { name: 'a' });
  const b = await publisher(server, tok(sid), media, { name: 'b' });
  for (const p of [a, b]) await watcher.waitEvent('streamCreated', (e) => e.stream.streamId === p.streamId);
  const mark = exchanges.length;
  await video.forceMuteAll(sid, [b.streamId]);
  const x = exchange(mark, 'POST', `${P}/session/${sid}/mute`, 200);
  const body = JSON.parse(x.requestBody);
  assert.equal(body.active, true);
  await watcher.waitEvent('streamPropertyChanged', (e) => e.stream.streamId === a.streamId && e.changedProperty === 'hasAudio' && e.newValue === false);
  await assertNoneBefore(sid, watcher, 'streamPropertyChanged', (e) => e.stream.streamId === b.streamId && e.changedProperty === 'hasAudio', 'the excluded stream was muted');
  rec.note = `sent ${JSON.stringify(Object.keys(body))}; the stream not excluded lost its audio, the excluded one did not`;
  await Promise.all([watcher.stop(), a.stop(), b.stop()]);
});

compatTest({ method: 'disableForceMute', operation: 'Lift "mute all"', feature: 'moderation' }, async (rec) => {
  const sid = await newSession();
  const watcher = await subscriber(server, tok(sid, { role: 'subscriber' }), 'watcher');
  await video.forceMuteAll(sid);
  const mark = exchanges.length;
  await video.disableForceMute(sid);
  const x = exchange(mark, 'POST', `${P}/session/${sid}/mute`, 200);
  assert.equal(JSON.parse(x.requestBody).active, false);
  // A stream published after the lift is not muted.
  const p = await publisher(server, tok(sid), media, { name: 'late' });
  const created = await watcher.waitEvent('streamCreated', (e) => e.stream.streamId === p.streamId);
  assert.equal(created.stream.hasAudio, true);
  await Promise.all([watcher.stop(), p.stop()]);
  rec.note = 'active false; a stream published afterwards has its audio';
});

/**
 * A publisher whose stream the session has announced (its media connected): what the REST
 * API lists. The client says "published" before that, so a watcher waits for it.
 */
async function announcedPublisher(sid, token, opts) {
  const watcher = await subscriber(server, tok(sid, { role: 'subscriber' }), 'watcher');
  const p = await publisher(server, token, media, opts);
  await watcher.waitEvent('streamCreated', (e) => e.stream.streamId === p.streamId);
  await watcher.stop();
  return p;
}

compatTest({ method: 'getStreamInfo', operation: 'List the streams of a session', feature: 'streams' }, async (rec) => {
  const sid = await newSession();
  const p = await announcedPublisher(sid, tok(sid, { initialLayoutClassList: ['focus'] }), { name: 'cam' });
  const mark = exchanges.length;
  const list = await video.getStreamInfo(sid);
  exchange(mark, 'GET', `${P}/session/${sid}/stream`, 200);
  assert.equal(list.count, 1);
  assert.equal(list.items[0].id, p.streamId);
  assert.equal(list.items[0].name, 'cam');
  assert.deepEqual(list.items[0].layoutClassList, ['focus']);
  await p.stop();
  rec.note = 'count and items (id, name, videoType, layoutClassList from the token) match the live stream';
});

compatTest({ method: 'getStreamInfo', operation: 'Get one stream', feature: 'streams' }, async (rec) => {
  const sid = await newSession();
  const p = await announcedPublisher(sid, tok(sid), { name: 'cam' });
  const mark = exchanges.length;
  const one = await video.getStreamInfo(sid, p.streamId);
  exchange(mark, 'GET', `${P}/session/${sid}/stream/${p.streamId}`, 200);
  assert.equal(one.id, p.streamId);
  assert.equal(one.videoType, "camera");
  assert.equal(since(mark)[0].contentType, "application/json");
  const missing = await rejection(video.getStreamInfo(sid, '00000000-0000-4000-8000-000000000000'));
  assert.equal(missing.status, 404);
  await p.stop();
  rec.note = 'id, name, videoType; an unknown stream gets 404';
});

compatTest({ method: 'setStreamClassLists', operation: 'Set layout class lists of streams', feature: 'streams' }, async (rec) => {
  const sid = await newSession();
  const p = await announcedPublisher(sid, tok(sid), { name: 'cam' });
  const mark = exchanges.length;
  await video.setStreamClassLists(sid, [{ id: p.streamId, layoutClassList: ['full', 'focus'] }]);
  exchange(mark, 'PUT', `${P}/session/${sid}/stream`, 200);
  assert.deepEqual((await video.getStreamInfo(sid, p.streamId)).layoutClassList, ['full', 'focus']);
  await p.stop();
  rec.note = 'the class list reads back through getStreamInfo';
});

// ---------------------------------------------------------------------------------------
// Archives: one recording of a live publisher, through every archive call.

let archiveSid;
let archivePub;
let archiveId;

compatTest({ method: 'startArchive', operation: 'Start an archive', feature: 'archiving' }, async (rec) => {
  archiveSid = await newSession();
  archivePub = await publisher(server, tok(archiveSid), media, { name: 'cam' });
  const mark = exchanges.length;
  const archive = await video.startArchive(archiveSid, { name: 'vonage-app', outputMode: 'individual' });
  exchange(mark, 'POST', `${P}/archive`, 200);
  assert.equal(archive.sessionId, archiveSid);
  assert.equal(archive.status, 'started');
  assert.equal(archive.name, 'vonage-app');
  assert.equal(archive.outputMode, 'individual');
  archiveId = archive.id;
  rec.note = 'an individual archive of a live publisher starts; the SDK reads its fields';
}, { timeout: 60000 });

compatTest({ method: 'stopArchive', operation: 'Stop an archive', feature: 'archiving' }, async (rec) => {
  assert.ok(archiveId, 'startArchive did not run');
  await new Promise((resolve) => { setTimeout(resolve, 2000); });
  const mark = exchanges.length;
  const stopped = await video.stopArchive(archiveId);
  exchange(mark, 'POST', `${P}/archive/${archiveId}/stop`, 200);
  assert.equal(stopped.status, 'stopped');
  const again = await rejection(video.stopArchive(archiveId));
  assert.equal(again.status, 409);
  await archivePub.stop();
  rec.note = 'stopped; stopping again gets 409';
}, { timeout: 60000 });

compatTest({ method: 'getArchive', operation: 'Get an archive', feature: 'archiving' }, async (rec) => {
  assert.ok(archiveId, 'startArchive did not run');
  const deadline = Date.now() + 60000;
  let archive;
  for (;;) {
    archive = await video.getArchive(archiveId);
    if (archive.status !== 'started' && archive.status !== 'stopped') break;
    if (Date.now() > deadline) throw new Error(`archive still ${archive.status}`);
    await new Promise((resolve) => { setTimeout(resolve, 500); });
  }
  assert.equal(archive.status, 'available', JSON.stringify(archive));
  assert.ok(archive.size > 0);
  assert.match(archive.url, /^http:\/\/127\.0\.0\.1:\d+\/archive-download\//);
  const download = await fetch(archive.url);
  assert.equal(download.status, 200);
  assert.equal((await download.arrayBuffer()).byteLength, archive.size);
  rec.note = 'polled to available; the signed URL downloads the archive, its size as reported';
}, { timeout: 90000 });

compatTest({ method: 'searchArchives', operation: 'List archives', feature: 'archiving' }, async (rec) => {
  assert.ok(archiveId, 'startArchive did not run');
  const mark = exchanges.length;
  const found = await video.searchArchives({ sessionId: archiveSid });
  const [x] = since(mark);
  assert.equal(x.path, `${P}/archive`);
  assert.equal(found.count, 1);
  assert.equal(found.items[0].id, archiveId);
  rec.note = 'filtered by sessionId: count and items';
});

compatTest({ method: 'deleteArchive', operation: 'Delete an archive', feature: 'archiving' }, async (rec) => {
  assert.ok(archiveId, 'startArchive did not run');
  const mark = exchanges.length;
  await video.deleteArchive(archiveId);
  exchange(mark, 'DELETE', `${P}/archive/${archiveId}`, 204);
  const gone = await rejection(video.getArchive(archiveId));
  assert.equal(gone.status, 404);
  rec.note = 'deleted; getArchive then gets 404';
});

// A composed archive in manual stream mode: streams added and removed, the layout changed.
let manual;

compatTest({ method: 'addArchiveStream', operation: 'Add a stream to an archive', feature: 'archiving' }, async (rec) => {
  const sid = await newSession();
  const pub = await publisher(server, tok(sid), media, { name: 'cam' });
  const archive = await video.startArchive(sid, { streamMode: 'manual', outputMode: 'composed', layout: { type: 'bestFit' } });
  assert.equal(archive.streamMode, 'manual');
  assert.deepEqual(archive.streams, []);
  const mark = exchanges.length;
  await video.addArchiveStream(archive.id, pub.streamId, true, false);
  const x = exchange(mark, 'PATCH', `${P}/archive/${archive.id}/streams`, 204);
  assert.deepEqual(JSON.parse(x.requestBody), { addStream: pub.streamId, hasAudio: true, hasVideo: false });
  const got = await video.getArchive(archive.id);
  assert.deepEqual(got.streams.map((st) => st.streamId), [pub.streamId]);
  manual = { archive, pub, sid };
  rec.note = 'the stream is in the archive\'s streams (audio only, as asked)';
}, { timeout: 60000 });

compatTest({ method: 'updateArchiveLayout', operation: 'Set an archive\'s layout', feature: 'archiving' }, async (rec) => {
  assert.ok(manual, 'addArchiveStream did not run');
  const mark = exchanges.length;
  await video.updateArchiveLayout(manual.archive.id, { type: 'pip' });
  exchange(mark, 'PUT', `${P}/archive/${manual.archive.id}/layout`, 200);
  const bad = await rejection(video.updateArchiveLayout(manual.archive.id, { type: 'nonsense' }));
  assert.equal(bad.status, 400);
  rec.note = 'pip accepted; an unknown layout type gets 400';
});

compatTest({ method: 'removeArchiveStream', operation: 'Remove a stream from an archive', feature: 'archiving' }, async (rec) => {
  assert.ok(manual, 'addArchiveStream did not run');
  const mark = exchanges.length;
  await video.removeArchiveStream(manual.archive.id, manual.pub.streamId);
  exchange(mark, 'PATCH', `${P}/archive/${manual.archive.id}/streams`, 204);
  const got = await video.getArchive(manual.archive.id);
  assert.deepEqual(got.streams, []);
  await video.stopArchive(manual.archive.id);
  await manual.pub.stop();
  rec.note = 'the archive\'s streams are empty again';
});

compatTest({ method: 'createSession', operation: 'Archive a session automatically (archiveMode always)', feature: 'archiving' }, async (rec) => {
  const { sessionId: sid } = await video.createSession({ mediaMode: MediaMode.ROUTED, archiveMode: 'always' });
  const watcher = await subscriber(server, tok(sid, { role: 'subscriber' }), 'watcher');
  const pub = await publisher(server, tok(sid), media, { name: 'cam' });
  const started = await watcher.waitEvent('archiveStarted', () => true, { timeoutMs: 20000 });
  const found = await video.searchArchives({ sessionId: sid });
  assert.equal(found.count, 1);
  assert.equal(found.items[0].id, started.id ?? found.items[0].id);
  await Promise.all([watcher.stop(), pub.stop()]);
  rec.note = 'an archive started by itself at the first stream; the subscriber was told; searchArchives lists it';
}, { timeout: 60000 });

// ---------------------------------------------------------------------------------------
// Callbacks: @vonage/video has no callback API (session monitoring is configured on the
// application in Vonage's dashboard).

for (const operation of ['Register a callback', 'List callbacks', 'Unregister a callback']) {
  compatTest({ method: '(none)', operation, feature: 'callbacks' }, async (rec) => {
    const names = Object.getOwnPropertyNames(Object.getPrototypeOf(video));
    assert.deepEqual(names.filter((n) => /callback/i.test(n)), []);
    rec.status = 'n/a';
  });
}
