// Live compatibility: every `@vonage/video` call for a feature Parlor has not built
// (SIP dial and DTMF, captions, Experience Composer, Audio Connector), with
// Vonage application credentials. The server must answer each with 501 JSON naming the
// feature; the suite records what the SDK made of it in results/vonage-node-unbuilt.json.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { MediaMode } from '@vonage/video';
import { startServer } from './helpers.mjs';
import {
  compatSuite, createApplication, videoClient, exchanges, since, describeExchanges,
} from './vonage_sdk.mjs';

const compatTest = compatSuite('unbuilt');
const RENDER = '5a1e0a4c-0000-4000-8000-00000000c001';
const CAPTIONS = '5a1e0a4c-0000-4000-8000-00000000d001';
const STREAM = '5a1e0a4c-0000-4000-8000-00000000e001';
const CONNECTION = '5a1e0a4c-0000-4000-8000-00000000f001';

let server;
let video;
let P;
let sid;
let token;

before(async () => {
  server = await startServer();
  const app = createApplication(server, 'node-unbuilt');
  video = videoClient(server, app);
  P = `/v2/project/${app.applicationId}`;
  sid = (await video.createSession({ mediaMode: MediaMode.ROUTED })).sessionId;
  token = video.generateClientToken(sid, { role: 'moderator' });
});

after(async () => {
  if (!server) return;
  const { code, signal } = await server.stop();
  assert.equal(signal, null, `parlor serve did not exit after SIGTERM\n${server.stderr}`);
  assert.equal(code, 0, `parlor serve exited with ${code}\n${server.stderr}`);
});

const not = (feature) => `this Parlor server does not support ${feature} yet`;
const SIP = not('SIP interconnect');
const DTMF = not('SIP interconnect (DTMF)');
const CAPTIONING = not('live captions');
const RENDERING = not('Experience Composer');
const AUDIO_CONNECTOR = not('Audio Connector');

// [method, operation (the table's row), feature, HTTP method, path after P, message, invoke]
const CASES = [
  ['initiateSIPCall', 'Dial a SIP endpoint', 'SIP interconnect', 'POST', () => '/dial', SIP, () => video.initiateSIPCall(sid, { token, sip: { uri: 'sip:user@sip.example.com;transport=tls' } })],
  ['playDTMF', 'Play DTMF to a session', 'SIP interconnect', 'POST', () => `/session/${sid}/play-dtmf`, DTMF, () => video.playDTMF(sid, '1234#')],
  ['playDTMF', 'Play DTMF to one connection', 'SIP interconnect', 'POST', () => `/session/${sid}/connection/${CONNECTION}/play-dtmf`, DTMF, () => video.playDTMF(sid, '1234#', CONNECTION)],
  ['enableCaptions', 'Start live captions', 'captions', 'POST', () => '/captions', CAPTIONING, () => video.enableCaptions(sid, token, {})],
  ['disableCaptions', 'Stop live captions', 'captions', 'POST', () => `/captions/${CAPTIONS}/stop`, CAPTIONING, () => video.disableCaptions(CAPTIONS)],
  ['startExperienceComposerRender', 'Start an Experience Composer', 'Experience Composer', 'POST', () => '/render', RENDERING, () => video.startExperienceComposerRender(sid, token, { url: 'https://example.com/composer' })],
  ['getExperienceComposerRender', 'Get an Experience Composer', 'Experience Composer', 'GET', () => `/render/${RENDER}`, RENDERING, () => video.getExperienceComposerRender(RENDER)],
  ['listExperienceComposerRenders', 'List Experience Composers', 'Experience Composer', 'GET', () => '/render', RENDERING, () => video.listExperienceComposerRenders({ count: 10 })],
  ['stopExperienceComposerRender', 'Stop an Experience Composer', 'Experience Composer', 'DELETE', () => `/render/${RENDER}`, RENDERING, () => video.stopExperienceComposerRender(RENDER)],
  ['connectToWebsocket', 'Connect audio to a WebSocket', 'Audio Connector', 'POST', () => '/connect', AUDIO_CONNECTOR, () => video.connectToWebsocket(sid, token, { uri: 'wss://example.com/audio', streams: [STREAM] })],
];

for (const [method, operation, feature, verb, path, message, invoke] of CASES) {
  compatTest({ method, operation, feature }, async (rec) => {
    const mark = exchanges.length;
    let err = null;
    let value;
    try {
      value = await invoke();
    } catch (e) {
      err = e;
    }
    const xs = since(mark);
    assert.equal(xs.length, 1, `expected one request, got:\n${describeExchanges(xs)}`);
    const [x] = xs;
    assert.equal(`${x.method} ${x.path}`, `${verb} ${P}${path()}`);
    assert.equal(x.status, 501, describeExchanges(xs));
    assert.equal(x.contentType, 'application/json');
    assert.deepEqual(JSON.parse(x.responseBody), { code: 501, message });
    rec.status = '501';
    rec.error_raised = Boolean(err);
    if (!err) {
      rec.message_surfaced = false;
      rec.note = `the SDK reported success (${JSON.stringify(value)})`;
      return;
    }
    // A VetchError: its message is the status line; the body is on err.response.
    rec.message_surfaced = String(err.message).includes(message);
    const body = err.response ? await err.response.clone().json().catch(() => null) : null;
    rec.note = rec.message_surfaced
      ? String(err.message)
      : `the error says "${err.message}"; the server's message is in error.response${body && body.message === message ? '' : ' (not readable)'}`;
  });
}

test('only the unbuilt features answered 5xx, and only 501', () => {
  const bad = exchanges.filter((x) => x.status >= 500 && x.status !== 501);
  assert.deepEqual(bad, [], describeExchanges(bad));
});
