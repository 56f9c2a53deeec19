// Room State (Telnyx Video Rooms style): session.getState() and a stateChanged event on
// every change, with participants, their streams by key, and per-stream status.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSession, expectLiveVideos, join, openTestPage, useEnvironment, waitInPage } from './lib/harness.mjs';

const env = useEnvironment();

test('getState and stateChanged follow the room', async () => {
  const sid = await createSession(env.server);
  const ann = await openTestPage(env);
  const bob = await openTestPage(env);
  await ann.evaluate(({ sid }) => {
    window.states = [];
    // Before connecting: a session's state exists from the start.
    window.initial = OT.initSession('47001234', sid).getState();
  }, { sid });
  const initial = await ann.evaluate(() => window.initial);
  assert.deepEqual(initial, { status: 'initialized', sessionId: sid, localParticipantId: null, participants: {}, streams: {} });

  // Listen on the helper's session right after it is created, before connecting.
  await ann.evaluate(() => {
    const orig = OT.initSession.bind(OT);
    OT.initSession = (...args) => {
      const s = orig(...args);
      s.on('stateChanged', (e) => window.states.push({ reason: e.reason, state: e.state }));
      return s;
    };
  });
  const a = await join(ann, sid, { data: '{"name":"Ann"}' });
  const b = await join(bob, sid, { data: '{"name":"Bob"}', publisherProps: { audioSource: 'tone' } });
  const screen = await bob.evaluate(() => T.publishNow({ videoSource: 'screen', audioSource: null, name: 'Bob (screen)' }));
  await expectLiveVideos(ann, 2);

  const state = await waitInPage(ann, (ids) => {
    const s = T.session.getState();
    return ids.every((id) => s.streams[id] && s.streams[id].subscription.status === 'started') ? s : null;
  }, [b.streamId, screen.streamId]);
  assert.equal(state.status, 'connected');
  assert.equal(state.localParticipantId, a.connectionId);
  assert.deepEqual(Object.keys(state.participants).sort(), [a.connectionId, b.connectionId].sort());
  assert.deepEqual(state.participants[b.connectionId], {
    id: b.connectionId,
    context: '{"name":"Bob"}',
    data: '{"name":"Bob"}',
    isLocal: false,
    joinedAt: state.participants[b.connectionId].joinedAt,
    streams: { self: b.streamId, presentation: screen.streamId },
  });
  assert.deepEqual(state.participants[a.connectionId].streams, { self: a.streamId });
  const cam = state.streams[b.streamId];
  assert.deepEqual(
    [cam.key, cam.participantId, cam.videoType, cam.audioActive, cam.videoActive, cam.isRemote, cam.subscription.subscribers],
    ['self', b.connectionId, 'camera', true, true, true, 1],
  );
  assert.equal(state.streams[screen.streamId].key, 'presentation');
  assert.equal(state.streams[screen.streamId].audioActive, false);
  const own = state.streams[a.streamId];
  assert.deepEqual([own.isRemote, own.isPublishing, own.subscription], [false, true, null]);

  // A change re-issues the state.
  await bob.evaluate(() => T.publishers[0].publishVideo(false));
  const afterMute = await waitInPage(ann, (id) => {
    const last = window.states.at(-1);
    return last && last.state.streams[id] && last.state.streams[id].videoActive === false ? last : null;
  }, b.streamId);
  assert.equal(afterMute.reason, 'streamPropertyChanged');

  // Bob's microphone plays a tone: the server hears him speaking.
  await waitInPage(ann, (id) => window.states.some((s) => s.state.streams[id] && s.state.streams[id].isSpeaking), b.streamId);

  // Bob leaves: he and his streams are gone from the state.
  await bob.close();
  const afterLeave = await waitInPage(ann, (id) => {
    const s = T.session.getState();
    return s.participants[id] ? null : s;
  }, b.connectionId);
  assert.deepEqual(Object.keys(afterLeave.streams), [a.streamId]);
  const reasons = await ann.evaluate(() => window.states.map((s) => s.reason));
  for (const r of ['connecting', 'connected', 'connectionCreated', 'streamCreated', 'published', 'subscriptionStarted', 'streamDestroyed', 'connectionDestroyed']) {
    assert.ok(reasons.includes(r), `a stateChanged for ${r} in ${reasons}`);
  }
  await ann.evaluate(() => T.session.disconnect());
  const last = await waitInPage(ann, () => window.states.at(-1).state.status === 'disconnected' && window.states.at(-1));
  assert.deepEqual(last.state.participants, {});
  await ann.context().close();
});
