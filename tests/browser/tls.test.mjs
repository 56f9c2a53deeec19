// The web SDK over HTTPS and WSS: `parlor serve --tls-cert --tls-key` (a certificate made
// here with openssl, as for a LAN), the SDK's script loaded from https://, signaling over
// wss://, media as usual. The browser accepts the certificate as a user who added it would
// (the context's ignoreHTTPSErrors); without that, nothing loads: the server really
// speaks TLS.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { createSession, expectLiveVideos, join, openPage, useEnvironment } from './lib/harness.mjs';

const certDir = mkdtempSync(path.join(tmpdir(), 'parlor-browser-tls-'));
const cert = path.join(certDir, 'cert.pem');
const key = path.join(certDir, 'key.pem');
const made = spawnSync('openssl', [
  'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1',
  '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert,
], { encoding: 'utf8' });
if (made.status !== 0) throw new Error(`openssl: ${made.stderr}`);
after(() => rmSync(certDir, { recursive: true, force: true }));

const env = useEnvironment({ serverArgs: ['--tls-cert', cert, '--tls-key', key] });

/** A participant whose browser accepts the server's certificate; records WebSocket URLs. */
async function participant() {
  const context = await env.browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: 960, height: 600 },
    permissions: ['camera', 'microphone'],
  });
  const sockets = [];
  context.on('page', (p) => p.on('websocket', (ws) => sockets.push(ws.url())));
  const page = await openPage(env.browser, `${env.pages.baseUrl}/test.html`, { context });
  return { page, sockets };
}

test('over https and wss: the SDK loads, connects, publishes and subscribes', async () => {
  assert.match(env.server.baseUrl, /^https:\/\//);
  const res = await fetch(`${env.server.baseUrl}/session/create`, { method: 'POST' }).catch((e) => e);
  assert.ok(res instanceof Error, 'Node, which does not trust the certificate, is refused');

  const sid = await createSession(env.server, { ca: cert });
  const a = await participant();
  const b = await participant();
  const ra = await join(a.page, sid, { data: 'name=A' });
  assert.equal(ra.error, undefined, JSON.stringify(ra));
  const rb = await join(b.page, sid, { data: 'name=B' });
  assert.equal(rb.error, undefined, JSON.stringify(rb));
  await expectLiveVideos(a.page, 1);
  await expectLiveVideos(b.page, 1);
  for (const p of [a, b]) {
    assert.ok(p.sockets.length > 0 && p.sockets.every((u) => u.startsWith('wss://127.0.0.1:')), JSON.stringify(p.sockets));
  }

  // A browser that does not accept the certificate gets nothing: no SDK, no connection.
  const strict = await openPage(env.browser, `${env.pages.baseUrl}/test.html`);
  assert.equal(await strict.evaluate(() => typeof window.OT), 'undefined');
  for (const p of [a.page, b.page, strict]) await p.context().close();
});

