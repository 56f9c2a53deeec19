// Live compatibility: the Node SDK's callback registration (registerCallback, listCallbacks,
// unregisterCallback) against a real Parlor server, with a webhook receiver in this process
// and live clients whose joins and leaves must (or must no longer) be delivered to it.
// Results go to results/node-callbacks.json.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, API_KEY, API_SECRET } from './helpers.mjs';
import { subscriber, stopAllClients } from './live.mjs';
import { OpenTok, compatSuite, call, ok, errorText, exchanges, since, describeExchanges } from './sdk.mjs';

const compatTest = compatSuite('callbacks');
const P = `/v2/project/${API_KEY}`;

let server;
let ot;
let receiver;
let hookUrl;
/** Every POST the receiver got: {path, event, body}. */
const received = [];
const waiters = new Set();

before(async () => {
  server = await startServer();
  ot = new OpenTok(API_KEY, API_SECRET, { apiUrl: server.baseUrl });
  receiver = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      let json = null;
      try { json = JSON.parse(body); } catch { /* recorded as null */ }
      received.push({ path: req.url, method: req.method, contentType: req.headers['content-type'], body: json });
      res.writeHead(200).end();
      for (const w of [...waiters]) w();
    });
  });
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${receiver.address().port}`;
});

after(async () => {
  await stopAllClients();
  if (receiver) await new Promise((resolve) => receiver.close(resolve));
  if (!server) return;
  const { code, signal } = await server.stop();
  assert.equal(signal, null, `parlor serve did not exit after SIGTERM\n${server.stderr}`);
  assert.equal(code, 0, `parlor serve exited with ${code}\n${server.stderr}`);
});

const run = (name, ...args) => call(ot[name].bind(ot), ...args);
const must = (name, ...args) => ok(ot[name].bind(ot), ...args);

/** Resolves with the first delivery (to `path`) matching `pred`. */
function delivery(path, pred, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    let timer;
    const check = () => {
      const hit = received.find((r) => r.path === path && r.body && pred(r.body));
      if (hit) { clearTimeout(timer); waiters.delete(check); resolve(hit); }
    };
    timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(`no delivery to ${path} within ${timeoutMs} ms; got:\n${received.map((r) => `${r.path} ${JSON.stringify(r.body)}`).join('\n')}`));
    }, timeoutMs);
    waiters.add(check);
    check();
  });
}

function exchange(mark, method, path, status) {
  const xs = since(mark);
  assert.equal(xs.length, 1, `expected one request, got:\n${describeExchanges(xs)}`);
  assert.equal(`${xs[0].method} ${xs[0].path}`, `${method} ${path}`);
  assert.equal(xs[0].status, status, describeExchanges(xs));
  return xs[0];
}

function carries(err, message) {
  const text = err && err.message ? err.message : '';
  return text.includes(message) || text.includes(JSON.stringify(message).slice(1, -1));
}

async function newSession() {
  return (await must('createSession', { mediaMode: 'routed' })).sessionId;
}

let created; // the callback registered by the first test

compatTest({ method: 'registerCallback', operation: 'Register a callback', feature: 'callbacks' }, async (rec) => {
  const url = `${hookUrl}/created`;
  const mark = exchanges.length;
  created = await must('registerCallback', { group: 'connection', event: 'created', url });
  const x = exchange(mark, 'POST', `${P}/callback`, 200);
  assert.deepEqual(JSON.parse(x.requestBody), { group: 'connection', event: 'created', url });
  assert.equal(x.contentType, 'application/json');
  assert.equal(typeof created.id, 'string');
  assert.ok(created.id.length > 0);
  assert.equal(created.group, 'connection');
  assert.equal(created.event, 'created');
  assert.equal(created.url, url);
  assert.ok(Number.isInteger(created.createdAt) && Math.abs(created.createdAt - Date.now()) < 60000, `createdAt ${created.createdAt}`);
  // The documented effect: the URL now receives connectionCreated events.
  const sid = await newSession();
  const c = await subscriber(server, ot.generateToken(sid, { data: 'hook=1' }), 'subscriber');
  const hit = await delivery('/created', (b) => b.event === 'connectionCreated' && b.connection && b.connection.id === c.connectionId);
  assert.equal(hit.method, 'POST');
  assert.equal(hit.contentType, 'application/json');
  assert.equal(hit.body.sessionId, sid);
  assert.equal(hit.body.projectId, API_KEY);
  assert.ok(Number.isInteger(hit.body.timestamp) && Math.abs(hit.body.timestamp - Date.now()) < 60000, `timestamp ${hit.body.timestamp}`);
  assert.equal(hit.body.connection.data, 'hook=1');
  assert.ok(Number.isInteger(hit.body.connection.createdAt), `connection.createdAt ${hit.body.connection.createdAt}`);
  await c.stop();
  rec.note = 'a Callback {id, group, event, url, createdAt}; the URL then received connectionCreated {sessionId, projectId, timestamp, connection {id, createdAt, data}} for a live client';
});

compatTest({ method: 'listCallbacks', operation: 'List callbacks', feature: 'callbacks' }, async (rec) => {
  assert.ok(created, 'registerCallback failed before');
  const mark = exchanges.length;
  const list = await must('listCallbacks');
  const x = exchange(mark, 'GET', `${P}/callback`, 200);
  assert.ok(Array.isArray(JSON.parse(x.responseBody)), `not a bare array: ${x.responseBody}`);
  assert.equal(list.length, 1);
  const [c] = list;
  assert.deepEqual(
    { id: c.id, group: c.group, event: c.event, url: c.url, createdAt: c.createdAt },
    { id: created.id, group: 'connection', event: 'created', url: created.url, createdAt: created.createdAt },
  );
  rec.note = 'a bare JSON array; the registered callback with the same fields';
});

compatTest({ method: 'unregisterCallback', operation: 'Unregister a callback', feature: 'callbacks' }, async (rec) => {
  assert.ok(created, 'registerCallback failed before');
  // Keep another callback on the same URL's queue: its delivery proves what was (not) sent.
  const destroyed = await must('registerCallback', { group: 'connection', event: 'destroyed', url: `${hookUrl}/created` });
  const mark = exchanges.length;
  await must('unregisterCallback', created.id);
  exchange(mark, 'DELETE', `${P}/callback/${created.id}`, 204);
  const ids = (await must('listCallbacks')).map((c) => c.id);
  assert.deepEqual(ids, [destroyed.id]);
  // A client joins and leaves: connectionDestroyed arrives, connectionCreated no longer does
  // (deliveries to one URL for one session are strictly ordered, created before destroyed).
  const sid = await newSession();
  const c = await subscriber(server, ot.generateToken(sid), 'subscriber');
  await c.stop();
  await delivery('/created', (b) => b.event === 'connectionDestroyed' && b.connection && b.connection.id === c.connectionId);
  const stale = received.find((r) => r.body && r.body.event === 'connectionCreated' && r.body.connection?.id === c.connectionId);
  assert.equal(stale, undefined, 'connectionCreated was still delivered after unregisterCallback');
  await must('unregisterCallback', destroyed.id);
  assert.deepEqual(await must('listCallbacks'), []);
  rec.note = '204; gone from listCallbacks, and its events are no longer delivered';
});

compatTest({ method: 'registerCallback', operation: 'Register a callback', feature: 'callbacks', check: 'bad input' }, async (rec) => {
  const cases = [
    { group: 'nope', event: 'created', url: `${hookUrl}/x` },
    { group: 'connection', event: 'created', url: 'ftp://example.com/hook' },
    { group: 'connection', event: 'created' },
  ];
  for (const opts of cases) {
    const mark = exchanges.length;
    const r = await run('registerCallback', opts);
    const x = exchange(mark, 'POST', `${P}/callback`, 400);
    assert.equal(x.contentType, 'application/json');
    const { message } = JSON.parse(x.responseBody);
    assert.ok(r.err instanceof OpenTok.RequestError && carries(r.err, message), `${JSON.stringify(opts)}: ${errorText(r.err)}`);
  }
  assert.deepEqual(await must('listCallbacks'), []);
  rec.note = 'unknown group, non-http URL, missing URL: 400 with the server message in the RequestError; nothing registered';
});

compatTest({ method: 'unregisterCallback', operation: 'Unregister a callback', feature: 'callbacks', check: 'unknown id' }, async (rec) => {
  const mark = exchanges.length;
  const r = await run('unregisterCallback', 'no-such-callback');
  assert.ok(r.err instanceof OpenTok.NotFoundError, errorText(r.err));
  exchange(mark, 'DELETE', `${P}/callback/no-such-callback`, 404);
  rec.note = 'unknown id: 404, the SDK\'s NotFoundError';
});

test('no request of this suite got a 5xx answer', () => {
  const bad = exchanges.filter((x) => x.status >= 500);
  assert.deepEqual(bad, [], describeExchanges(bad));
});
