// Media helpers for the broadcast suites (npm `opentok` and `@vonage/video`): RTMP receivers
// (`ffmpeg -listen`) on free ports, the HLS output fetched like a player would (no
// credentials), and ffprobe of what either received.
// Not a test file itself (node --test only picks up *.test.mjs).
import { createServer } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnReaped } from './helpers.mjs';
import { ffprobe, codecs, streamOf } from './archive_files.mjs';

export { ffprobe, codecs, streamOf };

/** A TCP port nobody listens on now (bound to port 0, then released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Whether something listens on TCP `port` (read from /proc/net/tcp*, never by connecting:
 * an `ffmpeg -listen 1` takes one connection only). */
function listening(port) {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try { text = readFileSync(table, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 3 && cols[1].endsWith(`:${hex}`) && cols[3] === '0A') return true;
    }
  }
  return false;
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/**
 * An RTMP server: `ffmpeg -listen 1` on 127.0.0.1:`port` for `/live/<key>`, copying what it
 * receives into `out` (FLV). Resolves once the port listens. The object has `url` (the
 * serverUrl to give a broadcast), `key`, `out`, `exit` ({code, signal} once it ended),
 * `stderr`, `waitExit(ms)` and `stop()`.
 */
export async function rtmpReceiver(port, key, out) {
  const child = spawnReaped('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-listen', '1',
    '-i', `rtmp://127.0.0.1:${port}/live/${key}`, '-c', 'copy', '-f', 'flv', out],
  { stdio: ['ignore', 'ignore', 'pipe'] });
  const rx = {
    url: `rtmp://127.0.0.1:${port}/live`, key, out, exit: null, stderr: '', child,
  };
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { rx.stderr += d; });
  rx.closed = new Promise((resolve) => {
    child.on('close', (code, signal) => { rx.exit = { code, signal }; resolve(rx.exit); });
  });
  /** Resolves with the exit once ffmpeg ended by itself, or null after `ms`. */
  rx.waitExit = async (ms) => {
    let timer;
    const r = await Promise.race([rx.closed, new Promise((resolve) => { timer = setTimeout(() => resolve(null), ms); })]);
    clearTimeout(timer);
    return r;
  };
  /** SIGTERM (ffmpeg finishes the file), SIGKILL after 5 s. */
  rx.stop = async () => {
    if (rx.exit) return rx.exit;
    child.kill('SIGTERM');
    const r = await rx.waitExit(5000);
    if (r) return r;
    child.kill('SIGKILL');
    return rx.closed;
  };
  const deadline = Date.now() + 10000;
  while (!listening(port)) {
    if (rx.exit) throw new Error(`the RTMP receiver on port ${port} exited: ${JSON.stringify(rx.exit)} ${rx.stderr}`);
    if (Date.now() > deadline) throw new Error(`the RTMP receiver on port ${port} does not listen after 10 s: ${rx.stderr}`);
    await sleep(50);
  }
  return rx;
}

/**
 * Fetches an HLS playlist the way a player does (no credentials), then its first media
 * segment (after the EXT-X-MAP initialization section, if any) into `dir`. Resolves with
 * {response, playlist, segmentUrl, file, probe}.
 */
export async function fetchHls(hlsUrl, dir, name = 'segment') {
  const response = await fetch(hlsUrl);
  const playlist = await response.text();
  if (response.status !== 200) return { response, playlist };
  const lines = playlist.split('\n').map((l) => l.trim());
  const map = lines.map((l) => /^#EXT-X-MAP:.*URI="([^"]+)"/.exec(l)).find(Boolean);
  const segment = lines.find((l) => l && !l.startsWith('#'));
  if (!segment) return { response, playlist };
  const segmentUrl = new URL(segment, hlsUrl).href;
  const parts = [];
  if (map) {
    const init = await fetch(new URL(map[1], hlsUrl));
    if (init.status !== 200) throw new Error(`GET ${map[1]} (EXT-X-MAP): ${init.status}`);
    parts.push(Buffer.from(await init.arrayBuffer()));
  }
  const seg = await fetch(segmentUrl);
  if (seg.status !== 200) throw new Error(`GET ${segmentUrl}: ${seg.status}`);
  parts.push(Buffer.from(await seg.arrayBuffer()));
  const file = path.join(dir, `${name}${path.extname(new URL(segmentUrl).pathname) || '.ts'}`);
  writeFileSync(file, Buffer.concat(parts));
  return { response, playlist, segmentUrl, file, probe: ffprobe(file), contentType: seg.headers.get('content-type') };
}

/** `[video codec, width, height, audio codec]` of a probe (null where a track is missing). */
export function avOf(probe) {
  const v = streamOf(probe, 'video');
  const a = streamOf(probe, 'audio');
  return [v ? v.codec_name : null, v ? v.width : null, v ? v.height : null, a ? a.codec_name : null];
}
