// What `parlor serve` serves for the web: the SDK bundles (the committed web/dist files,
// embedded in the binary), and the demo app with its dev-only endpoint, which exists only
// with the demo on (default on loopback; --no-demo turns it off). No browser needed.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { API_KEY, REPO_ROOT, startServer } from './lib/harness.mjs';

let on;
let off;
before(async () => {
  on = await startServer();
  off = await startServer(['--no-demo']);
});
after(async () => {
  for (const s of [on, off]) {
    const exit = await s?.stop();
    assert.equal(exit?.code, 0);
  }
});

test('the SDK bundles are the committed build, loadable from any origin', async () => {
  for (const [url, file] of [['/sdk/parlor.js', 'parlor.js'], ['/sdk/parlor.mjs', 'parlor.mjs']]) {
    for (const server of [on, off]) {
      const res = await fetch(server.baseUrl + url);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'text/javascript; charset=utf-8');
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
      assert.equal(await res.text(), readFileSync(path.join(REPO_ROOT, 'web', 'dist', file), 'utf8'));
    }
  }
});

test('the demo app and its endpoint with the demo on', async () => {
  const page = await fetch(on.baseUrl + '/');
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type'), /^text\/html/);
  assert.match(await page.text(), /<script src="\/sdk\/parlor.js"><\/script>/);
  for (const asset of ['/demo/app.js', '/demo/app.css']) assert.equal((await fetch(on.baseUrl + asset)).status, 200);

  const join = (body) => fetch(on.baseUrl + '/demo/join', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const created = await join({ name: '  Ann  ' });
  assert.equal(created.status, 200);
  const c = await created.json();
  assert.equal(c.apiKey, API_KEY);
  assert.equal(c.name, 'Ann');
  assert.equal(c.created, true);
  assert.match(c.sessionId, /^1_/);
  const claims = JSON.parse(Buffer.from(c.token.split('.')[1], 'base64url'));
  assert.deepEqual([claims.session_id, claims.role, claims.connection_data], [c.sessionId, 'publisher', '{"name":"Ann"}']);

  const joined = await (await join({ sessionId: c.sessionId, name: 'Bob' })).json();
  assert.deepEqual([joined.sessionId, joined.created], [c.sessionId, false]);
  assert.equal((await join({})).status, 200, 'a name is optional (Guest)');
  assert.equal((await join({ name: 'x'.repeat(65) })).status, 400);
  assert.equal((await join({ sessionId: '1_unknown', name: 'Eve' })).status, 404);
  assert.equal((await join({ name: 'Eve', extra: 1 })).status, 400);
  assert.equal((await fetch(on.baseUrl + '/demo/join')).status, 405);
});

test('--no-demo: no demo page, no dev-only endpoint', async () => {
  for (const p of ['/', '/demo/app.js', '/demo/app.css']) {
    const res = await fetch(off.baseUrl + p);
    assert.equal(res.status, 404, p);
  }
  const res = await fetch(off.baseUrl + '/demo/join', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"name":"Eve"}' });
  assert.equal(res.status, 404);
  assert.deepEqual(await res.json(), { code: 404, message: 'no such endpoint: POST /demo/join' });
});
