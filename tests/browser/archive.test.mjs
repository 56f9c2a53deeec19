// Archives of a browser's stream: Chromium publishes with the web SDK (fake camera and
// microphone), the test starts an individual archive through the REST API as an app server
// does, the pages get archiveStarted (also one that joins later) and archiveStopped, and the
// downloaded ZIP holds a WebM of VP8 and Opus that ffmpeg decodes without an error.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { signHs256 } from '../compat/node/helpers.mjs';
import { API_KEY, API_SECRET, createSession, join, openTestPage, useEnvironment, waitInPage } from './lib/harness.mjs';

const env = useEnvironment();

/** A REST call under /v2/project/{key} with a fresh project JWT: { status, body }. */
async function rest(method, route, body) {
  const now = Math.floor(Date.now() / 1000);
  const auth = signHs256({ iss: API_KEY, ist: 'project', iat: now, exp: now + 300, jti: `${Math.random()}` }, API_SECRET);
  const res = await fetch(`${env.server.baseUrl}/v2/project/${API_KEY}${route}`, {
    method,
    headers: { 'X-OPENTOK-AUTH': auth, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Makes the page record the session's archive events in `window.archiveEvents` (before it joins). */
function recordArchiveEvents(page) {
  return page.evaluate(() => {
    window.archiveEvents = [];
    const initSession = OT.initSession;
    OT.initSession = (...args) => {
      const session = initSession(...args);
      for (const type of ['archiveStarted', 'archiveStopped']) {
        session.on(type, (e) => window.archiveEvents.push({ type, id: e.id, name: e.name }));
      }
      return session;
    };
  });
}

function waitArchiveEvent(page, type, id) {
  return waitInPage(page, ({ type, id }) => window.archiveEvents.find((e) => e.type === type && e.id === id), { type, id }, 10000);
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return r;
}

test('an individual archive of a Chromium publisher: events, download, a clean VP8/Opus WebM', async () => {
  const sid = await createSession(env.server);
  const publisher = await openTestPage(env);
  await recordArchiveEvents(publisher);
  const joined = await join(publisher, sid, { data: 'browser', autoSubscribe: false });
  assert.equal(joined.error, undefined, JSON.stringify(joined));
  // The stream is announced once its media is up.
  for (let i = 0; ; i++) {
    const { body } = await rest('GET', `/session/${sid}/stream`);
    if (body?.items?.some((s) => s.id === joined.streamId)) break;
    assert.ok(i < 100, 'the browser stream was never announced');
    await new Promise((r) => setTimeout(r, 100));
  }

  const started = await rest('POST', '/archive', { sessionId: sid, name: 'from chromium', outputMode: 'individual' });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const { id } = started.body;
  const t0 = Date.now();
  assert.deepEqual(await waitArchiveEvent(publisher, 'archiveStarted', id), { type: 'archiveStarted', id, name: 'from chromium' });

  // A participant joining while it records is told too.
  const late = await openTestPage(env);
  await recordArchiveEvents(late);
  const lateJoin = await join(late, sid, { publish: false, autoSubscribe: false });
  assert.equal(lateJoin.error, undefined, JSON.stringify(lateJoin));
  assert.deepEqual(await waitArchiveEvent(late, 'archiveStarted', id), { type: 'archiveStarted', id, name: 'from chromium' });

  await new Promise((r) => setTimeout(r, Math.max(0, 4000 - (Date.now() - t0))));
  const stopped = await rest('POST', `/archive/${id}/stop`);
  assert.equal(stopped.status, 200, JSON.stringify(stopped.body));
  const wall = (Date.now() - t0) / 1000;
  for (const page of [publisher, late]) {
    assert.deepEqual(await waitArchiveEvent(page, 'archiveStopped', id), { type: 'archiveStopped', id, name: 'from chromium' });
  }

  let archive;
  for (let i = 0; ; i++) {
    archive = (await rest('GET', `/archive/${id}`)).body;
    if (!['started', 'paused', 'stopped'].includes(archive.status)) break;
    assert.ok(i < 150, `archive still ${archive.status} after 30 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(archive.status, 'available', JSON.stringify(archive));
  const res = await fetch(archive.url);
  assert.equal(res.status, 200);
  const dir = mkdtempSync(path.join(tmpdir(), 'parlor-browser-archive-'));
  try {
    const zip = path.join(dir, 'archive.zip');
    writeFileSync(zip, Buffer.from(await res.arrayBuffer()));
    const unzip = run('unzip', ['-q', '-o', zip, '-d', dir]);
    assert.equal(unzip.status, 0, unzip.stderr);
    const manifest = JSON.parse(readFileSync(path.join(dir, `${id}.json`), 'utf8'));
    assert.equal(manifest.files.length, 1, JSON.stringify(manifest));
    const [file] = manifest.files;
    assert.equal(file.streamId, joined.streamId);
    assert.equal(file.connectionData, 'browser');
    assert.match(file.filename, /\.webm$/);
    const webm = path.join(dir, file.filename);

    const probe = run('ffprobe', ['-v', 'error', '-count_frames', '-print_format', 'json', '-show_streams', '-show_format', webm]);
    assert.equal(probe.status, 0, probe.stderr);
    const info = JSON.parse(probe.stdout);
    const video = info.streams.find((s) => s.codec_type === 'video');
    const audio = info.streams.find((s) => s.codec_type === 'audio');
    assert.equal(video?.codec_name, 'vp8', JSON.stringify(info.streams));
    assert.equal(audio?.codec_name, 'opus', JSON.stringify(info.streams));
    const frames = Number(video.nb_read_frames);
    const duration = Number(info.format.duration);
    console.log(`browser archive: ${frames} video frames ${video.width}x${video.height}, ${audio.nb_read_frames} audio frames, ${duration.toFixed(2)} s (wall ${wall.toFixed(2)} s), ${archive.size} bytes`);
    // Chromium's fake camera sends 30 fps (less while its encoder ramps up).
    assert.ok(frames >= 10 * (duration - 1), `${frames} frames in ${duration} s`);
    assert.ok(Math.abs(duration - wall) < 0.5, `file ${duration} s vs wall ${wall} s`);
    // Opus from Chromium: 20 ms frames, nearly all of them.
    const audioFrames = Number(audio.nb_read_frames);
    assert.ok(audioFrames >= 40 * (duration - 1), `${audioFrames} audio frames in ${duration} s`);

    const decode = run('ffmpeg', ['-nostdin', '-v', 'error', '-i', webm, '-enc_time_base', '-1', '-f', 'null', '-']);
    assert.equal(decode.status, 0, decode.stderr);
    assert.equal(decode.stderr, '', `ffmpeg reported errors decoding ${file.filename}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await publisher.context().close();
    await late.context().close();
  }
});
