// Live native clients for the Node compatibility suites: `parlor client subscribe --json` and
// `parlor client publish` as child processes, with event polling instead of sleeps.
// Not a test file itself (node --test only picks up *.test.mjs).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { PARLOR_BIN, spawnReaped } from './helpers.mjs';

const WAIT_MS = 10000;
const STOP_MS = 10000;
/** A safety cap: no client outlives a suite even if a test forgets it. */
const MAX_CLIENT_SECONDS = '90';

const running = new Set();

/**
 * A small VP8 IVF (160x120, 15 fps, 3 s) and an Opus Ogg (440 Hz, 3 s), made once per suite.
 * Returns {dir, video, audio, remove()}.
 */
export function makeMedia() {
  const dir = mkdtempSync(path.join(tmpdir(), 'parlor-compat-media-'));
  const video = path.join(dir, 'v.ivf');
  const audio = path.join(dir, 'o.ogg');
  for (const args of [
    ['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=15', '-t', '3', '-c:v', 'libvpx', '-f', 'ivf', video],
    ['-f', 'lavfi', '-i', 'sine=frequency=440:duration=3', '-c:a', 'libopus', audio],
  ]) {
    const r = spawnSync('ffmpeg', ['-v', 'error', '-y', ...args], { encoding: 'utf8', timeout: 30000 });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`ffmpeg failed (${r.status}): ${r.stderr}`);
  }
  return { dir, video, audio, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** One `parlor client ...` child process. */
export class LiveClient {
  constructor(label, args) {
    this.label = label;
    this.args = args;
    this.events = [];
    this.stderr = '';
    this.exit = null;
    this.waiters = new Set();
    this.child = spawnReaped(PARLOR_BIN, ['client', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(this);
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (d) => { this.stderr += d; this.notify(); });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      if (!line.trim()) return;
      let ev;
      try { ev = JSON.parse(line); } catch { ev = { event: '(not JSON)', line }; }
      this.events.push(ev);
      this.notify();
    });
    this.closed = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        this.exit = { code, signal };
        running.delete(this);
        this.notify();
        resolve(this.exit);
      });
    });
  }

  notify() {
    for (const w of [...this.waiters]) w();
  }

  describe() {
    const evs = this.events.map((e) => JSON.stringify(e)).slice(-15).join('\n  ');
    return `${this.label} (exit ${JSON.stringify(this.exit)})\n events:\n  ${evs}\n stderr:\n${this.stderr.slice(-2000)}`;
  }

  /**
   * Resolves with the value of `check()` once it is truthy; rechecked on every event, stderr
   * output and exit. Rejects after `timeoutMs`, or if the process ended without it.
   */
  until(what, check, timeoutMs = WAIT_MS) {
    return new Promise((resolve, reject) => {
      let timer;
      const done = (fn, v) => { clearTimeout(timer); this.waiters.delete(waiter); fn(v); };
      const waiter = () => {
        let v;
        try { v = check(); } catch (e) { done(reject, e); return; }
        if (v) done(resolve, v);
        else if (this.exit) done(reject, new Error(`${this.label} ended before ${what}\n${this.describe()}`));
      };
      timer = setTimeout(() => done(reject, new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.describe()}`)), timeoutMs);
      this.waiters.add(waiter);
      waiter();
    });
  }

  /** The first event (from index `from` on) with `ev.event === name` and `pred(ev)`. */
  waitEvent(name, pred = () => true, { from = 0, timeoutMs = WAIT_MS, what } = {}) {
    return this.until(what || `${this.label}: ${name}`, () => this.events.slice(from).find((e) => e.event === name && pred(e)), timeoutMs);
  }

  /** Resolves with the match of `re` on stderr. */
  waitStderr(re, timeoutMs = WAIT_MS) {
    return this.until(`${this.label}: stderr ${re}`, () => re.exec(this.stderr), timeoutMs);
  }

  /** Resolves with {code, signal} once the process ended by itself. */
  waitExit(timeoutMs = WAIT_MS) {
    return this.until(`${this.label} to exit`, () => this.exit, timeoutMs).catch((e) => {
      if (this.exit) return this.exit;
      throw e;
    });
  }

  /** SIGTERM (the clients leave in order on it), SIGKILL if it does not exit. */
  async stop() {
    if (this.exit) return this.exit;
    this.child.kill('SIGTERM');
    let timer;
    const r = await Promise.race([
      this.closed,
      new Promise((resolve) => { timer = setTimeout(() => { this.child.kill('SIGKILL'); resolve(null); }, STOP_MS); }),
    ]);
    clearTimeout(timer);
    return r || this.closed;
  }
}

/** A subscriber printing JSON events; resolves once it printed `sessionConnected`. */
export async function subscriber(server, token, label = 'subscriber') {
  const c = new LiveClient(label, ['subscribe', '--url', server.baseUrl, '--token', token, '--json', '--duration', MAX_CLIENT_SECONDS]);
  const connected = await c.waitEvent('sessionConnected');
  c.connectionId = connected.connection.connectionId;
  return c;
}

/**
 * A publisher looping the media files; resolves once the server accepted the stream
 * (`published stream ID` on stderr), with `streamId` and `connectionId` set.
 */
export async function publisher(server, token, media, { name, audio = true, label } = {}) {
  const args = ['publish', '--url', server.baseUrl, '--token', token, '--video', media.video, '--loop', '--duration', MAX_CLIENT_SECONDS];
  if (audio) args.push('--audio', media.audio);
  if (name !== undefined) args.push('--name', name);
  const c = new LiveClient(label || `publisher ${name ?? ''}`.trim(), args);
  c.connectionId = (await c.waitStderr(/as connection (\S+)/))[1];
  c.streamId = (await c.waitStderr(/published stream (\S+)/))[1];
  return c;
}

/** Stops every client still running (for `after` hooks). */
export async function stopAllClients() {
  await Promise.all([...running].map((c) => c.stop()));
}

/** A fresh signal type / payload for markers. */
export const marker = () => `m${randomBytes(6).toString('hex')}`;
