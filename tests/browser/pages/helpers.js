// Test-side helpers inside a page: join a session with the SDK, record every event, and
// report what the videos show. Only the public OT.* API is used.
'use strict';

window.T = (() => {
  const log = [];
  const subscribers = new Map(); // streamId → Subscriber
  let session = null;
  const publishers = [];

  function summary(type, e) {
    const s = e.stream;
    const c = e.connection || (s && s.connection);
    return {
      type,
      t: performance.now(),
      streamId: s ? s.streamId : undefined,
      connectionId: c ? c.connectionId : undefined,
      connectionData: c ? c.data : undefined,
      videoType: s ? s.videoType : undefined,
      name: s ? s.name : undefined,
      hasAudio: s ? s.hasAudio : undefined,
      hasVideo: s ? s.hasVideo : undefined,
      reason: e.reason,
      changedProperty: e.changedProperty,
      oldValue: e.oldValue,
      newValue: e.newValue,
      signalType: e.type && e.type.startsWith('signal') ? e.type : undefined,
      data: e.data,
      from: e.from ? e.from.connectionId : undefined,
    };
  }

  function record(target, names, prefix = '') {
    for (const name of names) target.on(name, (e) => log.push(summary(prefix + name, e)));
  }

  function subscribe(stream, props) {
    const holder = document.createElement('div');
    document.getElementById('subscribers').appendChild(holder);
    const sub = session.subscribe(stream, holder, { insertMode: 'append', width: 320, height: 240, ...props }, (err) => {
      log.push({ type: 'subscribed', t: performance.now(), streamId: stream.streamId, error: err ? { name: err.name, code: err.code, message: err.message } : undefined });
    });
    if (sub) subscribers.set(stream.streamId, sub);
    return sub;
  }

  /** Connects; publishes unless publish === false; subscribes to every stream unless autoSubscribe === false. */
  function join({ apiKey, sessionId, token, publish = true, publisherProps = {}, autoSubscribe = true, serverUrl, iceConfig }) {
    const options = {};
    if (serverUrl) options.serverUrl = serverUrl;
    if (iceConfig) options.iceConfig = iceConfig;
    session = OT.initSession(apiKey, sessionId, Object.keys(options).length ? options : undefined);
    record(session, [
      'sessionConnected', 'sessionDisconnected', 'connectionCreated', 'connectionDestroyed',
      'streamCreated', 'streamDestroyed', 'streamPropertyChanged', 'signal', 'muteForced',
    ]);
    session.on('speakersChanged', (e) => log.push({
      type: 'speakersChanged',
      t: performance.now(),
      speaking: e.speaking.map((s) => s.streamId),
      dominant: e.dominantSpeaker ? e.dominantSpeaker.streamId : null,
    }));
    session.on('streamCreated', (e) => {
      if (autoSubscribe) subscribe(e.stream);
    });
    return new Promise((resolve) => {
      const t0 = performance.now();
      session.connect(token, (err) => {
        if (err) return resolve({ error: { name: err.name, code: err.code, message: err.message } });
        const connected = { connectionId: session.connection.connectionId, connectMs: performance.now() - t0, capabilities: { ...session.capabilities } };
        if (!publish) return resolve(connected);
        publishNow(publisherProps).then((r) => resolve({ ...connected, ...r }));
      });
    });
  }

  // A tone as a microphone (`audioSource: 'tone'`): Chromium's fake microphone only beeps
  // (20 ms twice a second), which is not speech; this one is loud until setTone(false).
  let toneGain = null;
  function toneTrack() {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    osc.frequency.value = 300;
    toneGain = ctx.createGain();
    toneGain.gain.value = 0.5;
    const dest = ctx.createMediaStreamDestination();
    osc.connect(toneGain).connect(dest);
    osc.start();
    return dest.stream.getAudioTracks()[0];
  }

  /** Turns the `'tone'` microphone on (at `gain`, 0–1) or off. */
  function setTone(on, gain = 0.5) {
    toneGain.gain.value = on ? gain : 0;
  }

  function publishNow(props = {}) {
    if (props.audioSource === 'tone') props = { ...props, audioSource: toneTrack() };
    return new Promise((resolve) => {
      const holder = document.createElement('div');
      document.getElementById('publishers').appendChild(holder);
      const pub = OT.initPublisher(holder, { insertMode: 'append', width: 320, height: 240, name: 'cam', ...props }, (err) => {
        if (err) log.push({ type: 'initPublisherError', name: err.name, code: err.code, message: err.message });
      });
      publishers.push(pub);
      record(pub, ['streamCreated', 'streamDestroyed', 'destroyed', 'muteForced', 'mediaStopped', 'accessAllowed'], 'publisher:');
      session.publish(pub, (err) => {
        if (err) resolve({ error: { name: err.name, code: err.code, message: err.message } });
        else resolve({ streamId: pub.stream.streamId, videoType: pub.stream.videoType });
      });
    });
  }

  /** What each subscriber's <video> shows. */
  function videos() {
    return [...subscribers.entries()].map(([streamId, sub]) => {
      const v = sub.element ? sub.element.querySelector('video') : null;
      return {
        streamId,
        name: sub.stream.name,
        hasAudio: sub.stream.hasAudio,
        videoWidth: v ? v.videoWidth : 0,
        videoHeight: v ? v.videoHeight : 0,
        currentTime: v ? v.currentTime : 0,
        inDom: !!(sub.element && sub.element.isConnected),
      };
    });
  }

  async function stats() {
    const out = {};
    for (const [streamId, sub] of subscribers) {
      try {
        out[streamId] = await sub.getStats();
      } catch (e) {
        out[streamId] = { error: e.name };
      }
    }
    return out;
  }

  function events(type) {
    return log.filter((e) => !type || e.type === type);
  }

  function signal(opts) {
    return new Promise((resolve) => session.signal(opts, (err) => resolve(err ? { name: err.name, code: err.code, message: err.message } : null)));
  }

  function connectionById(id) {
    return session.connections.get(id);
  }

  function streamById(id) {
    return session.streams.get(id);
  }

  return {
    log, join, publishNow, setTone, subscribe, videos, stats, events, signal, connectionById, streamById,
    get session() { return session; },
    get publishers() { return publishers; },
    get subscribers() { return subscribers; },
  };
})();
