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
//
// A firewalled host (`firewalledHost`) is made the same way, with a firewall instead of
// impairments: only TCP to the ports it is given reaches this machine (the TURN tests). A
// shaped host (`shapedHost`) has its *downlink* capped at will, at runtime: a tbf queue on
// this machine's end of the pair, which everything sent to the namespace leaves through.
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
 * A host of its own: a network namespace joined to this machine by a veth pair on
 * `10.<net>.x.0/30` (this machine's end `.1`, the namespace's `.2`), and a Chromium wrapper
 * that runs inside it. `setup(inNs, inner)` adds its rules; `close()` removes it all.
 */
function makeHost(name, net, setup) {
  const tag = String(process.pid % 100000);
  const ns = `parlor-${name}-${tag}`;
  const outer = `p${name[0]}${tag}a`;
  const inner = `p${name[0]}${tag}b`;
  const prefix = `10.${net}.${process.pid % 250}`;
  const hostIp = `${prefix}.1`;
  const nsIp = `${prefix}.2`;
  const inNs = (cmd, args) => run('ip', ['netns', 'exec', ns, cmd, ...args]);
  const dir = mkdtempSync(path.join(tmpdir(), `parlor-${name}-`));
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
    // No IPv6 link-local addresses on the pair: one finishes duplicate address detection a
    // second or so after the link comes up, and Chromium takes that for a network change
    // and fails the page loads in flight with ERR_NETWORK_CHANGED (seen in CI: the SDK's
    // script never loaded).
    run('ip', ['link', 'set', outer, 'addrgenmode', 'none']);
    inNs('ip', ['link', 'set', inner, 'addrgenmode', 'none']);
    run('ip', ['addr', 'add', `${hostIp}/30`, 'dev', outer]);
    run('ip', ['link', 'set', outer, 'up']);
    inNs('ip', ['link', 'set', 'lo', 'up']);
    inNs('ip', ['addr', 'add', `${nsIp}/30`, 'dev', inner]);
    inNs('ip', ['link', 'set', inner, 'up']);
    setup(inNs, inner);
  } catch (e) {
    close();
    throw new Error(`cannot make the ${name} host: ${e.stderr?.toString() || e.message}`);
  }
  const chromium = path.join(dir, `chromium-${name}`);
  writeFileSync(chromium, `#!/bin/sh\nexec ip netns exec ${ns} ${CHROMIUM} "$@"\n`);
  chmodSync(chromium, 0o755);
  return { ns, outer, hostIp, nsIp, chromium, inNs, close };
}

/**
 * Makes the impaired host. `lossPercent` of its outgoing UDP is dropped; its uplink carries
 * at most `rateKbit`, with up to `queueMs` of queue. Returns the host end's address (for
 * servers), the namespace's, a Chromium executable that runs inside it, and `close()`.
 */
export function impairedHost({ lossPercent = 15, rateKbit = 1000, queueMs = 400 } = {}) {
  const { ns, hostIp, nsIp, chromium, close } = makeHost('impair', 213, (inNs, inner) => {
    // At the device's egress, not in the IP output hook: a packet dropped there is lost on
    // the wire as far as the sender knows (the output hook fails its send with EPERM, and a
    // browser then sends it again).
    inNs('nft', ['add', 'table', 'netdev', 'impair']);
    inNs('nft', ['add', 'chain', 'netdev', 'impair', 'out', `{ type filter hook egress device ${inner} priority 0 ; }`]);
    inNs('nft', ['add', 'rule', 'netdev', 'impair', 'out', 'meta', 'l4proto', 'udp', 'numgen', 'random', 'mod', '100', 'lt', String(lossPercent), 'drop']);
    inNs('tc', ['qdisc', 'add', 'dev', inner, 'root', 'tbf', 'rate', `${rateKbit}kbit`, 'burst', '16kb', 'latency', `${queueMs}ms`]);
  });
  return { ns, hostIp, nsIp, chromium, close };
}

/**
 * A host behind a strict firewall, as in an office that lets only some TCP out: once its
 * servers run on this machine's end (`hostIp`), `allowOnlyTcp(ports)` drops everything the
 * namespace sends there but TCP to `ports` — no UDP at all, so no media straight to the
 * router. Returns the same fields as `impairedHost`, and `allowOnlyTcp`.
 */
export function firewalledHost() {
  const host = makeHost('fence', 214, () => {});
  const allowOnlyTcp = (ports) => {
    const { inNs, hostIp } = host;
    try {
      inNs('nft', ['add', 'table', 'inet', 'fence']);
      inNs('nft', ['add', 'chain', 'inet', 'fence', 'out', '{ type filter hook output priority 0 ; policy accept ; }']);
      inNs('nft', ['add', 'rule', 'inet', 'fence', 'out', 'ip', 'daddr', hostIp, 'tcp', 'dport', `{ ${ports.join(', ')} }`, 'accept']);
      inNs('nft', ['add', 'rule', 'inet', 'fence', 'out', 'ip', 'daddr', hostIp, 'counter', 'drop']);
    } catch (e) {
      throw new Error(`cannot set the firewall: ${e.stderr?.toString() || e.message}`);
    }
  };
  /** How many packets the firewall dropped so far. */
  const dropped = () => {
    const out = execFileSync('ip', ['netns', 'exec', host.ns, 'nft', 'list', 'chain', 'inet', 'fence', 'out']).toString();
    return Number(/counter packets (\d+)/.exec(out)?.[1] ?? 0);
  };
  return { ...host, allowOnlyTcp, dropped };
}

/**
 * A host whose network can fail and come back, as a Wi-Fi drop does: `down()` silently
 * drops everything it sends and receives (nftables at the device's ingress and egress, so
 * no error reaches either end: TCP and UDP just hear nothing), `up()` lets it through again.
 * Returns the same fields as `impairedHost`, and `down`/`up`.
 */
export function outageHost() {
  const host = makeHost('drop', 215, (inNs, inner) => {
    inNs('nft', ['add', 'table', 'netdev', 'outage']);
    inNs('nft', ['add', 'chain', 'netdev', 'outage', 'in', `{ type filter hook ingress device ${inner} priority 0 ; }`]);
    inNs('nft', ['add', 'chain', 'netdev', 'outage', 'out', `{ type filter hook egress device ${inner} priority 0 ; }`]);
  });
  const down = () => {
    for (const chain of ['in', 'out']) host.inNs('nft', ['add', 'rule', 'netdev', 'outage', chain, 'drop']);
  };
  const up = () => {
    for (const chain of ['in', 'out']) host.inNs('nft', ['flush', 'chain', 'netdev', 'outage', chain]);
  };
  return { ...host, down, up };
}

/** Shaped hosts alive, for their subnets (`10.<216 + n>.…`: two must not share one). */
const shapedNets = new Set();

/**
 * A host whose downlink (this machine → the namespace: everything its Chromium receives,
 * media included) can be capped and uncapped while it runs, as a congested last mile is:
 * `limitDownlink(kbps)` puts (or changes) a tbf queue on this machine's end of the pair —
 * a burst of 20 ms at that rate (at least 3000 bytes), and up to 300 ms of queue before it
 * drops, like a real bottleneck; `liftDownlink()` removes it. The uplink is never shaped.
 * Starts uncapped. `name` names the namespace; its first letter must differ from other
 * hosts' alive at once (`impair`, `fence`, `drop` are taken). Returns the same fields as
 * `impairedHost`, and `limitDownlink`, `liftDownlink` and `downlinkDropped()` (packets the
 * queue dropped since the downlink was limited; 0 while it is not).
 */
export function shapedHost(name = 'shape') {
  let n = 0;
  while (shapedNets.has(n)) n += 1;
  const host = makeHost(name, 216 + n, () => {});
  shapedNets.add(n);
  const { outer } = host;
  let limited = false;
  const limitDownlink = (kbps) => {
    if (!(kbps > 0)) throw new Error(`limitDownlink: a rate in kbit/s, not ${kbps}`);
    const burst = Math.max(3000, Math.round(((kbps * 1000) / 8) * 0.02));
    try {
      run('tc', ['qdisc', 'replace', 'dev', outer, 'root', 'tbf', 'rate', `${kbps}kbit`, 'burst', String(burst), 'latency', '300ms']);
    } catch (e) {
      throw new Error(`cannot limit the downlink: ${e.stderr?.toString() || e.message}`);
    }
    limited = true;
  };
  const liftDownlink = () => {
    if (!limited) return;
    run('tc', ['qdisc', 'del', 'dev', outer, 'root']);
    limited = false;
  };
  const downlinkDropped = () => {
    const out = execFileSync('tc', ['-s', 'qdisc', 'show', 'dev', outer]).toString();
    return limited ? Number(/dropped (\d+)/.exec(out)?.[1] ?? 0) : 0;
  };
  const close = () => {
    host.close();
    shapedNets.delete(n);
  };
  return { ...host, close, limitDownlink, liftDownlink, downlinkDropped };
}
