// The embedded TURN server (`parlor serve --turn-port --turn-tls-port`), from a network that
// lets out only TLS to one port: Carol's browser runs on a host of her own (lib/impair.mjs)
// whose firewall passes only TCP to the server's HTTPS port, the pages' and the TURN server's
// TLS port — no UDP, not the router's ICE-TCP port. Her media reaches the router through the
// embedded TURN server over TLS, with the credentials Parlor minted for her connection;
// Ann, on this machine, connects directly. getStats shows each one's path. In a relayed
// (peer-to-peer) session the same two browsers reach each other through the TURN server:
// each side's relay is the other's peer, which the server allows (its own relays) while it
// refuses every other address.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { createSession, expectLiveVideos, join, launchBrowser, openPage, selectedPairs, serverStats, startPageServer, startServer, waitInPage } from './lib/harness.mjs';
import { firewalledHost, impairmentUnavailable } from './lib/impair.mjs';

const unavailable = impairmentUnavailable();
const env = {};

before(async () => {
  if (unavailable) return;
  env.link = firewalledHost();
  // A certificate for the host end's IP, as for a LAN deployment.
  env.certDir = mkdtempSync(path.join(tmpdir(), 'parlor-turn-tls-'));
  const cert = path.join(env.certDir, 'cert.pem');
  const key = path.join(env.certDir, 'key.pem');
  env.cert = cert;
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=parlor-test',
    '-addext', `subjectAltName=IP:${env.link.hostIp}`, '-keyout', key, '-out', cert]);
  if (made.status !== 0) throw new Error(`openssl: ${made.stderr}`);
  env.server = await startServer(['--tls-cert', cert, '--tls-key', key, '--turn-port', '0', '--turn-tls-port', '0'], { listen: `${env.link.hostIp}:0` });
  env.tlsPort = Number(/^parlor turn on tls:\/\/[\d.]+:(\d+)$/m.exec(env.server.stdout)?.[1]);
  assert.ok(env.tlsPort > 0, env.server.stdout);
  env.pages = await startPageServer(env.server, env.link.hostIp);
  const port = (u) => new URL(u).port;
  env.link.allowOnlyTcp([port(env.server.baseUrl), port(env.pages.baseUrl), env.tlsPort]);
  // Both browsers accept the test certificate: the pages' HTTPS and WSS, and TURN's TLS.
  const opts = { hosts: [env.link.hostIp], secureOrigins: [env.pages.baseUrl], extraArgs: ['--ignore-certificate-errors'] };
  env.browser = await launchBrowser(opts);
  env.firewalled = await launchBrowser({ ...opts, executablePath: env.link.chromium });
});

after(async () => {
  await env.firewalled?.close();
  await env.browser?.close();
  await env.pages?.close();
  const exit = await env.server?.stop();
  env.link?.close();
  if (env.certDir) rmSync(env.certDir, { recursive: true, force: true });
  if (exit && exit.code !== 0) throw new Error(`parlor serve exited with ${JSON.stringify(exit)}:\n${env.server.stderr}`);
});

async function participant(browser) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 960, height: 600 }, permissions: ['camera', 'microphone'] });
  return openPage(browser, `${env.pages.baseUrl}/test.html`, { context });
}

test('only TLS to the TURN port gets out: the call goes through the embedded TURN server over TLS', { skip: unavailable ?? false, timeout: 120000 }, async () => {
  const sid = await createSession(env.server, { ca: env.cert });
  const ann = await participant(env.browser);
  const carol = await participant(env.firewalled);
  const a = await join(ann, sid, { data: 'name=Ann' });
  const c = await join(carol, sid, { data: 'name=Carol' });
  assert.ok(a.streamId && c.streamId, JSON.stringify({ a, c }));
  for (const p of [ann, carol]) await waitInPage(p, () => T.subscribers.size === 1, undefined, 30000);
  await expectLiveVideos(ann, 1, 45000);
  await expectLiveVideos(carol, 1, 45000);
  const flat = ({ publishers, subscribers }) => [...publishers, ...subscribers];
  const carolPairs = flat(await selectedPairs(carol));
  const annPairs = flat(await selectedPairs(ann));
  console.log(`Carol (TLS to TURN only): ${JSON.stringify(carolPairs)}`);
  console.log(`Ann: ${JSON.stringify(annPairs)}`);
  assert.equal(carolPairs.length, 2);
  for (const p of carolPairs) {
    assert.equal(p.localType, 'relay', JSON.stringify(p));
    assert.equal(p.relayProtocol, 'tls', JSON.stringify(p));
  }
  for (const p of annPairs) assert.notEqual(p.localType, 'relay', JSON.stringify(p));
  assert.ok(env.link.dropped() > 0, 'the firewall dropped what Carol tried directly');
  // The TURN server relays her media both ways (its counters are at most a second old).
  let turn;
  for (let i = 0; i < 20; i++) {
    turn = (await serverStats(env.server, { ca: env.cert })).turn;
    if (turn.allocations >= 2 && turn.relayedToPeers > 200 && turn.relayedToClients > 200) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.ok(turn.allocations >= 2 && turn.relayedToPeers > 200 && turn.relayedToClients > 200, JSON.stringify(turn));
  for (const p of [ann, carol]) await p.context().close();
});

test('a relayed session: the firewalled browser and the open one call peer to peer through the TURN server', { skip: unavailable ?? false, timeout: 120000 }, async () => {
  const sid = await createSession(env.server, { relayed: true, ca: env.cert });
  const before = await serverStats(env.server, { ca: env.cert });
  const ann = await participant(env.browser);
  const carol = await participant(env.firewalled);
  const a = await join(ann, sid, { data: 'name=Ann' });
  const c = await join(carol, sid, { data: 'name=Carol' });
  assert.ok(a.streamId && c.streamId, JSON.stringify({ a, c }));
  await expectLiveVideos(ann, 1, 45000);
  await expectLiveVideos(carol, 1, 45000);
  const carolPairs = await selectedPairs(carol);
  const annPairs = await selectedPairs(ann);
  console.log(`relayed session, Carol: ${JSON.stringify(carolPairs)}`);
  console.log(`relayed session, Ann: ${JSON.stringify(annPairs)}`);
  // Carol's every peer connection (her publisher's to Ann, her subscriber's from Ann) goes
  // out through the TURN server over TLS; the far end is Ann's relay on the same server.
  for (const p of [...carolPairs.publishers, ...carolPairs.subscribers]) {
    assert.equal(p.localType, 'relay', JSON.stringify(p));
    assert.equal(p.relayProtocol, 'tls', JSON.stringify(p));
    assert.equal(p.remoteType, 'relay', JSON.stringify(p));
  }
  // The media router forwarded nothing: peer to peer, relayed by TURN (whose counters are
  // at most a second old).
  let after;
  for (let i = 0; i < 20; i++) {
    after = await serverStats(env.server, { ca: env.cert });
    if (after.turn.relayedToPeers > before.turn.relayedToPeers + 200) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(after.router.rtpForwarded, before.router.rtpForwarded);
  // No producer of this session (one of the first test's may still wait out its
  // reconnection grace, if its page's socket closed without a close frame).
  assert.ok(after.router.producers <= before.router.producers, JSON.stringify({ before: before.router, after: after.router }));
  assert.ok(after.turn.relayedToPeers > before.turn.relayedToPeers + 200, JSON.stringify({ before: before.turn, after: after.turn }));
  for (const p of [ann, carol]) await p.context().close();
});
