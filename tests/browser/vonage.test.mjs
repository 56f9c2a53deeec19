// A Vonage application in the browser: the session and the client tokens come from the
// official npm `@vonage/video` (RS256, signed with the application's private key), and
// the web SDK connects with the application ID where OpenTok apps pass the API key.
// `@vonage/video` is the compatibility suite's (tests/compat, installed by scripts/test.sh
// before the browser tests).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { PARLOR_BIN, REPO_ROOT, expectLiveVideos, openTestPage, useEnvironment, waitInPage } from './lib/harness.mjs';

const { Video, MediaMode } = createRequire(path.join(REPO_ROOT, 'tests', 'compat', 'package.json'))('@vonage/video');
const env = useEnvironment();

/** `parlor app create` in the server's data dir → {applicationId, privateKey}. */
function createApplication() {
  const r = spawnSync(PARLOR_BIN, ['app', 'create', '--name', 'browser', '--json', '--data-dir', env.server.dataDir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const joinAs = (page, x) => page.evaluate((o) => T.join(o), x);

test('a Vonage application: @vonage/video tokens of every role connect Chromium, which publishes and subscribes as each role allows', async () => {
  const app = createApplication();
  const video = new Video({ applicationId: app.applicationId, privateKey: app.privateKey }, { videoHost: env.server.baseUrl });
  const { sessionId } = await video.createSession({ mediaMode: MediaMode.ROUTED });
  const tokenFor = (role, data) => video.generateClientToken(sessionId, { role, data });

  const host = await openTestPage(env);
  const guest = await openTestPage(env);
  const viewer = await openTestPage(env);
  const base = { apiKey: app.applicationId, sessionId };
  const h = await joinAs(host, { ...base, token: tokenFor('moderator', 'name=Host') });
  assert.equal(h.error, undefined, JSON.stringify(h));
  assert.equal(h.capabilities.forceDisconnect, 1, 'a moderator token');
  const g = await joinAs(guest, { ...base, token: tokenFor('publisher', 'name=Guest') });
  assert.equal(g.error, undefined, JSON.stringify(g));
  assert.equal(g.capabilities.forceDisconnect, 0);
  // A subscriber token connects and subscribes; publishing is refused as OpenTok.js does.
  const v = await joinAs(viewer, { ...base, token: tokenFor('subscriber', 'name=Viewer') });
  assert.equal(v.capabilities.publish, 0);
  assert.equal(v.error.name, 'OT_PERMISSION_DENIED');
  await expectLiveVideos(viewer, 2);
  await expectLiveVideos(host, 1);
  // The connection data the SDK put in the token reaches the others.
  const data = await viewer.evaluate(() => T.events('connectionCreated').map((e) => e.connectionData).sort());
  assert.deepEqual(data, ['name=Guest', 'name=Host', 'name=Viewer']);

  // The moderator's power works with an application token: the guest is disconnected.
  const kicked = await host.evaluate((id) => new Promise((resolve) => {
    T.session.forceDisconnect(T.connectionById(id), (err) => resolve(err ? err.name : null));
  }), g.connectionId);
  assert.equal(kicked, null);
  const out = await waitInPage(guest, () => T.events('sessionDisconnected')[0]);
  assert.equal(out.reason, 'forceDisconnected');

  // A token of another application for this session is refused.
  const other = createApplication();
  const stranger = new Video({ applicationId: other.applicationId, privateKey: other.privateKey }, { videoHost: env.server.baseUrl });
  const page = await openTestPage(env);
  const refused = await joinAs(page, { ...base, token: stranger.generateClientToken(sessionId, { role: 'publisher' }), publish: false });
  assert.ok(refused.error, 'a token of another application connected');
  assert.equal(refused.error.name, 'OT_AUTHENTICATION_ERROR', JSON.stringify(refused.error));

  for (const p of [host, guest, viewer, page]) await p.context().close();
});
