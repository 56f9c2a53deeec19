// A real coturn (Debian's `turnserver`) for the browser tests, as a deployment runs it beside
// Parlor: `use-auth-secret` with a random `static-auth-secret` (the TURN REST API credentials
// Parlor mints per connection), plain UDP and TCP on one port of one address, relaying from
// that address. Its config and log live in a temporary directory; it is a child process that
// dies with this one (setpriv --pdeathsig) and is stopped by `stop()`.
import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { spawnReaped } from '../../compat/node/helpers.mjs';

export const TURNSERVER = process.env.PARLOR_TURNSERVER || 'turnserver';

/** Fails with how to get it when coturn is not installed (scripts/test.sh installs it). */
function requireTurnserver() {
  try {
    execFileSync('sh', ['-c', `command -v ${TURNSERVER}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`coturn's ${TURNSERVER} is not installed: apt-get install coturn (scripts/test.sh does)`);
  }
}

/** A TCP and UDP port free on `ip` now (asked of the kernel, then released). */
async function freePort(ip) {
  const srv = net.createServer();
  await new Promise((resolve, reject) => srv.once('error', reject).listen(0, ip, resolve));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** Resolves once `ip:port` accepts TCP connections. */
async function waitListening(ip, port, child, log, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`turnserver exited (${child.exitCode}):\n${log()}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, ip, () => resolve(s.end() && true)).on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`turnserver is not listening on ${ip}:${port}:\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** TURN REST API credentials (what Parlor mints): `<expiry>:<user>`, base64 HMAC-SHA1 of it. */
export function turnCredentials(secret, user, ttlSeconds = 3600) {
  const username = `${Math.floor(Date.now() / 1000) + ttlSeconds}:${user}`;
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64') };
}

/**
 * Starts coturn on `ip` (UDP and TCP, one port), relaying from `ip`. Returns its `secret`,
 * `port`, `url(transport)` (a `turn:` URL), `log()` (its log so far) and `stop()`.
 */
export async function startCoturn({ ip = '127.0.0.1', secret = randomBytes(20).toString('hex') } = {}) {
  requireTurnserver();
  const dir = mkdtempSync(path.join(tmpdir(), 'parlor-coturn-'));
  const port = await freePort(ip);
  const logFile = path.join(dir, 'turn.log');
  // Relay ports: a small range of their own per instance, away from the listening port.
  const minPort = 40000 + ((port * 7) % 20000);
  const conf = [
    `listening-ip=${ip}`,
    `relay-ip=${ip}`,
    `listening-port=${port}`,
    `min-port=${minPort}`,
    `max-port=${minPort + 199}`,
    'realm=parlor.test',
    'use-auth-secret',
    `static-auth-secret=${secret}`,
    'fingerprint',
    'no-tls',
    'no-dtls',
    'no-cli',
    'no-rfc5780',
    'no-stun-backward-compatibility',
    'no-software-attribute',
    'no-multicast-peers',
    // The media router is on this machine; on loopback in the tests without a namespace.
    'allow-loopback-peers',
    `userdb=${path.join(dir, 'turndb')}`,
    `pidfile=${path.join(dir, 'turnserver.pid')}`,
    `log-file=${logFile}`,
    'simple-log',
    'verbose',
  ];
  writeFileSync(path.join(dir, 'turnserver.conf'), `${conf.join('\n')}\n`);
  const child = spawnReaped(TURNSERVER, ['-c', path.join(dir, 'turnserver.conf'), '--no-stdout-log'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const log = () => {
    let text = '';
    try {
      text = readFileSync(logFile, 'utf8');
    } catch {}
    return text + stderr;
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitListening(ip, port, child, log);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    ip,
    port,
    secret,
    url: (transport) => `turn:${ip}:${port}?transport=${transport}`,
    log,
    stop,
  };
}
