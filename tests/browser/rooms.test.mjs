// The Telnyx-style face of the web SDK (ParlorVideo / Video: initialize → Room) in Chromium,
// against a real `parlor serve` and its Telnyx Video Rooms REST API (/v2), with the test as
// the app server: it creates a room, mints join tokens and refreshes one, and mutes, kicks
// and ends by REST. Three participants (pages/rooms.html) publish their fake camera and
// microphone with addStream and subscribe to each other with addSubscription.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { API_KEY, API_SECRET, REPO_ROOT, openPage, useEnvironment, waitInPage } from './lib/harness.mjs';

const env = useEnvironment();

/** A Rooms REST call as an app server makes it (Bearer key:secret); asserts the status. */
async function rest(method, path, body, expect = [200, 201]) {
  const r = await fetch(`${env.server.baseUrl}/v2${path}`, {
    method,
    headers: { Authorization: `Bearer ${API_KEY}:${API_SECRET}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!expect.includes(r.status)) throw new Error(`${method} /v2${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const joinToken = (roomId, ttl = {}) => rest('POST', `/rooms/${roomId}/actions/generate_join_client_token`, ttl).then((r) => r.data);

async function openRoomPage() {
  return openPage(env.browser, `${env.pages.baseUrl}/rooms.html`);
}

async function join(page, roomId, token, context, opts = {}) {
  const r = await page.evaluate((x) => R.join(x), { roomId, token, context, ...opts });
  assert.equal(r.status, 'connected');
  return r.participantId;
}

/** Waits for an event in the page matching `pred` (a function source over `e.args`). */
function waitEvent(page, type, pred = 'true', timeout = 20000) {
  return waitInPage(page, ([t, p]) => R.events(t).find((e) => new Function('e', `return ${p}`)(e)), [type, pred], timeout);
}

/** Polls until `page`'s subscription to `pid`'s camera decodes more frames than `after`. */
async function framesGrow(page, pid, after = 0, timeout = 20000) {
  return waitInPage(page, async ([p, n]) => {
    const f = await R.framesDecoded(p, 'camera');
    return typeof f === 'number' && f > n ? f : null;
  }, [pid, after], timeout);
}

test('three participants: streams, subscriptions, State, mute, messages, token refresh and expiry, kick, end', { timeout: 180_000 }, async () => {
  const room = (await rest('POST', '/rooms', { unique_name: `browser-${Date.now()}` })).data;
  const tokA = await joinToken(room.id, { token_ttl_secs: 15, refresh_token_ttl_secs: 600 });
  const tokB = await joinToken(room.id);
  const tokC = await joinToken(room.id);
  const tokD = await joinToken(room.id, { token_ttl_secs: 10 });
  const expiresA = Date.parse(tokA.token_expires_at);
  assert.ok(expiresA - Date.now() <= 15_000 && expiresA - Date.now() > 5_000, `A's token expires at ${tokA.token_expires_at}`);

  const [pa, pb, pc, pd] = await Promise.all([openRoomPage(), openRoomPage(), openRoomPage(), openRoomPage()]);
  const A = await join(pa, room.id, tokA.token, JSON.stringify({ name: 'Ann' }));
  const B = await join(pb, room.id, tokB.token, JSON.stringify({ name: 'Bob' }));
  const C = await join(pc, room.id, tokC.token, JSON.stringify({ name: 'Cid' }));
  // D joins without publishing and never refreshes its 10 s token.
  const D = await join(pd, room.id, tokD.token, 'dee', { publish: false, autoSubscribe: false });
  assert.equal(new Set([A, B, C, D]).size, 4);

  // The app server refreshes A's token before it expires; the page hands it to the room.
  const refreshed = (await rest('POST', `/rooms/${room.id}/actions/refresh_client_token`, { refresh_token: tokA.refresh_token, token_ttl_secs: 600 })).data;
  assert.ok(Date.now() < expiresA - 1000, 'refreshed before the original expiry');
  assert.deepEqual(await pa.evaluate((t) => R.call('updateClientToken', t), refreshed.token), { ok: true });

  // Everyone receives the two others' video (subscription_started; frames decoded and growing).
  const pages = { [A]: pa, [B]: pb, [C]: pc };
  for (const [me, page] of Object.entries(pages)) {
    for (const other of [A, B, C].filter((x) => x !== me)) {
      await waitEvent(page, 'subscription_started', `e.args[0] === ${JSON.stringify(other)} && e.args[1] === 'camera'`);
      const f = await framesGrow(page, other);
      await framesGrow(page, other, f);
      await waitInPage(page, (p) => { const v = R.videoElement(p, 'camera'); return v && v.width > 0 && v.currentTime > 0.3; }, other);
    }
  }
  // The senders' side too.
  assert.ok((await pa.evaluate(() => R.sent('camera'))) > 0);

  // getState(): the reference's shape.
  for (const [me, page] of Object.entries(pages)) {
    const s = await page.evaluate(() => R.state());
    assert.equal(s.status, 'connected');
    assert.equal(s.localParticipantId, me);
    assert.deepEqual(s.types, { participants: true, streams: true, subscriptions: true });
    assert.equal(s.same, true, 'getState() returns the same object until something changes');
    const byId = Object.fromEntries(s.participants.map((p) => [p.id, p]));
    for (const [id, name] of [[A, 'Ann'], [B, 'Bob'], [C, 'Cid']]) {
      const p = byId[id];
      assert.ok(p, `${me} knows ${id}`);
      assert.equal(JSON.parse(p.context).name, name);
      assert.equal(p.origin, id === me ? 'local' : 'remote');
      assert.equal(p.canReceiveMessages, true);
      assert.deepEqual(Object.keys(p.streams), ['camera']);
      const st = s.streams.find((x) => x.mapKey === p.streams.camera);
      assert.ok(st, `stream of ${id}`);
      assert.deepEqual(
        [st.id, st.key, st.participantId, st.isAudioEnabled, st.isVideoEnabled, st.isAudioCensored, st.isVideoCensored, st.isConfigured],
        [p.streams.camera, 'camera', id, true, true, false, false, true],
      );
      assert.deepEqual(st.videoTrack, { kind: 'video', readyState: 'live' });
      assert.deepEqual(st.audioTrack, { kind: 'audio', readyState: 'live' });
    }
    const subs = Object.fromEntries(s.subscriptions);
    assert.deepEqual(Object.keys(subs).sort(), [A, B, C].filter((x) => x !== me).sort());
    for (const entries of Object.values(subs)) assert.deepEqual(entries, [['camera', { audio: true, video: true }]]);
  }
  // The REST API's participants are these ids, with their contexts.
  const session = (await rest('GET', `/room_sessions?filter[room_id]=${room.id}`)).data[0];
  const listed = (await rest('GET', `/room_sessions/${session.id}/participants`)).data;
  for (const [id, name] of [[A, 'Ann'], [B, 'Bob'], [C, 'Cid']]) {
    assert.equal(JSON.parse(listed.find((p) => p.id === id).context).name, name);
  }

  // The app server mutes B: its audio is censored. Everyone, B included, sees
  // track_censored(B, 'camera', 'audio') once, and no track_disabled.
  const isB = `e.args[0] === ${JSON.stringify(B)}`;
  await rest('POST', `/room_sessions/${session.id}/actions/mute`, { participants: [B] });
  for (const page of [pa, pb, pc]) {
    const e = await waitEvent(page, 'track_censored');
    assert.deepEqual(e.args, [B, 'camera', 'audio']);
    const st = (await page.evaluate(() => R.state())).streams.find((x) => x.participantId === B);
    assert.deepEqual([st.isAudioCensored, st.isAudioEnabled, st.isVideoEnabled], [true, false, true]);
  }

  // While censored, B cannot turn its audio on: updateStream with a new microphone track
  // keeps the track but sends nothing, and nobody sees track_enabled. (B's message after it
  // is a barrier: the others have everything B sent before it.)
  const retried = await pb.evaluate(async () => {
    const audio = (await navigator.mediaDevices.getUserMedia({ audio: true })).getAudioTracks()[0];
    return R.call('updateStream', 'camera', { audio, video: R.media.getVideoTracks()[0] });
  });
  assert.deepEqual(retried, { ok: true });
  assert.deepEqual(await pb.evaluate(() => R.call('sendMessage', { type: 'text', payload: 'still censored' })), { ok: true });
  for (const page of [pa, pb, pc]) await waitEvent(page, 'message_received', "e.args[1].payload === 'still censored'");
  const heard = await pa.evaluate((p) => R.audioReceived(p, 'camera'), B);
  assert.equal(typeof heard, 'number');
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(await pa.evaluate((p) => R.audioReceived(p, 'camera'), B), heard, "no audio of B's reaches A while censored");
  for (const page of [pa, pb, pc]) {
    assert.equal((await page.evaluate(() => R.events('track_disabled'))).length, 0, 'a censor is not reported as a disable');
    assert.equal((await page.evaluate(() => R.events('track_enabled'))).length, 0, 'B cannot turn its audio on while censored');
    assert.equal((await page.evaluate(() => R.events('track_censored'))).length, 1);
    const st = (await page.evaluate(() => R.state())).streams.find((x) => x.participantId === B);
    assert.deepEqual([st.isAudioCensored, st.isAudioEnabled], [true, false]);
    if (page === pb) assert.deepEqual(st.audioTrack, { kind: 'audio', readyState: 'live' }, 'the app keeps its track');
  }

  // The app server unmutes B: everyone sees track_uncensored, then, since B has its audio
  // track set, B's audio comes back by itself: track_enabled, and A hears B again.
  await rest('POST', `/room_sessions/${session.id}/actions/unmute`, { participants: [B] });
  for (const page of [pa, pb, pc]) {
    const un = await waitEvent(page, 'track_uncensored');
    assert.deepEqual(un.args, [B, 'camera', 'audio']);
    const on = await waitEvent(page, 'track_enabled', `${isB} && e.args[2] === 'audio'`);
    assert.deepEqual(on.args, [B, 'camera', 'audio']);
    assert.ok(on.t >= un.t);
    const st = (await page.evaluate(() => R.state())).streams.find((x) => x.participantId === B);
    assert.deepEqual([st.isAudioCensored, st.isAudioEnabled], [false, true]);
  }
  await waitInPage(pa, async ([p, n]) => {
    const got = await R.audioReceived(p, 'camera');
    return typeof got === 'number' && got > n + 10 ? got : null;
  }, [B, heard]);

  // B then turns its audio off itself: track_disabled, not a second track_censored.
  assert.deepEqual(await pb.evaluate(() => R.call('updateStream', 'camera', { audio: undefined, video: R.media.getVideoTracks()[0] })), { ok: true });
  for (const page of [pa, pb, pc]) {
    const off = await waitEvent(page, 'track_disabled', isB);
    assert.deepEqual(off.args, [B, 'camera', 'audio']);
    assert.equal((await page.evaluate(() => R.events('track_censored'))).length, 1);
    const st = (await page.evaluate(() => R.state())).streams.find((x) => x.participantId === B);
    assert.deepEqual([st.isAudioCensored, st.isAudioEnabled, st.isVideoEnabled], [false, false, true]);
  }

  // Messages: A to everyone (A gets its own too, as signals go), then A to C only.
  const hello = { type: 'text', payload: 'hello all', meta: { n: 1 } };
  assert.deepEqual(await pa.evaluate((m) => R.call('sendMessage', m), hello), { ok: true });
  for (const page of [pa, pb, pc]) {
    const e = await waitEvent(page, 'message_received', "e.args[1].payload === 'hello all'");
    assert.deepEqual(e.args, [A, hello, null]);
  }
  const secret = { type: 'text', payload: 'just for C' };
  assert.deepEqual(await pa.evaluate(([m, to]) => R.call('sendMessage', m, to), [secret, [C]]), { ok: true });
  const got = await waitEvent(pc, 'message_received', "e.args[1].payload === 'just for C'");
  assert.deepEqual(got.args, [A, secret, [C]]);
  // A later message to everyone reaches B after the private one would have: B never saw it.
  await pa.evaluate(() => R.call('sendMessage', { type: 'text', payload: 'barrier' }));
  await waitEvent(pb, 'message_received', "e.args[1].payload === 'barrier'");
  assert.equal((await pb.evaluate(() => R.events('message_received'))).filter((e) => e.args[1].payload === 'just for C').length, 0);
  assert.equal((await pa.evaluate(() => R.events('message_received'))).filter((e) => e.args[1].payload === 'just for C').length, 0);

  // D never refreshed its token: the server disconnects it; the others see it leave.
  const dOut = await waitEvent(pd, 'disconnected', 'true', 40_000);
  assert.deepEqual(dOut.args, ['unauthorized']);
  assert.equal(await pd.evaluate(() => R.state().status), 'disconnected');
  for (const page of [pa, pb, pc]) {
    const leaving = await waitEvent(page, 'participant_leaving', `e.args[0] === ${JSON.stringify(D)}`);
    assert.deepEqual(leaving.args, [D, null]);
    await waitEvent(page, 'participant_left', `e.args[0] === ${JSON.stringify(D)}`);
  }

  // A stays connected well past its first token's expiry, its video still flowing.
  while (Date.now() < expiresA + 5000) await new Promise((r) => setTimeout(r, expiresA + 5000 - Date.now()));
  assert.equal(await pa.evaluate(() => R.state().status), 'connected');
  assert.equal((await pa.evaluate(() => R.events('disconnected'))).length, 0);
  for (const page of [pb, pc]) {
    const f = await framesGrow(page, A);
    await framesGrow(page, A, f);
  }
  const fb = await framesGrow(pa, B);
  await framesGrow(pa, B, fb);

  // A token that is not the room's is refused; the connection stays.
  const tampered = refreshed.token.slice(0, -6) + (refreshed.token.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA');
  const refused = await pc.evaluate((t) => R.call('updateClientToken', t), tampered);
  assert.equal(refused.ok, false);
  assert.equal(refused.name, 'OT_AUTHENTICATION_ERROR');
  assert.equal(await pc.evaluate(() => R.state().status), 'connected');

  // Kick C: A and B see it leave as kicked; C is disconnected as kicked.
  await rest('POST', `/room_sessions/${session.id}/actions/kick`, { participants: [C] });
  const cOut = await waitEvent(pc, 'disconnected');
  assert.deepEqual(cOut.args, ['kicked']);
  for (const page of [pa, pb]) {
    const leaving = await waitEvent(page, 'participant_leaving', `e.args[0] === ${JSON.stringify(C)}`);
    assert.deepEqual(leaving.args, [C, 'kicked']);
    const left = await waitEvent(page, 'participant_left', `e.args[0] === ${JSON.stringify(C)}`);
    assert.ok(left.t >= leaving.t);
    const s = await page.evaluate(() => R.state());
    assert.equal(s.participants.some((p) => p.id === C), false);
    assert.equal(s.streams.some((x) => x.participantId === C), false);
    assert.equal(s.subscriptions.some(([pid]) => pid === C), false);
  }

  // End the session: A and B are disconnected as session_terminated.
  await rest('POST', `/room_sessions/${session.id}/actions/end`);
  for (const page of [pa, pb]) {
    const out = await waitEvent(page, 'disconnected');
    assert.deepEqual(out.args, ['session_terminated']);
    assert.equal(await page.evaluate(() => R.state().status), 'disconnected');
  }
  for (const page of [pa, pb, pc, pd]) {
    assert.deepEqual(await page.evaluate(() => R.errors), []);
    await page.context().close();
  }
});

test('the example app (web/demo/rooms): two people join a room through its app server, see each other, chat, leave', { timeout: 120_000 }, async () => {
  const { startAppServer } = await import(`${REPO_ROOT}/web/demo/rooms/server.mjs`);
  const app = await startAppServer({ parlorUrl: env.server.baseUrl, apiKey: API_KEY, apiSecret: API_SECRET, port: 0, tokenTtlSecs: 30 });
  try {
    const name = `demo-${Date.now()}`;
    const open = async (who) => {
      const page = await openPage(env.browser, `${app.url}/?room=${name}`);
      await page.fill('#username', who);
      await page.click('#join');
      return page;
    };
    const ann = await open('Ann');
    const bob = await open('Bob');
    const tiles = (page) => waitInPage(page, () => {
      const t = [...document.querySelectorAll('#grid .tile')];
      return t.length === 2 && t.every((x) => { const v = x.querySelector('video'); return v.videoWidth > 0 && v.currentTime > 0.3; })
        ? t.map((x) => x.querySelector('.name').textContent).sort() : null;
    });
    assert.deepEqual(await tiles(ann), ['Ann (you)', 'Bob']);
    assert.deepEqual(await tiles(bob), ['Ann', 'Bob (you)']);
    // Both joined the same room, found by name through the app server.
    const rooms = (await rest('GET', `/rooms?filter[unique_name]=${name}`)).data;
    assert.equal(rooms.length, 1);

    await ann.fill('#chat-input', 'hi Bob');
    await ann.press('#chat-input', 'Enter');
    await waitInPage(bob, () => [...document.querySelectorAll('#messages li:not(.system) .text')].some((e) => e.textContent === 'hi Bob'));

    // Ann mutes herself: Bob's tile shows her mic off (not "muted by moderator").
    await ann.click('#toggle-mic');
    const badge = await waitInPage(bob, () => {
      const b = [...document.querySelectorAll('#grid .tile')].find((t) => t.querySelector('.name').textContent === 'Ann')?.querySelector('.badge');
      return b && !b.hidden ? b.textContent : null;
    });
    assert.equal(badge, 'Mic off');

    await bob.click('#leave');
    await waitInPage(bob, () => !document.getElementById('left').hidden && document.getElementById('left-title').textContent);
    assert.equal(await bob.textContent('#left-title'), 'You left the room');
    await waitInPage(ann, () => document.querySelectorAll('#grid .tile').length === 1);
    await ann.context().close();
    await bob.context().close();
  } finally {
    await app.close();
  }
});
