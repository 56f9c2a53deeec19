// Live compatibility: every Node SDK call for a feature Parlor has not built (SIP dial and
// DTMF, captions, Experience Composer, Audio Connector). The server must answer each with
// 501 JSON naming the feature; the suite records what the SDK made of it (whether the error
// an application sees carries the server's message) in results/node-unbuilt.json.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, API_KEY, API_SECRET } from './helpers.mjs';
import { OpenTok, compatSuite, call, errorText, exchanges, since, describeExchanges } from './sdk.mjs';

const compatTest = compatSuite('unbuilt');
const P = `/v2/project/${API_KEY}`;
const RENDER = '5a1e0a4c-0000-4000-8000-00000000c001';
const CAPTIONS = '5a1e0a4c-0000-4000-8000-00000000d001';
const STREAM = '5a1e0a4c-0000-4000-8000-00000000e001';
const CONNECTION = '5a1e0a4c-0000-4000-8000-00000000f001';

let server;
let ot;
let sid;
let token;

before(async () => {
  server = await startServer();
  ot = new OpenTok(API_KEY, API_SECRET, { apiUrl: server.baseUrl });
  sid = await new Promise((resolve, reject) => ot.createSession({ mediaMode: 'routed' }, (e, s) => (e ? reject(e) : resolve(s.sessionId))));
  token = ot.generateToken(sid, { role: 'moderator' });
});

after(async () => {
  if (!server) return;
  const { code, signal } = await server.stop();
  assert.equal(signal, null, `parlor serve did not exit after SIGTERM\n${server.stderr}`);
  assert.equal(code, 0, `parlor serve exited with ${code}\n${server.stderr}`);
});

const run = (name, ...args) => call(ot[name].bind(ot), ...args);
const not = (feature) => `this Parlor server does not support ${feature} yet`;

const SIP = not('SIP interconnect');
const DTMF = not('SIP interconnect (DTMF)');
const CAPTIONING = not('live captions');
const RENDERING = not('Experience Composer');
const AUDIO_CONNECTOR = not('Audio Connector');

// [method, operation, feature, HTTP method, path (after P), server message, invoke]
const CASES = [
  ['dial', 'Dial a SIP endpoint', 'SIP interconnect', 'POST', () => '/dial', SIP, () => run('dial', sid, token, 'sip:user@sip.example.com;transport=tls', { secure: true })],
  ['playDTMF', 'Play DTMF to a session', 'SIP interconnect', 'POST', () => `/session/${sid}/play-dtmf`, DTMF, () => run('playDTMF', sid, null, '1234#')],
  ['playDTMF', 'Play DTMF to one connection', 'SIP interconnect', 'POST', () => `/session/${sid}/connection/${CONNECTION}/play-dtmf`, DTMF, () => run('playDTMF', sid, CONNECTION, '1234#')],
  ['startCaptions', 'Start live captions', 'captions', 'POST', () => '/captions', CAPTIONING, () => run('startCaptions', sid, token, {})],
  ['stopCaptions', 'Stop live captions', 'captions', 'POST', () => `/captions/${CAPTIONS}/stop`, CAPTIONING, () => run('stopCaptions', CAPTIONS)],
  ['startRender', 'Start an Experience Composer', 'Experience Composer', 'POST', () => '/render', RENDERING, () => run('startRender', { sessionId: sid, token, url: 'https://example.com/composer' })],
  ['getRender', 'Get an Experience Composer', 'Experience Composer', 'GET', () => `/render/${RENDER}`, RENDERING, () => run('getRender', RENDER)],
  ['listRenders', 'List Experience Composers', 'Experience Composer', 'GET', () => '/render', RENDERING, () => run('listRenders', { count: 10 })],
  ['stopRender', 'Stop an Experience Composer', 'Experience Composer', 'DELETE', () => `/render/${RENDER}`, RENDERING, () => run('stopRender', RENDER)],
  ['websocketConnect', 'Connect audio to a WebSocket', 'Audio Connector', 'POST', () => '/connect', AUDIO_CONNECTOR, () => run('websocketConnect', sid, token, 'wss://example.com/audio', { streams: [STREAM] })],
];

function carries(text, message) {
  return text.includes(message) || text.includes(JSON.stringify(message).slice(1, -1));
}

for (const [method, operation, feature, verb, path, message, invoke] of CASES) {
  compatTest({ method, operation, feature }, async (rec) => {
    const mark = exchanges.length;
    const r = await invoke();
    const xs = since(mark);
    // What the server did: one request, answered 501 JSON naming the feature.
    assert.equal(xs.length, 1, `expected one request, got:\n${describeExchanges(xs)}`);
    const [x] = xs;
    assert.equal(`${x.method} ${x.path}`, `${verb} ${P}${path()}`);
    assert.equal(x.status, 501, describeExchanges(xs));
    assert.equal(x.contentType, 'application/json');
    assert.deepEqual(JSON.parse(x.responseBody), { code: 501, message });
    // What the SDK made of it.
    rec.status = '501';
    rec.error_raised = Boolean(r.err || r.thrown);
    if (r.timedOut) {
      rec.message_surfaced = false;
      rec.note = 'the SDK never called back';
    } else if (r.thrown) {
      rec.message_surfaced = carries(errorText(r.thrown), message);
      rec.note = `the SDK threw ${errorText(r.thrown)}`;
    } else if (!r.err) {
      rec.message_surfaced = false;
      rec.note = `the SDK reported success (${JSON.stringify(r.value)})`;
    } else {
      const text = errorText(r.err);
      rec.message_surfaced = carries(text, message);
      rec.note = rec.message_surfaced ? `${text}` : `the error does not carry the message: ${text}`;
    }
  });
}

test('only the unbuilt features answered 5xx, and only 501', () => {
  const bad = exchanges.filter((x) => x.status >= 500 && x.status !== 501);
  assert.deepEqual(bad, [], describeExchanges(bad));
});
