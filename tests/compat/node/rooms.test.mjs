// Live compatibility: the official `telnyx` Node SDK (7.24) driving Parlor's Telnyx Video
// Rooms API (`/v2`, credential `API key:API secret`): rooms (create, retrieve, update,
// delete, list with filters and auto-pagination), join client tokens (generate, refresh),
// room sessions and participants made by native clients joining (`parlor client ...
// --session ROOM_ID --token JOIN_TOKEN`), and the session actions (end, kick, mute, unmute)
// with their effect on those clients. Errors must be Telnyx's `{errors: [...]}` with the
// SDK's typed error classes; nothing may get a 5xx or a 409 (the SDKs retry both).
// Rows and sessions appear asynchronously: every wait polls, none sleeps.
// Each test but the last records its result for the SDK method it checks (compatTest:
// results/telnyx-node-rooms.json, rendered by compat_table.py); tests of one scenario share
// what an earlier one made (`need`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './helpers.mjs';
import { makeMedia } from './live.mjs';
import {
  Telnyx, telnyxClient, credential, raw, exchanges, since, oneExchange, describeExchanges,
  assertNoServerErrors, sdkError, expectApiError, checkErrors, eachCase, E, uniqueName, randomUuid, UUID_RE,
  isoTime, utcDate, jwtParts, collect, poll, joinSubscriber, startSubscriber, joinPublisher,
  stopAllRoomClients, compatSuite, need,
} from './telnyx_sdk.mjs';

const compatTest = compatSuite('rooms');
const ROOMS = 'rooms';
const TOKENS = 'join tokens';
const SESSIONS = 'room sessions';
const PARTICIPANTS = 'participants';
const ACTIONS = 'session actions';
const ERRORS = 'errors';

let server;
let tx;
let media;

before(async () => {
  server = await startServer();
  tx = telnyxClient(server);
  media = makeMedia();
});

after(async () => {
  await stopAllRoomClients();
  if (media) media.remove();
  if (!server) return;
  const { code, signal } = await server.stop();
  assert.equal(signal, null, `parlor serve did not exit after SIGTERM\n${server.stderr}`);
  assert.equal(code, 0, `parlor serve exited with ${code}\n${server.stderr}`);
});

const DAY = 24 * 3600 * 1000;

// --- small helpers --------------------------------------------------------------------------

async function newRoom(params = {}) {
  return (await tx.rooms.create({ unique_name: uniqueName(), ...params })).data;
}

async function joinToken(roomId, params = {}) {
  return (await tx.rooms.actions.generateJoinClientToken(roomId, params)).data;
}

/** The rooms `list` returns for `filter` (all pages). */
const listRooms = (filter, extra = {}) => collect(tx.rooms.list({ filter, ...extra }));

/** The room's active session id, once the server has one. */
const activeSessionOf = (roomId) => poll(`room ${roomId} to get an active session`,
  async () => (await tx.rooms.retrieve(roomId)).data.active_session_id);

/** Polls the room session until `pred(session)`; returns the session (with participants). */
const sessionWhen = (sessionId, what, pred) => poll(`session ${sessionId}: ${what}`, async () => {
  const s = (await tx.rooms.sessions.retrieve(sessionId, { include_participants: true })).data;
  return pred(s) ? s : null;
});

const participantsOf = (sessionId, query = {}) => collect(tx.rooms.sessions.retrieveParticipants(sessionId, query));

/** Polls until the participant `id` has left (`left_at` set); returns it. */
const leftParticipant = (id) => poll(`participant ${id} to have left`, async () => {
  const p = (await tx.roomParticipants.retrieve(id)).data;
  return p.left_at ? p : null;
});

function checkRoom(room) {
  assert.match(room.id, UUID_RE, `room id ${room.id}`);
  assert.equal(room.record_type, 'room');
  isoTime(room.created_at, 'room.created_at');
  isoTime(room.updated_at, 'room.updated_at');
}

function checkSession(s, roomId) {
  assert.match(s.id, UUID_RE, `session id ${s.id}`);
  assert.equal(s.record_type, 'room_session');
  assert.equal(s.room_id, roomId);
  assert.equal(typeof s.active, 'boolean');
  isoTime(s.created_at, 'session.created_at');
  isoTime(s.updated_at, 'session.updated_at');
  if (s.active) assert.equal(s.ended_at ?? null, null, `an active session has ended_at ${s.ended_at}`);
  else isoTime(s.ended_at, 'session.ended_at');
}

function checkParticipant(p, sessionId) {
  assert.equal(typeof p.id, 'string');
  assert.equal(p.record_type, 'room_participant');
  assert.equal(p.session_id, sessionId);
  isoTime(p.joined_at, 'participant.joined_at');
  isoTime(p.updated_at, 'participant.updated_at');
}

const audioOff = (streamId) => (e) => e.stream && e.stream.streamId === streamId && e.changedProperty === 'hasAudio' && e.newValue === false;

/**
 * Nothing matching `pred` reached `observer` before now: a new participant joins as a marker,
 * and the room tells `observer` about it (connectionCreated) after anything sent earlier.
 */
async function assertNoneBefore(roomId, observer, name, pred, what) {
  const m = await joinSubscriber(server, roomId, (await joinToken(roomId)).token, 'marker');
  const at = await observer.waitEvent('connectionCreated', (e) => e.connection.connectionId === m.participantId);
  const bad = observer.events.slice(0, observer.events.indexOf(at)).find((e) => e.event === name && pred(e));
  assert.equal(bad, undefined, `${what}: ${JSON.stringify(bad)}`);
  await m.stop();
}

// --- rooms ----------------------------------------------------------------------------------

/** The room created with every field (the create test), read back by retrieve and list. */
let everyField;

compatTest('rooms.create with every field: 201 with every field as sent', { method: 'rooms.create', operation: 'Create a room', feature: ROOMS }, async (rec) => {
  const params = {
    unique_name: uniqueName('every-field'),
    max_participants: 7,
    enable_recording: true,
    webhook_event_url: 'https://example.com/telnyx/events',
    webhook_event_failover_url: 'http://127.0.0.1:9/failover',
    webhook_timeout_secs: 12,
  };
  const t0 = Date.now();
  const mark = exchanges.length;
  const room = (await tx.rooms.create(params)).data;
  const t1 = Date.now();
  everyField = { params, room };
  const x = oneExchange(mark, 'POST', '/v2/rooms', 201);
  assert.equal(x.authorization, `Bearer ${credential(server)}`);
  assert.deepEqual(JSON.parse(x.requestBody), params);
  assert.match(x.contentType, /^application\/json\b/);
  checkRoom(room);
  for (const [k, v] of Object.entries(params)) assert.equal(room[k], v, `room.${k}`);
  assert.equal(room.active_session_id, null, 'a new room has no active session (null)');
  const created = isoTime(room.created_at);
  assert.ok(created >= t0 - 2000 && created <= t1 + 2000, `created_at ${room.created_at} not within the call`);
  rec.note = 'POST /v2/rooms with every field, Bearer `key:secret`: 201 JSON, the body as given; the room has every '
    + 'field as sent, a UUID id, record_type room, active_session_id null, created_at within the call';
});

compatTest('rooms.retrieve reads the room back', { method: 'rooms.retrieve', operation: 'Retrieve a room', feature: ROOMS }, async (rec) => {
  const { room } = need(everyField, 'the room created with every field');
  const mark = exchanges.length;
  const got = (await tx.rooms.retrieve(room.id)).data;
  oneExchange(mark, 'GET', `/v2/rooms/${room.id}`, 200);
  for (const k of ['id', 'unique_name', 'max_participants', 'enable_recording', 'webhook_event_url',
    'webhook_event_failover_url', 'webhook_timeout_secs', 'active_session_id', 'created_at', 'updated_at', 'record_type']) {
    assert.deepEqual(got[k], room[k], `retrieve: ${k}`);
  }
  rec.note = 'GET /v2/rooms/{id} 200: every field as create returned it';
});

compatTest('rooms.list filtered by unique_name reads the room back', { method: 'rooms.list', operation: 'List rooms', feature: ROOMS }, async (rec) => {
  const { params, room } = need(everyField, 'the room created with every field');
  const mark = exchanges.length;
  const page = await tx.rooms.list({ filter: { unique_name: params.unique_name } });
  const lx = oneExchange(mark, 'GET', '/v2/rooms', 200);
  assert.equal(lx.query, `?filter[unique_name]=${params.unique_name}`);
  assert.deepEqual(page.data.map((r) => r.id), [room.id]);
  assert.deepEqual(page.meta, { page_number: 1, page_size: 20, total_pages: 1, total_results: 1 });
  assert.equal(page.data[0].webhook_timeout_secs, 12);
  rec.note = 'GET /v2/rooms?filter[unique_name]= 200: that room alone, with its fields; '
    + 'meta {page_number 1, page_size 20, total_pages 1, total_results 1}';
});

compatTest('rooms.create without parameters (empty body) and with {}: 201 with defaults', { method: 'rooms.create', operation: 'Create a room', feature: ROOMS, check: 'no parameters' }, async (rec) => {
  for (const args of [[], [{}]]) {
    const mark = exchanges.length;
    const room = (await tx.rooms.create(...args)).data;
    const x = oneExchange(mark, 'POST', '/v2/rooms', 201);
    // Without parameters the SDK sends Content-Type: application/json and no body at all.
    assert.equal(x.requestBody, args.length ? '{}' : null);
    assert.match(x.requestContentType || '', /^application\/json/);
    checkRoom(room);
    assert.equal(room.enable_recording, false, `create(${JSON.stringify(args)}) sent ${JSON.stringify(x.requestBody)}`);
    assert.ok(Number.isInteger(room.max_participants) && room.max_participants >= 1 && room.max_participants <= 100,
      `default max_participants ${room.max_participants}`);
    assert.equal(room.active_session_id, null);
  }
  rec.note = 'without parameters (the SDK sends Content-Type application/json and no body) and with {}: 201 with '
    + 'the defaults (enable_recording false, max_participants within 1..100)';
});

compatTest('rooms.create: boundary values are accepted', { method: 'rooms.create', operation: 'Create a room', feature: ROOMS, check: 'boundary values' }, async (rec) => {
  for (const params of [
    { max_participants: 2 }, { max_participants: 50 }, { webhook_timeout_secs: 0 }, { webhook_timeout_secs: 30 },
    { webhook_event_url: 'http://localhost:8080/hook' }, { enable_recording: false },
  ]) {
    const room = await newRoom(params);
    for (const [k, v] of Object.entries(params)) assert.equal(room[k], v, `${JSON.stringify(params)}: room.${k}`);
  }
  rec.note = 'max_participants 2 and 50, webhook_timeout_secs 0 and 30, an http://localhost webhook URL and '
    + 'enable_recording false are accepted and read back';
});

compatTest('rooms.create: invalid values get 422 UnprocessableEntityError naming the field', { method: 'rooms.create', operation: 'Invalid room fields: 422 naming the field', feature: ERRORS }, async (rec) => {
  const cases = [
    ['max_participants', 0], ['max_participants', 101], ['max_participants', -3], ['max_participants', 2.5],
    ['max_participants', 'ten'],
    ['webhook_event_url', 'not a url'], ['webhook_event_url', 'ftp://example.com/hook'], ['webhook_event_url', 42],
    ['webhook_event_failover_url', 'example.com/no-scheme'],
    ['webhook_timeout_secs', 31], ['webhook_timeout_secs', -1], ['webhook_timeout_secs', '5s'],
    ['enable_recording', 'yes'],
    ['unique_name', 17],
  ];
  await eachCase(cases, ([field, value]) => `${field} = ${JSON.stringify(value)}`, async ([field, value]) => {
    const name = uniqueName('invalid');
    const body = { unique_name: name, [field]: value };
    await expectApiError(tx.rooms.create(body), [E[422]], { pointer: `/${field}`, mentions: field });
    if (field !== 'unique_name') assert.deepEqual(await listRooms({ unique_name: name }), [], 'a refused create made a room');
  });
  rec.note = `create with ${cases.length} invalid values (max_participants 0, 101, -3, 2.5, "ten"; URLs that are not `
    + 'http(s) or have no scheme; webhook_timeout_secs 31, -1, "5s"; enable_recording "yes"; unique_name 17): each an '
    + 'UnprocessableEntityError 422 {errors} with source.pointer `/{field}` and a detail naming it; no room made';
});

compatTest('rooms.create: a duplicate unique_name gets 422 code 10012; the name is free again after delete', { method: 'rooms.create / rooms.update', operation: 'Duplicate unique_name: 422 code 10012', feature: ERRORS }, async (rec) => {
  const name = uniqueName('dup');
  const first = await newRoom({ unique_name: name });
  await expectApiError(tx.rooms.create({ unique_name: name }), [E[422]], { code: '10012', mentions: 'unique_name' });
  const other = await newRoom();
  await expectApiError(tx.rooms.update(other.id, { unique_name: name }), [E[422]], { code: '10012', mentions: 'unique_name' });
  assert.equal((await tx.rooms.retrieve(other.id)).data.unique_name, other.unique_name);
  // Renaming a room to its own name is no conflict.
  assert.equal((await tx.rooms.update(first.id, { unique_name: name })).data.unique_name, name);
  await tx.rooms.delete(first.id);
  const again = await newRoom({ unique_name: name });
  assert.notEqual(again.id, first.id);
  assert.deepEqual((await listRooms({ unique_name: name })).map((r) => r.id), [again.id]);
  rec.note = 'create and rename to a name in use: UnprocessableEntityError 422 code 10012 naming unique_name, the '
    + 'room unchanged; renaming a room to its own name is no conflict; the name is free again once its room is deleted';
});

compatTest('rooms.update (PATCH): changes only the fields sent; unknown id 404', { method: 'rooms.update', operation: 'Update a room', feature: ROOMS }, async (rec) => {
  const room = await newRoom({ max_participants: 5, webhook_event_url: 'https://example.com/a' });
  let mark = exchanges.length;
  const updated = (await tx.rooms.update(room.id, { max_participants: 9, enable_recording: true, webhook_timeout_secs: 3 })).data;
  const x = oneExchange(mark, 'PATCH', `/v2/rooms/${room.id}`, 200);
  assert.deepEqual(JSON.parse(x.requestBody), { max_participants: 9, enable_recording: true, webhook_timeout_secs: 3 });
  checkRoom(updated);
  assert.equal(updated.id, room.id);
  assert.equal(updated.max_participants, 9);
  assert.equal(updated.enable_recording, true);
  assert.equal(updated.webhook_timeout_secs, 3);
  assert.equal(updated.unique_name, room.unique_name, 'a field not sent changed');
  assert.equal(updated.webhook_event_url, 'https://example.com/a', 'a field not sent changed');
  assert.equal(updated.created_at, room.created_at);
  assert.ok(isoTime(updated.updated_at) >= isoTime(room.updated_at), 'updated_at went back');
  const got = (await tx.rooms.retrieve(room.id)).data;
  assert.deepEqual([got.max_participants, got.enable_recording, got.webhook_timeout_secs], [9, true, 3]);

  // An empty PATCH ({}, or no parameters: no body) changes nothing.
  for (const args of [[{}], []]) {
    mark = exchanges.length;
    const same = (await tx.rooms.update(room.id, ...args)).data;
    assert.equal(oneExchange(mark, 'PATCH', `/v2/rooms/${room.id}`, 200).requestBody, args.length ? '{}' : null);
    assert.equal(same.max_participants, 9);
  }

  await expectApiError(tx.rooms.update(randomUuid(), { max_participants: 3 }), [E[404]], { code: '10005' });
  rec.note = 'PATCH /v2/rooms/{id} 200 with the fields given: those change, the others (unique_name, webhook URL, '
    + 'created_at) do not, updated_at does not go back, retrieve reads the change; {} and no parameters (no body) '
    + 'change nothing; an unknown id: NotFoundError 404 code 10005';
});

compatTest('rooms.update: invalid values get 422 and change nothing', { method: 'rooms.update', operation: 'Invalid room fields: 422 naming the field', feature: ERRORS }, async (rec) => {
  const room = await newRoom({ max_participants: 9, webhook_event_url: 'https://example.com/a', webhook_timeout_secs: 3 });
  await eachCase([['max_participants', 0], ['max_participants', 101], ['webhook_event_url', 'nope'], ['webhook_timeout_secs', 31]],
    ([field, value]) => `PATCH ${field} = ${JSON.stringify(value)}`, async ([field, value]) => {
      const before = (await tx.rooms.retrieve(room.id)).data;
      await expectApiError(tx.rooms.update(room.id, { [field]: value }), [E[422]], { pointer: `/${field}`, mentions: field });
      assert.deepEqual((await tx.rooms.retrieve(room.id)).data, before, 'a refused PATCH changed the room');
    });
  rec.note = 'update with max_participants 0 and 101, webhook_event_url "nope", webhook_timeout_secs 31: each an '
    + 'UnprocessableEntityError 422 with source.pointer `/{field}`; the room reads back unchanged';
});

compatTest('rooms.delete: 204; then retrieve, update, delete and token generation get 404 10005', { method: 'rooms.delete', operation: 'Delete a room', feature: ROOMS }, async (rec) => {
  const room = await newRoom();
  const mark = exchanges.length;
  const r = await tx.rooms.delete(room.id);
  const x = oneExchange(mark, 'DELETE', `/v2/rooms/${room.id}`, 204);
  assert.equal(x.responseBody, '');
  assert.equal(r, null, 'the SDK resolves a 204 with null');
  await expectApiError(tx.rooms.retrieve(room.id), [E[404]], { code: '10005' });
  await expectApiError(tx.rooms.update(room.id, { max_participants: 3 }), [E[404]], { code: '10005' });
  await expectApiError(tx.rooms.delete(room.id), [E[404]], { code: '10005' });
  await expectApiError(tx.rooms.actions.generateJoinClientToken(room.id, {}), [E[404]], { code: '10005' });
  assert.deepEqual(await listRooms({ unique_name: room.unique_name }), []);
  rec.note = 'DELETE /v2/rooms/{id} 204, empty body (the SDK resolves null); then retrieve, update, delete and '
    + 'generateJoinClientToken get NotFoundError 404 code 10005 and list no longer has it';
});

// --- lists --------------------------------------------------------------------------------

compatTest('rooms.list: auto-pagination with page[size] 2 walks every page once', { method: 'rooms.list', operation: 'Auto-pagination', feature: ROOMS }, async (rec) => {
  const mine = [];
  for (let i = 0; i < 5; i++) mine.push((await newRoom({ unique_name: uniqueName(`page-${i}`) })).id);

  const first = await tx.rooms.list({ 'page[size]': 2 });
  const total = first.meta.total_results;
  assert.ok(total >= 5, `total_results ${total}`);
  assert.deepEqual(first.meta, { page_number: 1, page_size: 2, total_pages: Math.ceil(total / 2), total_results: total });

  const mark = exchanges.length;
  const all = await collect(tx.rooms.list({ 'page[size]': 2 }));
  const xs = since(mark);
  const ids = all.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length, `a room came twice: ${ids}`);
  assert.equal(ids.length, total, `auto-pagination gave ${ids.length} of ${total}`);
  for (const id of mine) assert.ok(ids.includes(id), `room ${id} missing from the walk`);
  assert.equal(xs.length, Math.ceil(total / 2), describeExchanges(xs));
  xs.forEach((x, i) => {
    assert.equal(`${x.method} ${x.path}`, 'GET /v2/rooms');
    assert.equal(x.status, 200, describeExchanges([x]));
    // The SDK's own query encoding: percent-encoded brackets.
    assert.ok(x.rawQuery.includes('page%5Bsize%5D=2'), x.rawQuery);
    const body = JSON.parse(x.responseBody);
    assert.equal(body.meta.page_number, i + 1, describeExchanges([x]));
    assert.equal(body.meta.page_size, 2);
    assert.equal(body.meta.total_results, total);
    assert.ok(body.data.length === 2 || (i === xs.length - 1 && body.data.length >= 1), describeExchanges([x]));
    if (i > 0) assert.ok(x.query.includes(`page[number]=${i + 1}`), x.query);
  });

  // The same pages, asked for one by one (stable order), and in the nested form {page: {size}}.
  const second = await tx.rooms.list({ 'page[size]': 2, 'page[number]': 2 });
  assert.deepEqual(second.data.map((r) => r.id), ids.slice(2, 4));
  assert.equal(second.meta.page_number, 2);
  const nested = await collect(tx.rooms.list({ page: { size: 2 } }));
  assert.deepEqual(nested.map((r) => r.id), ids);
  // Past the last page: no rooms, and the SDK stops there.
  const past = await tx.rooms.list({ 'page[size]': 2, 'page[number]': first.meta.total_pages + 1 });
  assert.deepEqual(past.data, []);
  assert.equal(past.meta.total_results, total);
  // The largest page holds them all.
  const big = await tx.rooms.list({ 'page[size]': 250 });
  assert.deepEqual(big.data.map((r) => r.id), ids);
  assert.deepEqual(big.meta, { page_number: 1, page_size: 250, total_pages: 1, total_results: total });
  rec.note = '`for await` over list({page[size]: 2}) asks for each page once (page[number] 2, 3, …, brackets '
    + 'percent-encoded) and yields every room once; meta page_number/page_size/total_pages/total_results right on '
    + 'each page; page[number] 2 alone, the nested {page: {size}} form, a page past the last (empty) and '
    + 'page[size] 250 agree';
});

compatTest('lists: bad page[size] / page[number] or a bad date filter get 400 or 422 naming the parameter', { method: 'rooms.list / rooms.sessions.list0 / roomParticipants.list', operation: 'Bad page or filter parameters: 400 or 422 naming the parameter', feature: ERRORS }, async (rec) => {
  await eachCase([['page[size]', 0], ['page[size]', 251], ['page[size]', 'x'], ['page[size]', -1],
    ['page[number]', 0], ['page[number]', 'x'], ['page[number]', 1.5]], ([param, value]) => `${param}=${value}`,
  ([param, value]) => expectApiError(tx.rooms.list({ [param]: value }), [E[400], E[422]], { parameter: param }));
  // The same rule on the other lists.
  await expectApiError(tx.rooms.sessions.list0({ 'page[size]': 251 }), [E[400], E[422]], { parameter: 'page[size]' });
  await expectApiError(tx.roomParticipants.list({ 'page[number]': 0 }), [E[400], E[422]], { parameter: 'page[number]' });
  await expectApiError(tx.rooms.list({ filter: { date_created_at: { eq: 'yesterday' } } }), [E[400], E[422]],
    { parameter: 'filter[date_created_at][eq]' });
  rec.note = 'page[size] 0, 251, "x", -1 and page[number] 0, "x", 1.5 on rooms.list, page[size] 251 on '
    + 'sessions.list0, page[number] 0 on roomParticipants.list, filter[date_created_at][eq]=yesterday: each a '
    + '400/422 SDK error {errors} with source.parameter naming it';
});

compatTest('rooms.list: filter[unique_name] with reserved characters, and the date filters', { method: 'rooms.list', operation: 'List rooms with filters', feature: ROOMS }, async (rec) => {
  // Node encodes a space as %20 and the SDK percent-encodes the brackets of every key.
  const name = `${uniqueName('odd')} a+b&c=d/é?`;
  const room = await newRoom({ unique_name: name });
  assert.equal(room.unique_name, name);
  assert.deepEqual((await listRooms({ unique_name: name })).map((r) => r.id), [room.id]);
  assert.deepEqual(await listRooms({ unique_name: `${name}x` }), []);

  const created = isoTime(room.created_at);
  const iso = (ms) => new Date(ms).toISOString();
  const day = utcDate(created);
  const found = async (filter) => (await listRooms({ unique_name: name, ...filter })).map((r) => r.id).includes(room.id);
  const cases = [
    [{ date_created_at: { eq: day } }, true],
    [{ date_created_at: { eq: utcDate(created - DAY) } }, false],
    [{ date_created_at: { eq: utcDate(created + DAY) } }, false],
    [{ date_created_at: { eq: room.created_at } }, true],
    [{ date_created_at: { gte: iso(created - 60000) } }, true],
    [{ date_created_at: { gte: iso(created + 3600000) } }, false],
    [{ date_created_at: { lte: iso(created + 3600000) } }, true],
    [{ date_created_at: { lte: iso(created - 3600000) } }, false],
    [{ date_created_at: { gte: day } }, true],
    [{ date_created_at: { lte: utcDate(created - DAY) } }, false],
    [{ date_created_at: { gte: iso(created - 60000), lte: iso(created + 60000) } }, true],
    [{ date_updated_at: { gte: iso(created - 60000) } }, true],
    [{ date_updated_at: { lte: iso(created - 3600000) } }, false],
    [{ date_updated_at: { eq: day } }, true],
  ];
  for (const [filter, expected] of cases) {
    assert.equal(await found(filter), expected, `filter ${JSON.stringify(filter)} (created_at ${room.created_at})`);
  }
  rec.note = 'filter[unique_name] with a space and + & = / é ? finds the room (and not with one more character); '
    + `${cases.length} date_created_at / date_updated_at filters (eq a date or a timestamp, gte, lte, both) include or `
    + 'exclude it as they should';
});

// --- credentials and malformed requests -----------------------------------------------------

compatTest('credentials: the API key alone, a wrong secret, none, or a join token get 401 code 10009', { method: 'rooms.list / rooms.retrieve / rooms.create', operation: 'Bad credentials: 401 code 10009', feature: ERRORS }, async (rec) => {
  const room = await newRoom();
  const token = (await joinToken(room.id)).token;
  await eachCase([
    ['the public API key alone', server.apiKey],
    ['a wrong secret', `${server.apiKey}:${'0'.repeat(server.apiSecret.length)}`],
    ['an unknown key', `99999999:${server.apiSecret}`],
    ['garbage', 'not-a-credential'],
    ['a join client token', token],
    ['no Authorization header', null],
  ], ([what]) => what, async ([, apiKey]) => {
    const client = telnyxClient(server, { apiKey });
    const mark = exchanges.length;
    await expectApiError(client.rooms.list(), [E[401]], { code: '10009' });
    await expectApiError(client.rooms.retrieve(room.id), [E[401]], { code: '10009' });
    await expectApiError(client.rooms.create({ unique_name: uniqueName('unauth') }), [E[401]], { code: '10009' });
    assert.equal(since(mark)[0].authorization, apiKey === null ? null : `Bearer ${apiKey}`);
  });
  // A Basic scheme with the right pair is not the Rooms API's scheme either.
  const basic = Buffer.from(credential(server)).toString('base64');
  const r = await raw(server, 'GET', '/v2/rooms', { auth: `Basic ${basic}` });
  assert.equal(r.status, 401, r.text);
  checkErrors(r.json, { code: '10009' });
  rec.note = 'the API key alone, a wrong secret, an unknown key, garbage, a join client token and no Authorization '
    + 'header: list, retrieve and create each get AuthenticationError 401 code 10009 (the SDK sends `Bearer {apiKey}`, '
    + 'or no header); Basic with the right pair (by hand) is 401 too';
});

compatTest('malformed JSON bodies get 400; a non-object body 400 or 422', { method: '(none)', operation: 'Malformed JSON bodies: 400', feature: ERRORS }, async (rec) => {
  const room = await newRoom();
  for (const [method, path] of [['POST', '/v2/rooms'], ['PATCH', `/v2/rooms/${room.id}`],
    ['POST', `/v2/rooms/${room.id}/actions/generate_join_client_token`]]) {
    const r = await raw(server, method, path, { body: '{"unique_name": ' });
    assert.equal(r.status, 400, `${method} ${path}: ${r.text}`);
    assert.match(r.contentType || '', /^application\/json\b/);
    checkErrors(r.json);
  }
  for (const body of ['[]', '"room"', '42']) {
    const r = await raw(server, 'POST', '/v2/rooms', { body });
    assert.ok(r.status === 400 || r.status === 422, `body ${body}: ${r.status} ${r.text}`);
    checkErrors(r.json);
  }
  // The empty body of a call without parameters is an empty object.
  const r = await raw(server, 'POST', `/v2/rooms/${room.id}/actions/generate_join_client_token`, { body: '' });
  assert.equal(r.status, 201, r.text);
  rec.note = 'by hand (the SDK always sends valid JSON): truncated JSON to create, update and generate_join_client_token '
    + 'is 400 JSON {errors}; [], "room" and 42 as a create body are 400 or 422 {errors}; an empty body is {}';
});

compatTest('unknown and malformed ids: 404 10005 for unknown ones, 4xx with errors for malformed ones', { method: 'rooms.retrieve / rooms.sessions.retrieve / roomParticipants.retrieve / rooms.actions.generateJoinClientToken / rooms.sessions.actions.* / rooms.delete', operation: 'Unknown and malformed ids: 404 code 10005, or 4xx', feature: ERRORS }, async (rec) => {
  const id = randomUuid();
  await expectApiError(tx.rooms.retrieve(id), [E[404]], { code: '10005' });
  await expectApiError(tx.rooms.sessions.retrieve(id), [E[404]], { code: '10005' });
  await expectApiError(tx.roomParticipants.retrieve(id), [E[404]], { code: '10005' });
  await expectApiError(tx.rooms.actions.generateJoinClientToken(id, {}), [E[404]], { code: '10005' });
  await expectApiError(tx.rooms.sessions.actions.end(id), [E[404]], { code: '10005' });
  await expectApiError(tx.rooms.sessions.actions.kick(id, { participants: 'all' }), [E[404]], { code: '10005' });
  await expectApiError(tx.rooms.sessions.actions.mute(id, { participants: 'all' }), [E[404]], { code: '10005' });
  await expectApiError(tx.rooms.sessions.actions.unmute(id, { participants: 'all' }), [E[404]], { code: '10005' });
  for (const bad of ['not-a-uuid', '12345', 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz']) {
    for (const call of [() => tx.rooms.retrieve(bad), () => tx.rooms.sessions.retrieve(bad), () => tx.rooms.delete(bad)]) {
      const err = await sdkError(call(), E[400], E[404], E[422]);
      checkErrors(err.error);
    }
  }
  rec.note = 'an unknown UUID: room, session and participant retrieve, generateJoinClientToken, and end, kick, mute, '
    + 'unmute each get NotFoundError 404 code 10005; "not-a-uuid", "12345" and a non-hex UUID to room and session '
    + 'retrieve and room delete get a 400/404/422 SDK error with {errors}';
});

// --- join client tokens ----------------------------------------------------------------------

compatTest('generateJoinClientToken: 201, default and boundary TTLs, JWT claims', { method: 'rooms.actions.generateJoinClientToken', operation: 'Generate a join client token', feature: TOKENS }, async (rec) => {
  const room = await newRoom();
  const check = async (params, ttl, refreshTtl) => {
    const mark = exchanges.length;
    const t0 = Date.now();
    const d = (await tx.rooms.actions.generateJoinClientToken(room.id, params)).data;
    const x = oneExchange(mark, 'POST', `/v2/rooms/${room.id}/actions/generate_join_client_token`, 201);
    assert.deepEqual(JSON.parse(x.requestBody), params);
    for (const k of ['token', 'refresh_token']) assert.ok(typeof d[k] === 'string' && d[k].length > 20, `${k}: ${d[k]}`);
    assert.notEqual(d.token, d.refresh_token);
    const exp = isoTime(d.token_expires_at, 'token_expires_at');
    const rexp = isoTime(d.refresh_token_expires_at, 'refresh_token_expires_at');
    assert.ok(Math.abs(exp - (t0 + ttl * 1000)) < 5000, `token_expires_at ${d.token_expires_at} for a TTL of ${ttl} s`);
    assert.ok(Math.abs(rexp - (t0 + refreshTtl * 1000)) < 5000, `refresh_token_expires_at ${d.refresh_token_expires_at} for ${refreshTtl} s`);
    const { payload } = jwtParts(d.token);
    assert.ok(Math.abs(payload.exp * 1000 - exp) <= 1000, `exp ${payload.exp} vs token_expires_at ${d.token_expires_at}`);
    const resources = (payload.grants || []).flatMap((g) => g.resources || []);
    assert.ok(resources.includes(`telnyx:video:rooms:${room.id}`), `grants ${JSON.stringify(payload.grants)}`);
    assert.ok(Math.abs(jwtParts(d.refresh_token).payload.exp * 1000 - rexp) <= 1000, 'refresh token exp');
    return d;
  };
  await check({}, 600, 3600);
  await check({ token_ttl_secs: 10, refresh_token_ttl_secs: 60 }, 10, 60);
  await check({ token_ttl_secs: 3600, refresh_token_ttl_secs: 86400 }, 3600, 86400);
  await check({ token_ttl_secs: 120 }, 120, 3600);
  rec.note = 'POST /v2/rooms/{id}/actions/generate_join_client_token 201 with the body as given: token and '
    + 'refresh_token (JWTs, distinct), token_expires_at / refresh_token_expires_at for the default TTLs (600 s, 3600 s), '
    + '10/60, 3600/86400 and 120 alone; exp claims match, grants name `telnyx:video:rooms:{room_id}`; '
    + 'the tokens join the room (the session tests)';
});

compatTest('generateJoinClientToken: bad TTLs get 422 naming the field', { method: 'rooms.actions.generateJoinClientToken', operation: 'Invalid token TTLs: 422 naming the field', feature: ERRORS }, async (rec) => {
  const room = await newRoom();
  await eachCase([['token_ttl_secs', 9], ['token_ttl_secs', 3601], ['refresh_token_ttl_secs', 59],
    ['refresh_token_ttl_secs', 86401], ['token_ttl_secs', 'long'], ['token_ttl_secs', 30.5]],
  ([field, value]) => `${field} = ${JSON.stringify(value)}`,
  ([field, value]) => expectApiError(tx.rooms.actions.generateJoinClientToken(room.id, { [field]: value }), [E[422]],
    { pointer: `/${field}`, mentions: field }));
  rec.note = 'token_ttl_secs 9, 3601, "long", 30.5 and refresh_token_ttl_secs 59, 86401: each an '
    + 'UnprocessableEntityError 422 with source.pointer `/{field}` and a detail naming it';
});

compatTest('refreshClientToken: a reusable refresh token gives new join tokens', { method: 'rooms.actions.refreshClientToken', operation: 'Refresh a join client token', feature: TOKENS }, async (rec) => {
  const room = await newRoom();
  const issued = await joinToken(room.id, { token_ttl_secs: 60 });
  const refreshed = [];
  for (const params of [{ refresh_token: issued.refresh_token, token_ttl_secs: 30 }, { refresh_token: issued.refresh_token }]) {
    const mark = exchanges.length;
    const t0 = Date.now();
    const d = (await tx.rooms.actions.refreshClientToken(room.id, params)).data;
    const x = oneExchange(mark, 'POST', `/v2/rooms/${room.id}/actions/refresh_client_token`);
    assert.ok(x.status === 200 || x.status === 201, describeExchanges([x]));
    assert.deepEqual(JSON.parse(x.requestBody), params);
    assert.ok(typeof d.token === 'string' && d.token.length > 20);
    const ttl = params.token_ttl_secs ?? 600;
    const exp = isoTime(d.token_expires_at, 'token_expires_at');
    assert.ok(Math.abs(exp - (t0 + ttl * 1000)) < 5000, `token_expires_at ${d.token_expires_at} for ${ttl} s`);
    assert.ok(Math.abs(jwtParts(d.token).payload.exp * 1000 - exp) <= 1000);
    refreshed.push(d.token);
  }
  // A refreshed token joins the room.
  const c = await joinSubscriber(server, room.id, refreshed[1], 'refreshed');
  await c.stop();
  rec.note = 'POST /v2/rooms/{id}/actions/refresh_client_token 200/201 with the body as given, twice with the same '
    + 'refresh token: a new token, token_expires_at for token_ttl_secs 30 and the default 600 s, matching its exp '
    + 'claim; a refreshed token joins the room';
});

compatTest('refreshClientToken: forged, foreign or missing refresh tokens and bad TTLs are refused', { method: 'rooms.actions.refreshClientToken', operation: 'Bad refresh requests: 401 or 422', feature: ERRORS }, async (rec) => {
  const room = await newRoom();
  const other = await newRoom();
  const issued = await joinToken(room.id, { token_ttl_secs: 60 });
  const otherIssued = await joinToken(other.id);
  const tampered = `${issued.refresh_token.slice(0, -4)}${issued.refresh_token.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
  await eachCase([
    ['garbage', 'not-a-token'],
    ['a tampered signature', tampered],
    ['an access token', issued.token],
    ["another room's refresh token", otherIssued.refresh_token],
  ], ([what]) => what,
  ([, refresh]) => expectApiError(tx.rooms.actions.refreshClientToken(room.id, { refresh_token: refresh }), [E[401], E[422]]));
  await expectApiError(tx.rooms.actions.refreshClientToken(room.id, {}), [E[422]], { mentions: 'refresh_token' });
  await expectApiError(tx.rooms.actions.refreshClientToken(room.id, { refresh_token: issued.refresh_token, token_ttl_secs: 9 }),
    [E[422]], { mentions: 'token_ttl_secs' });
  await expectApiError(tx.rooms.actions.refreshClientToken(randomUuid(), { refresh_token: issued.refresh_token }), [E[404], E[401], E[422]]);
  rec.note = 'garbage, a tampered signature, an access token and another room\'s refresh token: 401 or 422 {errors}; '
    + 'no refresh_token and token_ttl_secs 9: 422 naming the field; an unknown room: 404, 401 or 422 {errors}';
});

compatTest('a join token joins its own room only', { method: 'rooms.actions.generateJoinClientToken', operation: 'Join a room with a join token', feature: TOKENS }, async (rec) => {
  const a = await newRoom();
  const b = await newRoom();
  const tokenA = (await joinToken(a.id)).token;
  const wrong = startSubscriber(server, b.id, tokenA, 'token of room A in room B');
  const { code } = await wrong.waitExit();
  assert.notEqual(code, 0, wrong.describe());
  assert.equal(wrong.events.find((e) => e.event === 'sessionConnected'), undefined, wrong.describe());
  assert.equal((await tx.rooms.retrieve(b.id)).data.active_session_id, null, 'the refused join opened a session');
  const right = await joinSubscriber(server, a.id, tokenA, 'token of room A in room A');
  await right.stop();
  rec.note = 'a native client (`parlor client subscribe --session ROOM_ID --token TOKEN`) joins the token\'s room; '
    + 'in another room the same token is refused (the client exits without sessionConnected, no session opened)';
});

// --- sessions and participants -----------------------------------------------------------

// One room's life (the tests below, in order): A and B join, A leaves, B leaves (the session
// ends), C joins (a second session).
let life;

compatTest('joins make a room session; retrieve with include_participants lists them', { method: 'rooms.sessions.retrieve', operation: 'Retrieve a session with its participants', feature: SESSIONS }, async (rec) => {
  const room = await newRoom();
  const t0 = Date.now();
  const a = await joinSubscriber(server, room.id, (await joinToken(room.id)).token, 'A');
  const sid = await activeSessionOf(room.id);
  assert.match(sid, UUID_RE);
  const b = await joinSubscriber(server, room.id, (await joinToken(room.id)).token, 'B');
  life = { room, a, b, sid };

  const s = await sessionWhen(sid, 'both participants listed', (x) => (x.participants || []).length === 2);
  checkSession(s, room.id);
  assert.equal(s.active, true);
  assert.ok(isoTime(s.created_at) >= t0 - 2000);
  assert.deepEqual(s.participants.map((p) => p.id).sort(), [a.participantId, b.participantId].sort());
  for (const p of s.participants) {
    checkParticipant(p, sid);
    assert.equal(p.context, null, 'context is null unless given');
    assert.equal(p.left_at, null);
  }
  // include_participants false / absent: no participant list to read.
  const plain = (await tx.rooms.sessions.retrieve(sid)).data;
  checkSession(plain, room.id);
  assert.ok(!plain.participants || plain.participants.length === 0, `participants without include_participants: ${JSON.stringify(plain.participants)}`);
  rec.note = 'two native clients join with join tokens: the room gets an active session (UUID, record_type '
    + 'room_session, room_id, created_at); retrieve with include_participants lists both (participant id = the '
    + 'connection id, session_id, joined_at, context null, left_at null); without it, no participants';
});

compatTest("rooms.sessions.retrieveParticipants lists the session's participants", { method: 'rooms.sessions.retrieveParticipants', operation: "List a session's participants", feature: SESSIONS }, async (rec) => {
  const { a, b, sid } = need(life, 'the session A and B joined');
  const listed = await participantsOf(sid);
  assert.deepEqual(listed.map((p) => p.id).sort(), [a.participantId, b.participantId].sort());
  listed.forEach((p) => checkParticipant(p, sid));
  rec.note = 'GET /v2/room_sessions/{id}/participants (auto-paginated): both participants of the live session';
});

compatTest('roomParticipants.list with filter[session_id]', { method: 'roomParticipants.list', operation: 'List participants', feature: PARTICIPANTS }, async (rec) => {
  const { a, b, sid } = need(life, 'the session A and B joined');
  const byFilter = await collect(tx.roomParticipants.list({ filter: { session_id: sid } }));
  assert.deepEqual(byFilter.map((p) => p.id).sort(), [a.participantId, b.participantId].sort());
  rec.note = 'GET /v2/room_participants?filter[session_id]= (auto-paginated): both participants of the session';
});

compatTest('rooms.retrieve and rooms.list with include_sessions', { method: 'rooms.retrieve', operation: 'Retrieve a room', feature: ROOMS, check: 'include_sessions' }, async (rec) => {
  const { room, sid } = need(life, 'the session A and B joined');
  const withSessions = (await tx.rooms.retrieve(room.id, { include_sessions: true })).data;
  assert.equal(withSessions.active_session_id, sid);
  assert.deepEqual((withSessions.sessions || []).map((x) => x.id), [sid]);
  const listedRooms = await listRooms({ unique_name: room.unique_name }, { include_sessions: true });
  assert.deepEqual((listedRooms[0].sessions || []).map((x) => x.id), [sid]);
  rec.note = 'include_sessions: retrieve and list give the room with active_session_id and its sessions';
});

compatTest('roomParticipants.retrieve: a participant, then its left_at once it leaves', { method: 'roomParticipants.retrieve', operation: 'Retrieve a participant', feature: PARTICIPANTS }, async (rec) => {
  const { a, sid } = need(life, 'the session A and B joined');
  const pa = (await tx.roomParticipants.retrieve(a.participantId)).data;
  checkParticipant(pa, sid);
  assert.equal(pa.id, a.participantId);
  assert.equal(pa.left_at, null);
  // One leaves: the session goes on.
  await a.stop();
  const leftA = await leftParticipant(a.participantId);
  isoTime(leftA.left_at, 'left_at');
  assert.ok(isoTime(leftA.left_at) >= isoTime(leftA.joined_at));
  assert.equal((await tx.rooms.sessions.retrieve(sid)).data.active, true);
  rec.note = 'GET /v2/room_participants/{id}: the participant (session_id, joined_at, left_at null); once its '
    + 'client leaves, left_at (not before joined_at), and the session stays active for the other';
});

compatTest('the last leave ends the session; the next join starts another', { method: 'rooms.sessions.retrieve', operation: 'Retrieve a session with its participants', feature: SESSIONS, check: 'the end of a session' }, async (rec) => {
  const { room, b, sid } = need(life, 'the session A and B joined');
  // The last leaves: the session ends.
  await b.stop();
  const s = await sessionWhen(sid, 'to end', (x) => x.active === false);
  checkSession(s, room.id);
  assert.ok(isoTime(s.ended_at) >= isoTime(s.created_at));
  assert.ok(s.participants.every((p) => p.left_at), JSON.stringify(s.participants));
  await poll('the room to lose its active session', async () => (await tx.rooms.retrieve(room.id)).data.active_session_id === null);

  // The next join starts a new session.
  const c = await joinSubscriber(server, room.id, (await joinToken(room.id)).token, 'C');
  const sid2 = await activeSessionOf(room.id);
  assert.notEqual(sid2, sid);
  life.c = c;
  life.sid2 = sid2;
  rec.note = 'when the last participant leaves, the session reads active false with ended_at and every '
    + "participant's left_at, and the room's active_session_id goes back to null; the next join opens a new session";
});

compatTest("rooms.sessions.list1 lists the room's sessions", { method: 'rooms.sessions.list1', operation: "List a room's sessions (GET /rooms/{id}/sessions)", feature: SESSIONS }, async (rec) => {
  const { room, sid, c, sid2 } = need(life?.sid2 && life, "the room's second session");
  const sessions = await collect(tx.rooms.sessions.list1(room.id));
  assert.deepEqual(sessions.map((x) => x.id).sort(), [sid, sid2].sort());
  sessions.forEach((x) => checkSession(x, room.id));
  await c.stop();
  await sessionWhen(sid2, 'to end', (x) => x.active === false);
  rec.note = 'GET /v2/rooms/{id}/sessions (auto-paginated): the ended session and the active one, each well formed';
});

// Two sessions of one room, the first ended and the second live (the list tests below).
let lists;

compatTest('rooms.sessions.list0: room_id and active filters', { method: 'rooms.sessions.list0', operation: 'List room sessions (GET /room_sessions)', feature: SESSIONS }, async (rec) => {
  const room = await newRoom();
  const a = await joinSubscriber(server, room.id, (await joinToken(room.id)).token, 'first');
  const sid1 = await activeSessionOf(room.id);
  await a.stop();
  const ended = await sessionWhen(sid1, 'to end', (x) => x.active === false);
  const b = await joinSubscriber(server, room.id, (await joinToken(room.id)).token, 'second');
  const sid2 = await activeSessionOf(room.id);
  assert.notEqual(sid2, sid1);
  lists = { room, a, b, sid1, sid2, ended };

  const ids = (xs) => xs.map((x) => x.id).sort();
  const mark = exchanges.length;
  assert.deepEqual(ids(await collect(tx.rooms.sessions.list0({ filter: { room_id: room.id } }))), [sid1, sid2].sort());
  const x = since(mark)[0];
  assert.equal(x.path, '/v2/room_sessions');
  assert.equal(x.query, `?filter[room_id]=${room.id}`);
  assert.deepEqual(ids(await collect(tx.rooms.sessions.list0({ filter: { room_id: room.id, active: true } }))), [sid2]);
  assert.deepEqual(ids(await collect(tx.rooms.sessions.list0({ filter: { room_id: room.id, active: false } }))), [sid1]);
  rec.note = 'GET /v2/room_sessions?filter[room_id]= gives both sessions of the room; with filter[active] true / '
    + 'false, the live one / the ended one';
});

compatTest('rooms.sessions.list1: active and date filters, include_participants', { method: 'rooms.sessions.list1', operation: "List a room's sessions (GET /rooms/{id}/sessions)", feature: SESSIONS, check: 'filters' }, async (rec) => {
  const { room, b, sid1, sid2, ended } = need(lists, 'the two sessions of the list tests');
  const ids = (xs) => xs.map((x) => x.id).sort();
  assert.deepEqual(ids(await collect(tx.rooms.sessions.list1(room.id, { filter: { active: true } }))), [sid2]);
  assert.deepEqual(ids(await collect(tx.rooms.sessions.list1(room.id, { filter: { active: false } }))), [sid1]);

  const endedAt = isoTime(ended.ended_at);
  const created = isoTime(ended.created_at);
  const iso = (ms) => new Date(ms).toISOString();
  const f = async (filter) => ids(await collect(tx.rooms.sessions.list1(room.id, { filter })));
  assert.ok((await f({ date_created_at: { eq: utcDate(created) } })).includes(sid1));
  assert.deepEqual(await f({ date_created_at: { lte: iso(created - 3600000) } }), []);
  assert.deepEqual(await f({ date_created_at: { gte: iso(created + 3600000) } }), []);
  assert.deepEqual(await f({ date_ended_at: { gte: iso(endedAt - 60000) } }), [sid1]);
  assert.deepEqual(await f({ date_ended_at: { lte: iso(endedAt + 60000) } }), [sid1]);
  assert.deepEqual(await f({ date_ended_at: { eq: utcDate(endedAt) } }), [sid1]);
  assert.deepEqual(await f({ date_updated_at: { gte: iso(created - 60000) } }), [sid1, sid2].sort());

  // include_participants on lists.
  const withP = await collect(tx.rooms.sessions.list1(room.id, { include_participants: true, filter: { active: true } }));
  assert.deepEqual((withP[0].participants || []).map((p) => p.id), [b.participantId]);
  rec.note = 'filter[active] true / false; date_created_at (eq a date, lte, gte), date_ended_at (gte, lte, eq) and '
    + 'date_updated_at filters include or exclude each session as they should; include_participants lists the live '
    + "session's participant";
});

compatTest("rooms.sessions.retrieveParticipants: context and date filters", { method: 'rooms.sessions.retrieveParticipants', operation: "List a session's participants", feature: SESSIONS, check: 'filters' }, async (rec) => {
  const { a, b, sid1, sid2 } = need(lists, 'the two sessions of the list tests');
  const ids = (xs) => xs.map((x) => x.id).sort();
  const iso = (ms) => new Date(ms).toISOString();
  assert.deepEqual(ids(await participantsOf(sid1)), [a.participantId]);
  assert.deepEqual(ids(await participantsOf(sid2, { filter: { context: 'nobody-has-this-context' } })), []);
  const joined = isoTime((await tx.roomParticipants.retrieve(b.participantId)).data.joined_at);
  assert.deepEqual(ids(await participantsOf(sid2, { filter: { date_joined_at: { gte: iso(joined - 60000) } } })), [b.participantId]);
  assert.deepEqual(ids(await participantsOf(sid2, { filter: { date_joined_at: { gte: iso(joined + 3600000) } } })), []);
  assert.deepEqual(ids(await participantsOf(sid2, { filter: { date_joined_at: { eq: utcDate(joined) } } })), [b.participantId]);
  assert.deepEqual(ids(await participantsOf(sid1, { filter: { date_left_at: { lte: iso(Date.now() + 60000) } } })), [a.participantId]);
  assert.deepEqual(ids(await participantsOf(sid2, { filter: { date_left_at: { lte: iso(Date.now() + 60000) } } })), [],
    'a participant still in the session matched a date_left_at filter');
  rec.note = "each session lists its own participants; filter[context] (no match: none), date_joined_at (gte, eq "
    + 'a date) and date_left_at (lte: the one who left, not the one still in) filters';
});

compatTest('roomParticipants.list: filter[session_id] of a session and of an unknown one', { method: 'roomParticipants.list', operation: 'List participants', feature: PARTICIPANTS, check: 'filters' }, async (rec) => {
  const { b, sid2 } = need(lists, 'the two sessions of the list tests');
  const ids = (xs) => xs.map((x) => x.id).sort();
  assert.deepEqual(ids(await collect(tx.roomParticipants.list({ filter: { session_id: sid2 } }))), [b.participantId]);
  assert.deepEqual(await collect(tx.roomParticipants.list({ filter: { session_id: randomUuid() } })), []);
  await b.stop();
  rec.note = 'filter[session_id] gives that session\'s participant only; an unknown session id gives none';
});

compatTest('max_participants: a join beyond it is refused until someone leaves', { method: 'rooms.create', operation: 'Cap the participants (max_participants)', feature: ROOMS }, async (rec) => {
  const room = await newRoom({ max_participants: 2 });
  const a = await joinSubscriber(server, room.id, (await joinToken(room.id)).token, 'A');
  const b = await joinSubscriber(server, room.id, (await joinToken(room.id)).token, 'B');
  const sid = await activeSessionOf(room.id);
  const extra = startSubscriber(server, room.id, (await joinToken(room.id)).token, 'third');
  const { code } = await extra.waitExit();
  assert.notEqual(code, 0, extra.describe());
  assert.match(extra.stderr, /max(imum)?[_ ]participants|limit|full/i, extra.describe());
  assert.equal(extra.events.find((e) => e.event === 'sessionConnected'), undefined, extra.describe());
  assert.deepEqual((await participantsOf(sid)).map((p) => p.id).sort(), [a.participantId, b.participantId].sort());
  await a.stop();
  await leftParticipant(a.participantId);
  const c = await joinSubscriber(server, room.id, (await joinToken(room.id)).token, 'C');
  assert.equal(await activeSessionOf(room.id), sid);
  await Promise.all([b.stop(), c.stop()]);
  rec.note = 'max_participants 2: a third join is refused (the client exits with a max_participants error, no '
    + 'sessionConnected) and the session lists two participants; once one has left, a new join gets in (same session)';
});

// --- session actions -----------------------------------------------------------------------

/** The session `end` ended (the ended-session test). */
let endedSession;

compatTest('sessions.actions.end: every client is disconnected and the session ends', { method: 'rooms.sessions.actions.end', operation: 'End a session', feature: ACTIONS }, async (rec) => {
  const room = await newRoom();
  const a = await joinSubscriber(server, room.id, (await joinToken(room.id)).token, 'A');
  const b = await joinSubscriber(server, room.id, (await joinToken(room.id)).token, 'B');
  const sid = await activeSessionOf(room.id);
  const mark = exchanges.length;
  const r = await tx.rooms.sessions.actions.end(sid);
  const x = oneExchange(mark, 'POST', `/v2/room_sessions/${sid}/actions/end`, 200);
  assert.equal(x.requestBody, null, 'the SDK sends end without a body');
  assert.deepEqual(r, { data: { result: 'ok' } });
  for (const c of [a, b]) {
    const ev = await c.waitEvent('sessionDisconnected');
    assert.equal(typeof ev.reason, 'string');
    await c.waitExit();
  }
  const s = await sessionWhen(sid, 'to end', (v) => v.active === false);
  checkSession(s, room.id);
  assert.ok(s.participants.every((p) => p.left_at), JSON.stringify(s.participants));
  assert.equal((await tx.rooms.retrieve(room.id)).data.active_session_id, null);
  endedSession = sid;
  // The room itself lives on: a new join opens a new session.
  const c = await joinSubscriber(server, room.id, (await joinToken(room.id)).token, 'C');
  assert.notEqual(await activeSessionOf(room.id), sid);
  await c.stop();
  rec.note = 'POST /v2/room_sessions/{id}/actions/end (no body) 200 {data: {result: ok}}: both clients get '
    + 'sessionDisconnected with a reason and exit; the session reads ended with every participant left, the room has '
    + 'no active session, and the next join opens a new one';
});

compatTest('an ended session takes no more actions: 422', { method: 'rooms.sessions.actions.*', operation: 'Actions on an ended session: 422', feature: ERRORS }, async (rec) => {
  const sid = need(endedSession, 'the session end ended');
  await expectApiError(tx.rooms.sessions.actions.end(sid), [E[422]]);
  await expectApiError(tx.rooms.sessions.actions.kick(sid, { participants: 'all' }), [E[422]]);
  await expectApiError(tx.rooms.sessions.actions.mute(sid, { participants: 'all' }), [E[422]]);
  await expectApiError(tx.rooms.sessions.actions.unmute(sid, { participants: 'all' }), [E[422]]);
  rec.note = 'end, kick, mute and unmute on the ended session: each UnprocessableEntityError 422 {errors}';
});

compatTest('sessions.actions.kick: listed participants, then all but the excluded ones', { method: 'rooms.sessions.actions.kick', operation: 'Kick participants', feature: ACTIONS }, async (rec) => {
  const room = await newRoom();
  const tok = async () => (await joinToken(room.id)).token;
  const a = await joinSubscriber(server, room.id, await tok(), 'A');
  const b = await joinSubscriber(server, room.id, await tok(), 'B');
  const c = await joinSubscriber(server, room.id, await tok(), 'C');
  const sid = await activeSessionOf(room.id);

  let mark = exchanges.length;
  assert.deepEqual(await tx.rooms.sessions.actions.kick(sid, { participants: [a.participantId] }), { data: { result: 'ok' } });
  let x = oneExchange(mark, 'POST', `/v2/room_sessions/${sid}/actions/kick`, 200);
  assert.deepEqual(JSON.parse(x.requestBody), { participants: [a.participantId] });
  await a.waitEvent('sessionDisconnected');
  await a.waitExit();
  isoTime((await leftParticipant(a.participantId)).left_at);
  await b.waitEvent('connectionDestroyed', (e) => e.connection.connectionId === a.participantId);

  mark = exchanges.length;
  assert.deepEqual(await tx.rooms.sessions.actions.kick(sid, { participants: 'all', exclude: [b.participantId] }),
    { data: { result: 'ok' } });
  x = oneExchange(mark, 'POST', `/v2/room_sessions/${sid}/actions/kick`, 200);
  assert.deepEqual(JSON.parse(x.requestBody), { participants: 'all', exclude: [b.participantId] });
  await c.waitExit();
  await leftParticipant(c.participantId);
  // B is still in: it sees a later join, and is not marked as left.
  const d = await joinSubscriber(server, room.id, await tok(), 'D');
  await b.waitEvent('connectionCreated', (e) => e.connection.connectionId === d.participantId);
  assert.equal(b.exit, null, b.describe());
  assert.equal((await tx.roomParticipants.retrieve(b.participantId)).data.left_at, null);
  assert.equal((await tx.rooms.sessions.retrieve(sid)).data.active, true);
  await Promise.all([b.stop(), d.stop()]);
  rec.note = '200 {result: ok} for {participants: [id]}: that client is disconnected and exits, gets left_at, the '
    + 'others see connectionDestroyed; for {participants: all, exclude: [B]}: the others go, B stays connected '
    + '(sees a later join, left_at null) and the session stays active';
});

/** The session `mute all` muted, with its clients (the unmute test). */
let mutedAll;

compatTest('sessions.actions.mute all: every publisher is muted', { method: 'rooms.sessions.actions.mute', operation: 'Mute participants', feature: ACTIONS, check: 'all' }, async (rec) => {
  const room = await newRoom();
  const tok = async () => (await joinToken(room.id)).token;
  const observer = await joinSubscriber(server, room.id, await tok(), 'observer');
  const pa = await joinPublisher(server, room.id, await tok(), media, { label: 'A' });
  const pb = await joinPublisher(server, room.id, await tok(), media, { label: 'B' });
  for (const p of [pa, pb]) {
    const created = await observer.waitEvent('streamCreated', (e) => e.stream.streamId === p.streamId);
    assert.equal(created.stream.hasAudio, true);
  }
  const sid = await activeSessionOf(room.id);
  const mark = exchanges.length;
  assert.deepEqual(await tx.rooms.sessions.actions.mute(sid, { participants: 'all' }), { data: { result: 'ok' } });
  const x = oneExchange(mark, 'POST', `/v2/room_sessions/${sid}/actions/mute`, 200);
  assert.deepEqual(JSON.parse(x.requestBody), { participants: 'all' });
  for (const p of [pa, pb]) {
    const ev = await observer.waitEvent('streamPropertyChanged', audioOff(p.streamId));
    assert.equal(ev.stream.hasAudio, false);
    await p.waitStderr(/a moderator muted the stream/);
  }
  mutedAll = { sid, clients: [observer, pa, pb] };
  rec.note = '200 {result: ok} for {participants: all}: the other clients see streamPropertyChanged hasAudio false '
    + 'for both publishers, and each publisher is told a moderator muted it';
});

compatTest('sessions.actions.unmute answers ok', { method: 'rooms.sessions.actions.unmute', operation: 'Unmute participants', feature: ACTIONS }, async (rec) => {
  const { sid, clients } = need(mutedAll, 'the session mute all muted');
  const mark = exchanges.length;
  assert.deepEqual(await tx.rooms.sessions.actions.unmute(sid, { participants: 'all' }), { data: { result: 'ok' } });
  const x = oneExchange(mark, 'POST', `/v2/room_sessions/${sid}/actions/unmute`, 200);
  assert.deepEqual(JSON.parse(x.requestBody), { participants: 'all' });
  // Both calls without a body (the SDK sends `{}`): all participants.
  assert.deepEqual(await tx.rooms.sessions.actions.unmute(sid, {}), { data: { result: 'ok' } });
  await Promise.all(clients.map((c) => c.stop()));
  rec.note = 'after mute all: POST /v2/room_sessions/{id}/actions/unmute {participants: all} and {} each 200 '
    + '{result: ok} (the answer only: no client-side effect is checked)';
});

compatTest('sessions.actions.mute: a list of participants, and all with exclusions', { method: 'rooms.sessions.actions.mute', operation: 'Mute participants', feature: ACTIONS, check: 'a list, exclusions' }, async (rec) => {
  const room = await newRoom();
  const tok = async () => (await joinToken(room.id)).token;
  const observer = await joinSubscriber(server, room.id, await tok(), 'observer');
  const pa = await joinPublisher(server, room.id, await tok(), media, { label: 'A' });
  const pb = await joinPublisher(server, room.id, await tok(), media, { label: 'B (never muted)' });
  const pc = await joinPublisher(server, room.id, await tok(), media, { label: 'C' });
  for (const p of [pa, pb, pc]) await observer.waitEvent('streamCreated', (e) => e.stream.streamId === p.streamId);
  const sid = await activeSessionOf(room.id);

  assert.deepEqual(await tx.rooms.sessions.actions.mute(sid, { participants: [pa.participantId] }), { data: { result: 'ok' } });
  await observer.waitEvent('streamPropertyChanged', audioOff(pa.streamId));
  await pa.waitStderr(/a moderator muted the stream/);
  await assertNoneBefore(room.id, observer, 'streamPropertyChanged', (e) => audioOff(pb.streamId)(e) || audioOff(pc.streamId)(e),
    'a participant not listed was muted');

  assert.deepEqual(await tx.rooms.sessions.actions.mute(sid, { participants: 'all', exclude: [pb.participantId] }),
    { data: { result: 'ok' } });
  await observer.waitEvent('streamPropertyChanged', audioOff(pc.streamId));
  await pc.waitStderr(/a moderator muted the stream/);
  await assertNoneBefore(room.id, observer, 'streamPropertyChanged', audioOff(pb.streamId), 'the excluded participant was muted');
  assert.equal(/a moderator muted the stream/.test(pb.stderr), false, pb.describe());

  // Without parameters (no body at all): everyone, so B too.
  const mark = exchanges.length;
  assert.deepEqual(await tx.rooms.sessions.actions.mute(sid), { data: { result: 'ok' } });
  assert.equal(oneExchange(mark, 'POST', `/v2/room_sessions/${sid}/actions/mute`, 200).requestBody, null);
  await observer.waitEvent('streamPropertyChanged', audioOff(pb.streamId));
  await pb.waitStderr(/a moderator muted the stream/);
  await Promise.all([observer.stop(), pa.stop(), pb.stop(), pc.stop()]);
  rec.note = '{participants: [A]} mutes A only; {participants: all, exclude: [B]} mutes C, never B (shown with a '
    + 'later join as a marker); without parameters (no body) it mutes everyone, B too';
});

compatTest('rooms.delete with a participant in it: the client is disconnected and cannot rejoin', { method: 'rooms.delete', operation: 'Delete a room', feature: ROOMS, check: 'with a participant in it' }, async (rec) => {
  const room = await newRoom();
  const tokens = [await joinToken(room.id), await joinToken(room.id)];
  const a = await joinSubscriber(server, room.id, tokens[0].token, 'A');
  const sid = await activeSessionOf(room.id);
  await tx.rooms.delete(room.id);
  await a.waitEvent('sessionDisconnected');
  await a.waitExit();
  // A token issued before the delete, still within its TTL, no longer joins.
  const again = startSubscriber(server, room.id, tokens[1].token, 'rejoin');
  const { code } = await again.waitExit();
  assert.notEqual(code, 0, again.describe());
  assert.equal(again.events.find((e) => e.event === 'sessionConnected'), undefined, again.describe());
  await expectApiError(tx.rooms.retrieve(room.id), [E[404]], { code: '10005' });
  await expectApiError(tx.rooms.actions.generateJoinClientToken(room.id, {}), [E[404]], { code: '10005' });
  await expectApiError(tx.rooms.actions.refreshClientToken(room.id, { refresh_token: tokens[1].refresh_token }), [E[401], E[404], E[422]]);
  // Its session is over (ended, or gone with the room).
  await poll(`session ${sid} to end with its room`, async () => {
    try {
      return (await tx.rooms.sessions.retrieve(sid)).data.active === false;
    } catch (e) {
      if (e instanceof Telnyx.NotFoundError) return true;
      throw e;
    }
  });
  rec.note = 'with a client in the room: it gets sessionDisconnected and exits; a join token issued before no longer '
    + 'joins; retrieve and token generation get 404 10005, a refresh 401/404/422; the session ends or is gone';
});

// Not an SDK method: no result record.
test('no request got a 5xx or a 409', () => {
  assertNoServerErrors();
});
