// ICE over TCP from a browser that cannot use UDP: Carol's Chromium runs on a host of her own
// (lib/impair.mjs: a network namespace) behind a firewall that lets out only TCP to the
// server's HTTP port, the pages' and the router's TCP candidate. Ann, on this machine, has UDP. They publish and subscribe to
// each other; both see the other's video play. getStats shows how each got there: Carol's
// peer connections selected the router's TCP candidate (protocol tcp, host candidates),
// Ann's UDP. Carol's connections really are on her own host (the Inspector's remote address).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  createSession,
  expectLiveVideos,
  inspector as inspectorOf,
  join,
  launchBrowser,
  openPage,
  selectedPairs,
  serverStats,
  startPageServer,
  startServer,
  waitInPage,
} from './lib/harness.mjs';
import { firewalledHost, impairmentUnavailable } from './lib/impair.mjs';

const unavailable = impairmentUnavailable();
const env = {};

before(async () => {
  if (unavailable) return;
  env.link = firewalledHost();
  env.server = await startServer([], { listen: `${env.link.hostIp}:0` });
  env.pages = await startPageServer(env.server, env.link.hostIp);
  env.tcpPort = Number(/^parlor media on tcp:\/\/[\d.]+:(\d+)$/m.exec(env.server.stdout)?.[1]);
  assert.ok(env.tcpPort > 0, env.server.stdout);
  // Carol's host reaches the server's HTTP, the pages and the router's TCP candidate; no UDP.
  const port = (u) => new URL(u).port;
  env.link.allowOnlyTcp([port(env.server.baseUrl), port(env.pages.baseUrl), env.tcpPort]);
  const opts = { hosts: [env.link.hostIp], secureOrigins: [env.pages.baseUrl] };
  env.browser = await launchBrowser(opts);
  env.blockedBrowser = await launchBrowser({ ...opts, executablePath: env.link.chromium });
});

after(async () => {
  await env.blockedBrowser?.close();
  await env.browser?.close();
  await env.pages?.close();
  const exit = await env.server?.stop();
  env.link?.close();
  if (exit && exit.code !== 0) throw new Error(`parlor serve exited with ${JSON.stringify(exit)}:\n${env.server.stderr}`);
});

test('a browser whose UDP is blocked publishes and subscribes over ICE-TCP; one with UDP keeps UDP', { skip: unavailable ?? false, timeout: 120000 }, async () => {
  const sid = await createSession(env.server);
  const url = `${env.pages.baseUrl}/test.html`;
  const ann = await openPage(env.browser, url);
  const carol = await openPage(env.blockedBrowser, url);
  const a = await join(ann, sid, { publish: true, data: 'name=Ann' });
  const c = await join(carol, sid, { publish: true, data: 'name=Carol' });
  assert.ok(a.streamId && c.streamId, JSON.stringify({ a, c }));
  for (const p of [ann, carol]) await waitInPage(p, () => T.subscribers.size === 1, undefined, 30000);
  // Both see the other's video play (frames decoded, time advancing).
  await expectLiveVideos(ann, 1, 30000);
  await expectLiveVideos(carol, 1, 30000);

  const flat = ({ publishers, subscribers }) => [...publishers, ...subscribers];
  const carolPaths = flat(await selectedPairs(carol));
  const annPaths = flat(await selectedPairs(ann));
  console.log(`Carol (no UDP): ${JSON.stringify(carolPaths)}`);
  console.log(`Ann: ${JSON.stringify(annPaths)}`);
  assert.equal(carolPaths.length, 2);
  for (const p of carolPaths) {
    assert.equal(p.protocol, 'tcp', JSON.stringify(p));
    assert.equal(p.remoteProtocol, 'tcp', JSON.stringify(p));
    // An active TCP candidate connects from a port of its own: peer-reflexive as seen back.
    assert.ok(['host', 'prflx'].includes(p.localType), JSON.stringify(p));
    assert.equal(p.remoteType, 'host', JSON.stringify(p));
    assert.equal(p.remotePort, env.tcpPort, "the router's TCP candidate");
    assert.ok(p.bytesReceived > 10000 || p.bytesSent > 10000, JSON.stringify(p));
  }
  for (const p of annPaths) assert.equal(p.protocol, 'udp', JSON.stringify(p));

  // Carol really is on her own host, and the router carried her media over TCP.
  const session = await inspectorOf(env.server, `/sessions/${sid}`);
  const addr = Object.fromEntries(session.connections.map((x) => [x.id, x.remoteAddr]));
  assert.equal(addr[c.connectionId], env.link.nsIp, JSON.stringify(session.connections));
  const stats = await serverStats(env.server);
  // Carol's two connections, and maybe Ann's (her browser checks the TCP candidate too,
  // then nominates UDP).
  assert.ok(stats.router.iceTcp.open >= 2, JSON.stringify(stats.router.iceTcp));
  assert.ok(env.link.dropped() > 0, 'the firewall dropped what Carol tried over UDP');
  assert.ok(stats.router.iceTcp.framesReceived > 100 && stats.router.iceTcp.framesSent > 100, JSON.stringify(stats.router.iceTcp));
  for (const p of [ann, carol]) await p.context().close();
});
