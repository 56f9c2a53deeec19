// A participant on a bad network, for the browser tests: a host of its own (a network
// namespace joined to this machine by a veth pair) whose uplink the kernel impairs — it
// drops a share of the host's outgoing UDP at random (nftables `numgen random` at the device's
// egress) and caps its
// rate with a queue (tc `tbf`: delay builds up under load). Chromium runs inside it through
// a wrapper around `ip netns exec`, so Playwright drives it as usual.
//
// Only traffic between this machine and the namespace crosses the link: the Parlor server
// listens on the host end's address, and the other participants reach it there too (over
// the host's own stack, unimpaired). tc netem (fixed delay) would be the usual tool, but
// this kernel has no sch_netem; tbf and nftables are built in. Needs root.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { CHROMIUM } from './harness.mjs';

function run(cmd, args) {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Why an impaired host cannot be made here (not root, a tool missing), or null. */
export function impairmentUnavailable() {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  for (const tool of ['ip', 'tc', 'nft']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is missing (apt-get install iproute2 nftables)`;
    }
  }
  return null;
}

/**
 * Makes the impaired host. `lossPercent` of its outgoing UDP is dropped; its uplink carries
 * at most `rateKbit`, with up to `queueMs` of queue. Returns the host end's address (for
 * servers), the namespace's, a Chromium executable that runs inside it, and `close()`.
 */
export function impairedHost({ lossPercent = 15, rateKbit = 1000, queueMs = 400 } = {}) {
  const tag = String(process.pid % 100000);
  const ns = `parlor-impair-${tag}`;
  const outer = `pi${tag}a`;
  const inner = `pi${tag}b`;
  const net = `10.213.${process.pid % 250}`;
  const hostIp = `${net}.1`;
  const nsIp = `${net}.2`;
  const inNs = (cmd, args) => run('ip', ['netns', 'exec', ns, cmd, ...args]);
  const dir = mkdtempSync(path.join(tmpdir(), 'parlor-impair-'));
  const close = () => {
    try {
      run('ip', ['netns', 'del', ns]);
    } catch {}
    try {
      run('ip', ['link', 'del', outer]);
    } catch {}
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    run('ip', ['netns', 'add', ns]);
    run('ip', ['link', 'add', outer, 'type', 'veth', 'peer', 'name', inner]);
    run('ip', ['link', 'set', inner, 'netns', ns]);
    run('ip', ['addr', 'add', `${hostIp}/30`, 'dev', outer]);
    run('ip', ['link', 'set', outer, 'up']);
    inNs('ip', ['link', 'set', 'lo', 'up']);
    inNs('ip', ['addr', 'add', `${nsIp}/30`, 'dev', inner]);
    inNs('ip', ['link', 'set', inner, 'up']);
    // At the device's egress, not in the IP output hook: a packet dropped there is lost on
    // the wire as far as the sender knows (the output hook fails its send with EPERM, and a
    // browser then sends it again).
    inNs('nft', ['add', 'table', 'netdev', 'impair']);
    inNs('nft', ['add', 'chain', 'netdev', 'impair', 'out', `{ type filter hook egress device ${inner} priority 0 ; }`]);
    inNs('nft', ['add', 'rule', 'netdev', 'impair', 'out', 'meta', 'l4proto', 'udp', 'numgen', 'random', 'mod', '100', 'lt', String(lossPercent), 'drop']);
    inNs('tc', ['qdisc', 'add', 'dev', inner, 'root', 'tbf', 'rate', `${rateKbit}kbit`, 'burst', '16kb', 'latency', `${queueMs}ms`]);
  } catch (e) {
    close();
    throw new Error(`cannot make the impaired host: ${e.stderr?.toString() || e.message}`);
  }
  const chromium = path.join(dir, 'chromium-impaired');
  writeFileSync(chromium, `#!/bin/sh\nexec ip netns exec ${ns} ${CHROMIUM} "$@"\n`);
  chmodSync(chromium, 0o755);
  return { ns, hostIp, nsIp, chromium, close };
}
