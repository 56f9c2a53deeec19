// Test-side helpers for the Telnyx-style face (ParlorVideo): join a room as a Telnyx app
// does (initialize, connect, addStream with getUserMedia tracks, addSubscription to every
// other participant's stream, render the subscribed video), record every event, and
// report the State in a JSON-friendly form. Only the public ParlorVideo API is used.
'use strict';

window.R = (() => {
  const EVENTS = [
    'connected', 'disconnected', 'participant_joined', 'participant_leaving', 'participant_left',
    'stream_published', 'stream_unpublished', 'track_enabled', 'track_disabled', 'track_censored',
    'track_uncensored', 'subscription_started', 'subscription_reconfigured', 'subscription_ended',
    'message_received',
  ];
  const log = [];
  const errors = [];
  let room = null;
  let stateChanges = 0;
  let media = null;

  function subscribe(pid, key) {
    room.addSubscription(pid, key, { audio: true, video: true }).catch((e) => errors.push({ what: 'addSubscription', pid, key, name: e.name, message: e.message }));
  }

  function render(pid, key) {
    const stream = room.getParticipantStream(pid, key);
    if (!stream || !stream.videoTrack) return;
    const id = `v-${pid}-${key}`;
    let v = document.getElementById(id);
    if (!v) {
      v = document.createElement('video');
      v.id = id;
      v.autoplay = true;
      v.muted = true;
      v.playsInline = true;
      document.getElementById('videos').appendChild(v);
    }
    v.srcObject = new MediaStream([stream.videoTrack]);
    v.play().catch(() => undefined);
  }

  async function join({ roomId, token, context, enableMessages = true, publish = true, autoSubscribe = true, serverUrl }) {
    room = await ParlorVideo.initialize({ roomId, clientToken: token, context, enableMessages, logLevel: 'WARN', ...(serverUrl ? { serverUrl } : {}) });
    for (const name of EVENTS) {
      room.on(name, (...args) => {
        const state = args.pop();
        log.push({ type: name, t: Date.now(), args: JSON.parse(JSON.stringify(args)), local: state.localParticipantId });
      });
    }
    room.on('state_changed', () => { stateChanges += 1; });
    room.on('connected', (state) => {
      if (!autoSubscribe) return;
      for (const s of state.streams.values()) if (s.participantId !== state.localParticipantId) subscribe(s.participantId, s.key);
    });
    room.on('stream_published', (pid, key, state) => {
      if (autoSubscribe && pid !== state.localParticipantId) subscribe(pid, key);
    });
    room.on('subscription_started', (pid, key) => render(pid, key));
    room.on('subscription_ended', (pid, key) => document.getElementById(`v-${pid}-${key}`)?.remove());
    await room.connect();
    if (publish) {
      media = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 320, height: 240 } });
      await room.addStream('camera', { audio: media.getAudioTracks()[0], video: media.getVideoTracks()[0] });
    }
    return { participantId: room.getState().localParticipantId, status: room.getState().status };
  }

  function track(t) {
    return t ? { kind: t.kind, readyState: t.readyState } : null;
  }

  /** The State with its Maps as arrays of entries and its tracks summarised. */
  function state() {
    const s = room.getState();
    return {
      status: s.status,
      localParticipantId: s.localParticipantId,
      types: {
        participants: s.participants instanceof Map,
        streams: s.streams instanceof Map,
        subscriptions: s.subscriptions instanceof Map && [...s.subscriptions.values()].every((m) => m instanceof Map),
      },
      participants: [...s.participants.values()].map((p) => ({ ...p, streams: { ...p.streams } })),
      streams: [...s.streams.entries()].map(([id, st]) => ({ mapKey: id, ...st, audioTrack: track(st.audioTrack), videoTrack: track(st.videoTrack) })),
      subscriptions: [...s.subscriptions.entries()].map(([pid, m]) => [pid, [...m.entries()]]),
      same: room.getState() === s,
    };
  }

  /** framesDecoded of the subscription to `pid`'s `key` stream (getWebRTCStatsForStream). */
  async function framesDecoded(pid, key) {
    try {
      const stats = await room.getWebRTCStatsForStream(pid, key);
      return stats.receivers.video ? stats.receivers.video.framesDecoded : null;
    } catch (e) {
      return { error: e.message };
    }
  }

  /** Audio packets received by the subscription to `pid`'s `key` stream. */
  async function audioReceived(pid, key) {
    try {
      const stats = await room.getWebRTCStatsForStream(pid, key);
      return stats.receivers.audio ? stats.receivers.audio.packetsReceived : null;
    } catch (e) {
      return { error: e.message };
    }
  }

  async function sent(key) {
    const stats = await room.getWebRTCStatsForStream(room.getState().localParticipantId, key);
    return stats.senders.video ? stats.senders.video.framesEncoded : null;
  }

  function videoElement(pid, key) {
    const v = document.getElementById(`v-${pid}-${key}`);
    return v ? { width: v.videoWidth, currentTime: v.currentTime } : null;
  }

  function events(type) {
    return log.filter((e) => !type || e.type === type);
  }

  function call(method, ...args) {
    return Promise.resolve()
      .then(() => room[method](...args))
      .then(() => ({ ok: true }), (e) => ({ ok: false, name: e.name, code: e.code, reason: e.reason, message: e.message }));
  }

  return {
    log, errors, join, state, framesDecoded, audioReceived, sent, videoElement, events, call,
    get room() { return room; },
    get stateChanges() { return stateChanges; },
    get media() { return media; },
  };
})();
