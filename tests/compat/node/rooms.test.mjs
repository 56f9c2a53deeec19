// Live compatibility: the official `telnyx` Node SDK (7.24) driving Parlor's Telnyx Video
// Rooms API (`/v2`, credential `API key:API secret`): rooms (create, retrieve, update,
// delete, list with filters and auto-pagination), join client tokens (generate, refresh),
// room sessions and participants made by native clients joining (`parlor client ...
// --session ROOM_ID --token JOIN_TOKEN`), and the session actions (end, kick, mute, unmute)
// with their effect on those clients. Errors must be Telnyx's `{errors: [...]}` with the
// SDK's typed error classes; nothing may get a 5xx or a 409 (the SDKs retry both).
// Rows and sessions appear asynchronously: every wait polls, none sleeps.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './helpers.mjs';
import { makeMedia } from './live.mjs';
import {
  Telnyx, telnyxClient, credential, raw, exchanges, since, oneExchange, describeExchanges,
  assertNoServerErrors, sdkError, expectApiError, checkErrors, eachCase, E, uniqueName, randomUuid, UUID_RE,
  isoTime, utcDate, jwtParts, collect, poll, joinSubscriber, startSubscriber, joinPublisher,
  stopAllRoomClients,
} from './telnyx_sdk.mjs';

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

const T = { timeout: 30000 };
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

test('rooms.create with every field: 201, and retrieve and list read it back', T, async () => {
  const params = {
    unique_name: uniqueName('every-field'),
    max_participants: 7,
    enable_recording: true,
    webhook_event_url: 'https://example.com/telnyx/events',
    webhook_event_failover_url: 'http://127.0.0.1:9/failover',
    webhook_timeout_secs: 12,
  };
  const t0 = Date.now();
  let mark = exchanges.length;
  const room = (await tx.rooms.create(params)).data;
  const t1 = Date.now();
  const x = oneExchange(mark, 'POST', '/v2/rooms', 201);
  assert.equal(x.authorization, `Bearer ${credential(server)}`);
  assert.deepEqual(JSON.parse(x.requestBody), params);
  assert.match(x.contentType, /^application\/json\b/);
  checkRoom(room);
  for (const [k, v] of Object.entries(params)) assert.equal(room[k], v, `room.${k}`);
  assert.equal(room.active_session_id, null, 'a new room has no active session (null)');
  const created = isoTime(room.created_at);
  assert.ok(created >= t0 - 2000 && created <= t1 + 2000, `created_at ${room.created_at} not within the call`);

  mark = exchanges.length;
  const got = (await tx.rooms.retrieve(room.id)).data;
  oneExchange(mark, 'GET', `/v2/rooms/${room.id}`, 200);
  for (const k of ['id', 'unique_name', 'max_participants', 'enable_recording', 'webhook_event_url',
    'webhook_event_failover_url', 'webhook_timeout_secs', 'active_session_id', 'created_at', 'updated_at', 'record_type']) {
    assert.deepEqual(got[k], room[k], `retrieve: ${k}`);
  }

  mark = exchanges.length;
  const page = await tx.rooms.list({ filter: { unique_name: params.unique_name } });
  const lx = oneExchange(mark, 'GET', '/v2/rooms', 200);
  assert.equal(lx.query, `?filter[unique_name]=${params.unique_name}`);
  assert.deepEqual(page.data.map((r) => r.id), [room.id]);
  assert.deepEqual(page.meta, { page_number: 1, page_size: 20, total_pages: 1, total_results: 1 });
  assert.equal(page.data[0].webhook_timeout_secs, 12);
});

test('rooms.create without parameters (empty body) and with {}: 201 with defaults', T, async () => {
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
});

test('rooms.create: boundary values are accepted', T, async () => {
  for (const params of [
    { max_participants: 2 }, { max_participants: 50 }, { webhook_timeout_secs: 0 }, { webhook_timeout_secs: 30 },
    { webhook_event_url: 'http://localhost:8080/hook' }, { enable_recording: false },
  ]) {
    const room = await newRoom(params);
    for (const [k, v] of Object.entries(params)) assert.equal(room[k], v, `${JSON.stringify(params)}: room.${k}`);
  }
});

test('rooms.create: invalid values get 422 UnprocessableEntityError naming the field', T, async () => {
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
});

test('rooms.create: a duplicate unique_name gets 422 code 10012; the name is free again after delete', T, async () => {
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
});

test('rooms.update (PATCH): changes only the fields sent; bad values 422; unknown id 404', T, async () => {
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

  await eachCase([['max_participants', 0], ['max_participants', 101], ['webhook_event_url', 'nope'], ['webhook_timeout_secs', 31]],
    ([field, value]) => `PATCH ${field} = ${JSON.stringify(value)}`, async ([field, value]) => {
      const before = (await tx.rooms.retrieve(room.id)).data;
      await expectApiError(tx.rooms.update(room.id, { [field]: value }), [E[422]], { pointer: `/${field}`, mentions: field });
      assert.deepEqual((await tx.rooms.retrieve(room.id)).data, before, 'a refused PATCH changed the room');
    });
});

test('rooms.delete: 204; then retrieve, update, delete and token generation get 404 10005', T, async () => {
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
});

// --- lists --------------------------------------------------------------------------------

test('rooms.list: auto-pagination with page[size] 2 walks every page once', T, async () => {
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
});

test('rooms.list: bad page[size] / page[number] get 400 or 422 naming the parameter', T, async () => {
  await eachCase([['page[size]', 0], ['page[size]', 251], ['page[size]', 'x'], ['page[size]', -1],
    ['page[number]', 0], ['page[number]', 'x'], ['page[number]', 1.5]], ([param, value]) => `${param}=${value}`,
  ([param, value]) => expectApiError(tx.rooms.list({ [param]: value }), [E[400], E[422]], { parameter: param }));
  // The same rule on the other lists.
  await expectApiError(tx.rooms.sessions.list0({ 'page[size]': 251 }), [E[400], E[422]], { parameter: 'page[size]' });
  await expectApiError(tx.roomParticipants.list({ 'page[number]': 0 }), [E[400], E[422]], { parameter: 'page[number]' });
});

test('rooms.list: filter[unique_name] with reserved characters, and the date filters', T, async () => {
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
  await expectApiError(tx.rooms.list({ filter: { date_created_at: { eq: 'yesterday' } } }), [E[400], E[422]],
    { parameter: 'filter[date_created_at][eq]' });
});

// --- credentials and malformed requests -----------------------------------------------------

test('credentials: the API key alone, a wrong secret, none, or a join token get 401 code 10009', T, async () => {
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
});

test('malformed JSON bodies get 400; a non-object body 400 or 422', T, async () => {
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
});

test('unknown and malformed ids: 404 10005 for unknown ones, 4xx with errors for malformed ones', T, async () => {
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
});

// --- join client tokens ----------------------------------------------------------------------

test('generateJoinClientToken: 201, default and boundary TTLs, JWT claims; bad TTLs 422', T, async () => {
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
  await eachCase([['token_ttl_secs', 9], ['token_ttl_secs', 3601], ['refresh_token_ttl_secs', 59],
    ['refresh_token_ttl_secs', 86401], ['token_ttl_secs', 'long'], ['token_ttl_secs', 30.5]],
  ([field, value]) => `${field} = ${JSON.stringify(value)}`,
  ([field, value]) => expectApiError(tx.rooms.actions.generateJoinClientToken(room.id, { [field]: value }), [E[422]],
    { pointer: `/${field}`, mentions: field }));
});

test('refreshClientToken: a reusable refresh token gives new join tokens; forged ones are refused', T, async () => {
  const room = await newRoom();
  const other = await newRoom();
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
});

test('a join token joins its own room only', T, async () => {
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
});

// --- sessions and participants -----------------------------------------------------------

test('joins make a room session with participants; the last leave ends it; the next join starts another', T, async () => {
  const room = await newRoom();
  const t0 = Date.now();
  const a = await joinSubscriber(server, room.id, (await joinToken(room.id)).token, 'A');
  const sid = await activeSessionOf(room.id);
  assert.match(sid, UUID_RE);
  const b = await joinSubscriber(server, room.id, (await joinToken(room.id)).token, 'B');

  let s = await sessionWhen(sid, 'both participants listed', (x) => (x.participants || []).length === 2);
  checkSession(s, room.id);
  assert.equal(s.active, true);
  assert.ok(isoTime(s.created_at) >= t0 - 2000);
  assert.deepEqual(s.participants.map((p) => p.id).sort(), [a.participantId, b.participantId].sort());
  for (const p of s.participants) {
    checkParticipant(p, sid);
    assert.equal(p.context, null, 'context is null unless given');
    assert.equal(p.left_at, null);
  }
  // The same participants through the other calls.
  const listed = await participantsOf(sid);
  assert.deepEqual(listed.map((p) => p.id).sort(), [a.participantId, b.participantId].sort());
  const byFilter = await collect(tx.roomParticipants.list({ filter: { session_id: sid } }));
  assert.deepEqual(byFilter.map((p) => p.id).sort(), [a.participantId, b.participantId].sort());
  const pa = (await tx.roomParticipants.retrieve(a.participantId)).data;
  checkParticipant(pa, sid);
  assert.equal(pa.id, a.participantId);
  // include_participants false / absent: no participant list to read.
  const plain = (await tx.rooms.sessions.retrieve(sid)).data;
  checkSession(plain, room.id);
  assert.ok(!plain.participants || plain.participants.length === 0, `participants without include_participants: ${JSON.stringify(plain.participants)}`);
  // include_sessions on the room.
  const withSessions = (await tx.rooms.retrieve(room.id, { include_sessions: true })).data;
  assert.equal(withSessions.active_session_id, sid);
  assert.deepEqual((withSessions.sessions || []).map((x) => x.id), [sid]);
  const listedRooms = await listRooms({ unique_name: room.unique_name }, { include_sessions: true });
  assert.deepEqual((listedRooms[0].sessions || []).map((x) => x.id), [sid]);

  // One leaves: the session goes on.
  await a.stop();
  const leftA = await leftParticipant(a.participantId);
  isoTime(leftA.left_at, 'left_at');
  assert.ok(isoTime(leftA.left_at) >= isoTime(leftA.joined_at));
  assert.equal((await tx.rooms.sessions.retrieve(sid)).data.active, true);
  // The last leaves: the session ends.
  await b.stop();
  s = await sessionWhen(sid, 'to end', (x) => x.active === false);
  checkSession(s, room.id);
  assert.ok(isoTime(s.ended_at) >= isoTime(s.created_at));
  assert.ok(s.participants.every((p) => p.left_at), JSON.stringify(s.participants));
  await poll('the room to lose its active session', async () => (await tx.rooms.retrieve(room.id)).data.active_session_id === null);

  // The next join starts a new session.
  const c = await joinSubscriber(server, room.id, (await joinToken(room.id)).token, 'C');
  const sid2 = await activeSessionOf(room.id);
  assert.notEqual(sid2, sid);
  const sessions = await collect(tx.rooms.sessions.list1(room.id));
  assert.deepEqual(sessions.map((x) => x.id).sort(), [sid, sid2].sort());
  sessions.forEach((x) => checkSession(x, room.id));
  await c.stop();
  await sessionWhen(sid2, 'to end', (x) => x.active === false);
});

test('session and participant lists: room_id, active and date filters; context filter', T, async () => {
  const room = await newRoom();
  const a = await joinSubscriber(server, room.id, (await joinToken(room.id)).token, 'first');
  const sid1 = await activeSessionOf(room.id);
  await a.stop();
  const ended = await sessionWhen(sid1, 'to end', (x) => x.active === false);
  const b = await joinSubscriber(server, room.id, (await joinToken(room.id)).token, 'second');
  const sid2 = await activeSessionOf(room.id);
  assert.notEqual(sid2, sid1);

  const ids = (xs) => xs.map((x) => x.id).sort();
  const mark = exchanges.length;
  assert.deepEqual(ids(await collect(tx.rooms.sessions.list0({ filter: { room_id: room.id } }))), [sid1, sid2].sort());
  const x = since(mark)[0];
  assert.equal(x.path, '/v2/room_sessions');
  assert.equal(x.query, `?filter[room_id]=${room.id}`);
  assert.deepEqual(ids(await collect(tx.rooms.sessions.list0({ filter: { room_id: room.id, active: true } }))), [sid2]);
  assert.deepEqual(ids(await collect(tx.rooms.sessions.list0({ filter: { room_id: room.id, active: false } }))), [sid1]);
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

  // Participants: session_id, context and date filters.
  assert.deepEqual(ids(await participantsOf(sid1)), [a.participantId]);
  assert.deepEqual(ids(await participantsOf(sid2, { filter: { context: 'nobody-has-this-context' } })), []);
  const joined = isoTime((await tx.roomParticipants.retrieve(b.participantId)).data.joined_at);
  assert.deepEqual(ids(await participantsOf(sid2, { filter: { date_joined_at: { gte: iso(joined - 60000) } } })), [b.participantId]);
  assert.deepEqual(ids(await participantsOf(sid2, { filter: { date_joined_at: { gte: iso(joined + 3600000) } } })), []);
  assert.deepEqual(ids(await participantsOf(sid2, { filter: { date_joined_at: { eq: utcDate(joined) } } })), [b.participantId]);
  assert.deepEqual(ids(await participantsOf(sid1, { filter: { date_left_at: { lte: iso(Date.now() + 60000) } } })), [a.participantId]);
  assert.deepEqual(ids(await participantsOf(sid2, { filter: { date_left_at: { lte: iso(Date.now() + 60000) } } })), [],
    'a participant still in the session matched a date_left_at filter');
  assert.deepEqual(ids(await collect(tx.roomParticipants.list({ filter: { session_id: sid2 } }))), [b.participantId]);
  assert.deepEqual(await collect(tx.roomParticipants.list({ filter: { session_id: randomUuid() } })), []);
  await b.stop();
});

test('max_participants: a join beyond it is refused until someone leaves', T, async () => {
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
});

// --- session actions -----------------------------------------------------------------------

test('sessions.actions.end: every client is disconnected and the session ends', T, async () => {
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
  // An ended session takes no more actions.
  await expectApiError(tx.rooms.sessions.actions.end(sid), [E[422]]);
  await expectApiError(tx.rooms.sessions.actions.kick(sid, { participants: 'all' }), [E[422]]);
  await expectApiError(tx.rooms.sessions.actions.mute(sid, { participants: 'all' }), [E[422]]);
  await expectApiError(tx.rooms.sessions.actions.unmute(sid, { participants: 'all' }), [E[422]]);
  // The room itself lives on: a new join opens a new session.
  const c = await joinSubscriber(server, room.id, (await joinToken(room.id)).token, 'C');
  assert.notEqual(await activeSessionOf(room.id), sid);
  await c.stop();
});

test('sessions.actions.kick: listed participants, then all but the excluded ones', T, async () => {
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
});

test('sessions.actions.mute all: every publisher is muted; unmute answers ok', T, async () => {
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
  let mark = exchanges.length;
  assert.deepEqual(await tx.rooms.sessions.actions.mute(sid, { participants: 'all' }), { data: { result: 'ok' } });
  let x = oneExchange(mark, 'POST', `/v2/room_sessions/${sid}/actions/mute`, 200);
  assert.deepEqual(JSON.parse(x.requestBody), { participants: 'all' });
  for (const p of [pa, pb]) {
    const ev = await observer.waitEvent('streamPropertyChanged', audioOff(p.streamId));
    assert.equal(ev.stream.hasAudio, false);
    await p.waitStderr(/a moderator muted the stream/);
  }
  mark = exchanges.length;
  assert.deepEqual(await tx.rooms.sessions.actions.unmute(sid, { participants: 'all' }), { data: { result: 'ok' } });
  x = oneExchange(mark, 'POST', `/v2/room_sessions/${sid}/actions/unmute`, 200);
  assert.deepEqual(JSON.parse(x.requestBody), { participants: 'all' });
  // Both calls without a body (the SDK sends `{}`): all participants.
  assert.deepEqual(await tx.rooms.sessions.actions.unmute(sid, {}), { data: { result: 'ok' } });
  await Promise.all([observer.stop(), pa.stop(), pb.stop()]);
});

test('sessions.actions.mute: a list of participants, and all with exclusions', T, async () => {
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
});

test('rooms.delete with a participant in it: the client is disconnected and cannot rejoin', T, async () => {
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
});

test('no request got a 5xx or a 409', () => {
  assertNoServerErrors();
});
