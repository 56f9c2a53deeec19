// Checks of downloaded archive files for the Node archive suite: a small ZIP reader (so
// the suite needs no `unzip`), ffprobe, and a grey-level frame grab to see which layout a
// composed archive shows at a given time.
// Not a test file itself (node --test only picks up *.test.mjs).
import { spawnSync } from 'node:child_process';
import { inflateRawSync } from 'node:zlib';
import path from 'node:path';

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/**
 * The entries of a ZIP file: [{name, method, size, data}], read through the central
 * directory (stored and deflated entries; no ZIP64, which a few-second archive never needs).
 * Throws on anything malformed.
 */
export function readZip(buf) {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i -= 1) {
    if (buf.readUInt32LE(i) === EOCD) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error('not a ZIP file: no end of central directory record');
  const entries = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  const out = [];
  for (let n = 0; n < entries; n += 1) {
    if (buf.readUInt32LE(at) !== CENTRAL) throw new Error(`ZIP central directory entry ${n}: bad signature`);
    const method = buf.readUInt16LE(at + 10);
    const compressed = buf.readUInt32LE(at + 20);
    const size = buf.readUInt32LE(at + 24);
    const nameLen = buf.readUInt16LE(at + 28);
    const extraLen = buf.readUInt16LE(at + 30);
    const commentLen = buf.readUInt16LE(at + 32);
    const local = buf.readUInt32LE(at + 42);
    const name = buf.subarray(at + 46, at + 46 + nameLen).toString('utf8');
    at += 46 + nameLen + extraLen + commentLen;
    if (buf.readUInt32LE(local) !== LOCAL) throw new Error(`ZIP entry ${name}: bad local header`);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(start, start + compressed);
    let data;
    if (method === 0) data = raw;
    else if (method === 8) data = inflateRawSync(raw);
    else throw new Error(`ZIP entry ${name}: compression method ${method}`);
    if (data.length !== size) throw new Error(`ZIP entry ${name}: ${data.length} bytes, the directory says ${size}`);
    out.push({ name, method, size, data });
  }
  return out;
}

/** `ffprobe -show_streams -show_format` of a file, parsed. */
export function ffprobe(file) {
  const r = spawnSync('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_streams', '-show_format', file], { encoding: 'utf8', timeout: 30000 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`ffprobe ${file}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** The sorted codec names of a probe. */
export const codecs = (probe) => probe.streams.map((s) => s.codec_name).sort();

/** The first stream of a type (`video`, `audio`). */
export const streamOf = (probe, type) => probe.streams.find((s) => s.codec_type === type);

/**
 * Decodes the whole file; throws with ffmpeg's complaints if it does not decode cleanly.
 * `-enc_time_base -1` keeps each stream's own time base (WebM: 1 ms) for the null output:
 * with ffmpeg's default of 1/frame rate, a 15 fps video that starts a few ms after the audio
 * has frames 66/67 ms apart that round into the same 1/15 s tick ("non monotonically
 * increasing dts"), a complaint about the check, not the file.
 */
export function decodesCleanly(file) {
  const r = spawnSync('ffmpeg', ['-nostdin', '-v', 'error', '-i', file, '-enc_time_base', '-1', '-f', 'null', '-'], { encoding: 'utf8', timeout: 60000 });
  if (r.error) throw r.error;
  if (r.status !== 0 || r.stderr.trim()) throw new Error(`${path.basename(file)} does not decode cleanly (ffmpeg -f null)\n${file}: ${r.stderr}`);
}

/**
 * The frame at `seconds`, scaled to `w`×`h` grey levels (0–255): {w, h, mean(x0, y0, x1, y1)}
 * where the region is given in fractions of the frame.
 */
export function greyFrame(file, seconds, w = 128, h = 72) {
  const r = spawnSync('ffmpeg', ['-nostdin', '-v', 'error', '-ss', String(seconds), '-i', file, '-frames:v', '1',
    '-vf', `scale=${w}:${h},format=gray`, '-f', 'rawvideo', '-'], { timeout: 30000, maxBuffer: w * h * 2 });
  if (r.error) throw r.error;
  if (r.status !== 0 || r.stdout.length !== w * h) throw new Error(`no frame at ${seconds} s of ${file}: ${r.stderr}`);
  const px = r.stdout;
  return {
    w,
    h,
    mean(x0, y0, x1, y1) {
      let sum = 0;
      let n = 0;
      for (let y = Math.floor(y0 * h); y < Math.ceil(y1 * h); y += 1) {
        for (let x = Math.floor(x0 * w); x < Math.ceil(x1 * w); x += 1) { sum += px[y * w + x]; n += 1; }
      }
      return sum / n;
    },
  };
}
