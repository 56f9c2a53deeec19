// Live compatibility: the official `opentok` Node SDK controlling live sessions on a real
// Parlor server, with native clients (`parlor client subscribe --json` / `publish`) in the
// session to check each call's documented effect: signals, force disconnect, force mute
// (one, all with exclusions, lifted), listing and getting streams, layout class lists.
// Every result is recorded to results/node-control.json (see compat_table.py).
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, forgeSessionId, API_KEY, API_SECRET } from './helpers.mjs';
import { makeMedia, subscriber, publisher, stopAllClients, marker } from './live.mjs';
import { OpenTok, compatSuite, call, ok, errorText, exchanges, since, describeExchanges } from './sdk.mjs';

const compatTest = compatSuite('control');
const P = `/v2/project/${API_KEY}`;

let server;
let ot;
let media;

before(async () => {
  server = await startServer();
  ot = new OpenTok(API_KEY, API_SECRET, { apiUrl: server.baseUrl });
  media = makeMedia();
});

after(async () => {
  await stopAllClients();
  if (media) media.remove();
  if (!server) return;
  const { code, signal } = await server.stop();
  assert.equal(signal, null, `parlor serve did not exit after SIGTERM\n${server.stderr}`);
  assert.equal(code, 0, `parlor serve exited with ${code}\n${server.stderr}`);
});

/** Calls `ot[name](...args, cb)`; resolves {err, value} (never rejects). */
const run = (name, ...args) => call(ot[name].bind(ot), ...args);
/** Calls `ot[name](...args, cb)`; rejects on an SDK error. */
const must = (name, ...args) => ok(ot[name].bind(ot), ...args);

async function newSession() {
  return (await must('createSession', { mediaMode: 'routed' })).sessionId;
}

const tok = (sid, opts = {}) => ot.generateToken(sid, opts);

/** The single exchange made since `mark`; checks its method, path and status. */
function exchange(mark, method, path, status) {
  const xs = since(mark);
  assert.equal(xs.length, 1, `expected one request, got:\n${describeExchanges(xs)}`);
  const [x] = xs;
  assert.equal(`${x.method} ${x.path}`, `${method} ${path}`);
  assert.equal(x.status, status, `wrong status:\n${describeExchanges(xs)}`);
  return x;
}

/** A 4xx error answer: JSON {code, message} with Content-Type exactly application/json. */
function errorBody(x, status) {
  assert.equal(x.status, status, describeExchanges([x]));
  assert.equal(x.contentType, 'application/json', describeExchanges([x]));
  const body = JSON.parse(x.responseBody);
  assert.equal(body.code, status);
  assert.equal(typeof body.message, 'string');
  assert.ok(body.message.length > 0);
  return body;
}

/** Whether an SDK error's text carries the server's message (the SDK JSON-encodes it). */
function carries(err, message) {
  const text = err && err.message ? err.message : '';
  return text.includes(message) || text.includes(JSON.stringify(message).slice(1, -1));
}

/**
 * Asserts that no event matching `pred` reached `client`: sends a REST signal as a marker
 * and waits for it; the room delivers in order, so anything sent before it arrived first.
 */
async function assertNoneBefore(sid, client, name, pred, what) {
  const m = marker();
  await must('signal', sid, null, { type: m, data: m });
  const markAt = await client.waitEvent('signal', (e) => e.type === m);
  const upTo = client.events.indexOf(markAt);
  const bad = client.events.slice(0, upTo).find((e) => e.event === name && pred(e));
  assert.equal(bad, undefined, `${what}: ${JSON.stringify(bad)}`);
}

const streamCreated = (c, id) => c.waitEvent('streamCreated', (e) => e.stream.streamId === id);
const audioOff = (id) => (e) => e.stream.streamId === id && e.changedProperty === 'hasAudio';

// ---------------------------------------------------------------------------------------
// Sessions and tokens (option coverage is in sessions.test.mjs / tokens.test.mjs)

compatTest({ method: 'createSession', operation: 'Create a session', feature: 'sessions and tokens' }, async (rec) => {
  const mark = exchanges.length;
  const session = await must('createSession', { mediaMode: 'routed' });
  exchange(mark, 'POST', '/session/create', 200);
  assert.match(session.sessionId, /^[12]_[A-Za-z0-9_-]+$/);
  const c = await subscriber(server, tok(session.sessionId), 'subscriber');
  await c.stop();
  rec.note = 'POST /session/create 200; a live client joins the session (every option: sessions.test.mjs)';
});

compatTest({ method: 'generateToken', operation: 'Generate a client token', feature: 'sessions and tokens' }, async (rec) => {
  const sid = await newSession();
  for (const t1 of [false, true]) {
    const data = `user=${t1 ? 't1' : 'jwt'}`;
    const c = await subscriber(server, ot.generateToken(sid, { role: 'moderator', data }, t1), `subscriber ${data}`);
    const ev = c.events.find((e) => e.event === 'sessionConnected');
    assert.equal(ev.connection.data, data);
    await c.stop();
  }
  rec.note = 'JWT and T1 tokens connect live clients with their connection data (every role and refusal: tokens/connect tests)';
});

// ---------------------------------------------------------------------------------------
// Signals

compatTest({ method: 'signal', operation: 'Signal every client in a session', feature: 'signaling' }, async (rec) => {
  const sid = await newSession();
  const a = await subscriber(server, tok(sid, { role: 'subscriber' }), 'subscriber A');
  const b = await subscriber(server, tok(sid, { role: 'subscriber' }), 'subscriber B');
  const mark = exchanges.length;
  const payload = { type: 'chat', data: 'hello everyone ✓ {"json": true}' };
  await must('signal', sid, null, payload);
  const x = exchange(mark, 'POST', `${P}/session/${sid}/signal`, 204);
  assert.deepEqual(JSON.parse(x.requestBody), payload);
  for (const c of [a, b]) {
    const ev = await c.waitEvent('signal', (e) => e.type === 'chat');
    assert.equal(ev.data, payload.data);
    assert.equal(ev.from, null);
  }
  await Promise.all([a.stop(), b.stop()]);
  rec.note = '204; both subscribers printed the signal with its type and data, from the server (null)';
});

compatTest({ method: 'signal', operation: 'Signal every client in a session', feature: 'signaling', check: 'bad input' }, async (rec) => {
  const sid = await newSession();
  // Nobody connected yet: accepted, delivered to nobody.
  await must('signal', sid, null, { type: 'nobody', data: 'x' });
  // An unknown session: the SDK's 404 error.
  let mark = exchanges.length;
  let r = await run('signal', forgeSessionId(sid), null, { type: 't', data: 'x' });
  assert.ok(r.err instanceof OpenTok.SignalError, errorText(r.err));
  assert.equal(r.err.message, 'Session or Connection not found');
  errorBody(since(mark)[0], 404);
  // Data over 8 kB: 413, and the SDK's error carries the server's message.
  mark = exchanges.length;
  r = await run('signal', sid, null, { type: 't', data: 'x'.repeat(8 * 1024 + 1) });
  let body = errorBody(exchange(mark, 'POST', `${P}/session/${sid}/signal`, 413), 413);
  assert.ok(r.err instanceof OpenTok.RequestError, errorText(r.err));
  assert.ok(carries(r.err, body.message), errorText(r.err));
  // A type with characters outside A-Z a-z 0-9 - _ ~ : 400.
  mark = exchanges.length;
  r = await run('signal', sid, null, { type: 'not allowed!', data: 'x' });
  body = errorBody(exchange(mark, 'POST', `${P}/session/${sid}/signal`, 400), 400);
  assert.ok(carries(r.err, body.message), errorText(r.err));
  // A type over 128 characters: 413 or 400, never 5xx.
  mark = exchanges.length;
  r = await run('signal', sid, null, { type: 't'.repeat(129), data: 'x' });
  assert.ok(r.err, 'a 129-character type was accepted');
  assert.ok([400, 413].includes(since(mark)[0].status), describeExchanges(since(mark)));
  rec.note = 'nobody connected: 204; unknown session: SignalError (404); data > 8 kB: 413, type with "!": 400, type > 128 chars: 4xx, each a RequestError with the server message';
});

compatTest({ method: 'signal', operation: 'Signal one connection', feature: 'signaling' }, async (rec) => {
  const sid = await newSession();
  const a = await subscriber(server, tok(sid, { role: 'subscriber' }), 'subscriber A');
  const b = await subscriber(server, tok(sid, { role: 'subscriber' }), 'subscriber B');
  const mark = exchanges.length;
  await must('signal', sid, a.connectionId, { type: 'private', data: 'for A only' });
  exchange(mark, 'POST', `${P}/session/${sid}/connection/${a.connectionId}/signal`, 204);
  const ev = await a.waitEvent('signal', (e) => e.type === 'private');
  assert.equal(ev.data, 'for A only');
  assert.equal(ev.from, null);
  await assertNoneBefore(sid, b, 'signal', (e) => e.type === 'private', 'subscriber B got the signal sent to A');
  await Promise.all([a.stop(), b.stop()]);
  rec.note = '204; only the addressed subscriber printed the signal';
});

compatTest({ method: 'signal', operation: 'Signal one connection', feature: 'signaling', check: 'unknown connection' }, async (rec) => {
  const sid = await newSession();
  const a = await subscriber(server, tok(sid), 'subscriber A');
  const mark = exchanges.length;
  const r = await run('signal', sid, '00000000-0000-4000-8000-000000000000', { type: 't', data: 'x' });
  assert.ok(r.err instanceof OpenTok.SignalError, errorText(r.err));
  assert.equal(r.err.message, 'Session or Connection not found');
  errorBody(exchange(mark, 'POST', `${P}/session/${sid}/connection/00000000-0000-4000-8000-000000000000/signal`, 404), 404);
  await a.stop();
  rec.note = 'unknown connection: 404, the SDK\'s SignalError "Session or Connection not found"';
});

// ---------------------------------------------------------------------------------------
// Force disconnect

compatTest({ method: 'forceDisconnect', operation: 'Force a client to disconnect', feature: 'moderation' }, async (rec) => {
  const sid = await newSession();
  const observer = await subscriber(server, tok(sid, { role: 'subscriber' }), 'observer');
  const victim = await subscriber(server, tok(sid, { role: 'subscriber' }), 'victim');
  await observer.waitEvent('connectionCreated', (e) => e.connection.connectionId === victim.connectionId);
  const mark = exchanges.length;
  await must('forceDisconnect', sid, victim.connectionId);
  exchange(mark, 'DELETE', `${P}/session/${sid}/connection/${victim.connectionId}`, 204);
  const gone = await victim.waitEvent('sessionDisconnected');
  assert.equal(gone.reason, 'forceDisconnected');
  const { code } = await victim.waitExit();
  assert.equal(code, 0, victim.describe());
  assert.equal(victim.events.at(-1).event, 'summary');
  const destroyed = await observer.waitEvent('connectionDestroyed', (e) => e.connection.connectionId === victim.connectionId);
  assert.equal(destroyed.reason, 'forceDisconnected');
  await observer.stop();
  rec.note = '204; the client printed sessionDisconnected (forceDisconnected) and exited; others saw connectionDestroyed (forceDisconnected)';
});

compatTest({ method: 'forceDisconnect', operation: 'Force a client to disconnect', feature: 'moderation', check: 'a publisher' }, async (rec) => {
  const sid = await newSession();
  const observer = await subscriber(server, tok(sid, { role: 'subscriber' }), 'observer');
  const pub = await publisher(server, tok(sid), media, { name: 'to be removed' });
  await streamCreated(observer, pub.streamId);
  await must('forceDisconnect', sid, pub.connectionId);
  const sd = await observer.waitEvent('streamDestroyed', (e) => e.stream.streamId === pub.streamId);
  assert.equal(sd.reason, 'forceDisconnected');
  const cd = await observer.waitEvent('connectionDestroyed', (e) => e.connection.connectionId === pub.connectionId);
  assert.equal(cd.reason, 'forceDisconnected');
  await pub.waitStderr(/the server ended the session \(forceDisconnected\)/);
  assert.equal((await pub.waitExit()).code, 0, pub.describe());
  const left = await must('listStreams', sid);
  assert.deepEqual(left.map((s) => s.id), []);
  await observer.stop();
  rec.note = 'the publisher was told forceDisconnected and exited; others saw streamDestroyed and connectionDestroyed (forceDisconnected); the stream left listStreams';
});

compatTest({ method: 'forceDisconnect', operation: 'Force a client to disconnect', feature: 'moderation', check: 'unknown connection' }, async (rec) => {
  const sid = await newSession();
  // Nobody connected at all, then an unknown connection in a live session.
  let mark = exchanges.length;
  let r = await run('forceDisconnect', sid, 'no-such-connection');
  assert.ok(r.err instanceof OpenTok.ForceDisconnectError, errorText(r.err));
  errorBody(exchange(mark, 'DELETE', `${P}/session/${sid}/connection/no-such-connection`, 404), 404);
  const a = await subscriber(server, tok(sid), 'subscriber');
  mark = exchanges.length;
  r = await run('forceDisconnect', sid, 'no-such-connection');
  assert.ok(r.err instanceof OpenTok.ForceDisconnectError, errorText(r.err));
  assert.equal(r.err.message, 'Session or Connection not found');
  errorBody(exchange(mark, 'DELETE', `${P}/session/${sid}/connection/no-such-connection`, 404), 404);
  await a.stop();
  rec.note = 'unknown connection (empty or live session): 404, the SDK\'s ForceDisconnectError';
});

// ---------------------------------------------------------------------------------------
// Force mute

compatTest({ method: 'forceMuteStream', operation: 'Mute one stream', feature: 'moderation' }, async (rec) => {
  const sid = await newSession();
  const observer = await subscriber(server, tok(sid, { role: 'subscriber' }), 'observer');
  const pa = await publisher(server, tok(sid), media, { name: 'A' });
  const pb = await publisher(server, tok(sid), media, { name: 'B' });
  for (const p of [pa, pb]) assert.equal((await streamCreated(observer, p.streamId)).stream.hasAudio, true);
  const mark = exchanges.length;
  await must('forceMuteStream', sid, pa.streamId);
  exchange(mark, 'POST', `${P}/session/${sid}/stream/${pa.streamId}/mute`, 200);
  const ev = await observer.waitEvent('streamPropertyChanged', audioOff(pa.streamId));
  assert.equal(ev.oldValue, true);
  assert.equal(ev.newValue, false);
  assert.equal(ev.stream.hasAudio, false);
  await pa.waitStderr(/a moderator muted the stream/);
  await assertNoneBefore(sid, observer, 'streamPropertyChanged', audioOff(pb.streamId), 'stream B was muted too');
  await Promise.all([observer.stop(), pa.stop(), pb.stop()]);
  rec.note = '200; others saw streamPropertyChanged hasAudio true→false for that stream only; its publisher was told';
});

compatTest({ method: 'forceMuteStream', operation: 'Mute one stream', feature: 'moderation', check: 'unknown stream' }, async (rec) => {
  const sid = await newSession();
  const a = await subscriber(server, tok(sid), 'subscriber');
  const mark = exchanges.length;
  const r = await run('forceMuteStream', sid, 'no-such-stream');
  assert.ok(r.err instanceof OpenTok.NotFoundError, errorText(r.err));
  errorBody(exchange(mark, 'POST', `${P}/session/${sid}/stream/no-such-stream/mute`, 404), 404);
  await a.stop();
  rec.note = 'unknown stream: 404, the SDK\'s NotFoundError';
});

compatTest({ method: 'forceMuteAll', operation: 'Mute all streams, with exclusions', feature: 'moderation' }, async (rec) => {
  const sid = await newSession();
  const observer = await subscriber(server, tok(sid, { role: 'subscriber' }), 'observer');
  const pa = await publisher(server, tok(sid), media, { name: 'A' });
  const pb = await publisher(server, tok(sid), media, { name: 'B (excluded)' });
  for (const p of [pa, pb]) await streamCreated(observer, p.streamId);
  const mark = exchanges.length;
  // The SDK's docs spell the option `excudedStreamIds`; it sends the options object as is.
  await must('forceMuteAll', sid, { excudedStreamIds: [pb.streamId] });
  const x = exchange(mark, 'POST', `${P}/session/${sid}/mute`, 200);
  assert.deepEqual(JSON.parse(x.requestBody), { excudedStreamIds: [pb.streamId], active: true });
  const ev = await observer.waitEvent('streamPropertyChanged', audioOff(pa.streamId));
  assert.equal(ev.newValue, false);
  await pa.waitStderr(/a moderator muted the stream/);
  await assertNoneBefore(sid, observer, 'streamPropertyChanged', audioOff(pb.streamId), 'the excluded stream was muted');
  // A stream published while "mute all" is on starts muted.
  const pc = await publisher(server, tok(sid), media, { name: 'C (later)' });
  const created = await streamCreated(observer, pc.streamId);
  assert.equal(created.stream.hasAudio, false, 'a stream published after forceMuteAll was not muted');
  await pc.waitStderr(/a moderator muted the stream/);
  await Promise.all([observer.stop(), pa.stop(), pb.stop(), pc.stop()]);
  rec.note = 'sent {excudedStreamIds, active: true}: 200; only the non-excluded stream went hasAudio false; a stream published afterwards started muted';
});

compatTest({ method: 'forceMuteAll', operation: 'Mute all streams, with exclusions', feature: 'moderation', check: 'bad input' }, async (rec) => {
  const sid = await newSession();
  let mark = exchanges.length;
  let r = await run('forceMuteAll', sid, { excludedStreamIds: 'not-a-list' });
  const body = errorBody(exchange(mark, 'POST', `${P}/session/${sid}/mute`, 400), 400);
  assert.ok(r.err instanceof OpenTok.RequestError && carries(r.err, body.message), errorText(r.err));
  mark = exchanges.length;
  r = await run('forceMuteAll', forgeSessionId(sid), {});
  assert.ok(r.err instanceof OpenTok.NotFoundError, errorText(r.err));
  errorBody(since(mark)[0], 404);
  rec.note = 'excludedStreamIds not a list: 400 with the server message in the RequestError; unknown session: NotFoundError (404)';
});

compatTest({ method: 'disableForceMute', operation: 'Lift "mute all"', feature: 'moderation' }, async (rec) => {
  const sid = await newSession();
  // Called before anyone joined: it still covers every stream published afterwards.
  await must('forceMuteAll', sid, {});
  const observer = await subscriber(server, tok(sid, { role: 'subscriber' }), 'observer');
  const pc = await publisher(server, tok(sid), media, { name: 'during' });
  assert.equal((await streamCreated(observer, pc.streamId)).stream.hasAudio, false, 'published during mute-all, yet not muted');
  const mark = exchanges.length;
  await must('disableForceMute', sid);
  const x = exchange(mark, 'POST', `${P}/session/${sid}/mute`, 200);
  assert.deepEqual(JSON.parse(x.requestBody), { active: false });
  const pd = await publisher(server, tok(sid), media, { name: 'after' });
  assert.equal((await streamCreated(observer, pd.streamId)).stream.hasAudio, true, 'published after disableForceMute, yet muted');
  await assertNoneBefore(sid, observer, 'streamPropertyChanged', audioOff(pd.streamId), 'the stream published after disableForceMute was muted');
  await Promise.all([observer.stop(), pc.stop(), pd.stop()]);
  rec.note = 'sent {active: false}: 200; a stream published between forceMuteAll (called before anyone joined) and it started muted, one published after it did not';
});

// ---------------------------------------------------------------------------------------
// Streams: list, get, layout class lists. One session with two publishers.

let streamsSetup;
function streamsSession() {
  streamsSetup ??= (async () => {
    const sid = await newSession();
    const observer = await subscriber(server, tok(sid, { role: 'subscriber' }), 'observer');
    const pa = await publisher(server, tok(sid, { initialLayoutClassList: ['focus'] }), media, { name: 'Caméra 1' });
    const pb = await publisher(server, tok(sid), media, { name: 'B', audio: false });
    for (const p of [pa, pb]) await streamCreated(observer, p.streamId);
    return { sid, observer, pa, pb };
  })();
  return streamsSetup;
}

const plain = (s) => ({ ...s });
const byId = (a, b) => (a.id < b.id ? -1 : 1);

compatTest({ method: 'listStreams', operation: 'List the streams of a session', feature: 'streams' }, async (rec) => {
  const { sid, pa, pb } = await streamsSession();
  const mark = exchanges.length;
  const list = await must('listStreams', sid);
  const x = exchange(mark, 'GET', `${P}/session/${sid}/stream`, 200);
  assert.equal(x.contentType, 'application/json');
  assert.equal(JSON.parse(x.responseBody).count, 2);
  assert.deepEqual(list.map(plain).sort(byId), [
    { id: pa.streamId, videoType: 'camera', name: 'Caméra 1', layoutClassList: ['focus'] },
    { id: pb.streamId, videoType: 'camera', name: 'B', layoutClassList: [] },
  ].sort(byId));
  // A session nobody joined has no streams.
  assert.deepEqual(await must('listStreams', await newSession()), []);
  rec.note = '{count, items}: both live streams with id, name (UTF-8), videoType camera and the token\'s initial layout classes; none for an empty session';
});

compatTest({ method: 'getStream', operation: 'Get one stream', feature: 'streams' }, async (rec) => {
  const { sid, pa, pb } = await streamsSession();
  const mark = exchanges.length;
  const s = await must('getStream', sid, pa.streamId);
  exchange(mark, 'GET', `${P}/session/${sid}/stream/${pa.streamId}`, 200);
  assert.ok(s instanceof Object);
  assert.deepEqual(plain(s), { id: pa.streamId, videoType: 'camera', name: 'Caméra 1', layoutClassList: ['focus'] });
  assert.deepEqual(plain(await must('getStream', sid, pb.streamId)), { id: pb.streamId, videoType: 'camera', name: 'B', layoutClassList: [] });
  rec.note = 'a Stream with the published id, name (UTF-8), videoType and layout classes';
});

compatTest({ method: 'getStream', operation: 'Get one stream', feature: 'streams', check: 'unknown stream' }, async (rec) => {
  const { sid } = await streamsSession();
  const mark = exchanges.length;
  const r = await run('getStream', sid, 'no-such-stream');
  assert.ok(r.err instanceof OpenTok.NotFoundError, errorText(r.err));
  errorBody(exchange(mark, 'GET', `${P}/session/${sid}/stream/no-such-stream`, 404), 404);
  rec.note = 'unknown stream: 404, the SDK\'s NotFoundError';
});

compatTest({ method: 'setStreamClassLists', operation: 'Set layout class lists of streams', feature: 'streams' }, async (rec) => {
  const { sid, pa, pb } = await streamsSession();
  const mark = exchanges.length;
  await must('setStreamClassLists', sid, [
    { id: pa.streamId, layoutClassList: ['full', 'focus'] },
    { id: pb.streamId, layoutClassList: ['small'] },
  ]);
  exchange(mark, 'PUT', `${P}/session/${sid}/stream`, 200);
  assert.deepEqual((await must('getStream', sid, pa.streamId)).layoutClassList, ['full', 'focus']);
  const listed = Object.fromEntries((await must('listStreams', sid)).map((s) => [s.id, s.layoutClassList]));
  assert.deepEqual(listed, { [pa.streamId]: ['full', 'focus'], [pb.streamId]: ['small'] });
  // Clearing one list.
  await must('setStreamClassLists', sid, [{ id: pb.streamId, layoutClassList: [] }]);
  assert.deepEqual((await must('getStream', sid, pb.streamId)).layoutClassList, []);
  rec.note = '200; getStream and listStreams read the new lists back; an empty list clears';
});

compatTest({ method: 'setStreamClassLists', operation: 'Set layout class lists of streams', feature: 'streams', check: 'bad input' }, async (rec) => {
  const { sid, pa } = await streamsSession();
  const before = (await must('getStream', sid, pa.streamId)).layoutClassList;
  // A class with a space: 400, and nothing changes (all or none).
  let mark = exchanges.length;
  let r = await run('setStreamClassLists', sid, [{ id: pa.streamId, layoutClassList: ['ok'] }, { id: pa.streamId, layoutClassList: ['has space'] }]);
  let body = errorBody(exchange(mark, 'PUT', `${P}/session/${sid}/stream`, 400), 400);
  assert.ok(r.err instanceof OpenTok.RequestError && carries(r.err, body.message), errorText(r.err));
  assert.deepEqual((await must('getStream', sid, pa.streamId)).layoutClassList, before);
  // An unknown stream among known ones: 404, nothing changes.
  mark = exchanges.length;
  r = await run('setStreamClassLists', sid, [{ id: pa.streamId, layoutClassList: ['x'] }, { id: 'no-such-stream', layoutClassList: ['y'] }]);
  assert.ok(r.err instanceof OpenTok.NotFoundError, errorText(r.err));
  body = errorBody(exchange(mark, 'PUT', `${P}/session/${sid}/stream`, 404), 404);
  assert.deepEqual((await must('getStream', sid, pa.streamId)).layoutClassList, before);
  // No items at all: 400.
  mark = exchanges.length;
  r = await run('setStreamClassLists', sid, []);
  body = errorBody(exchange(mark, 'PUT', `${P}/session/${sid}/stream`, 400), 400);
  assert.ok(carries(r.err, body.message), errorText(r.err));
  rec.note = 'a class with a space or no items: 400 with the server message; an unknown stream: NotFoundError (404); nothing changed on refusal';
});

// ---------------------------------------------------------------------------------------

test('no request of this suite got a 5xx answer', async () => {
  await stopAllClients();
  const bad = exchanges.filter((x) => x.status >= 500);
  assert.deepEqual(bad, [], describeExchanges(bad));
});
