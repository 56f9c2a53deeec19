// A Telnyx Video Rooms app, written against the @telnyx/video API that Parlor's SDK offers
// as ParlorVideo (from <script src="PARLOR/sdk/parlor.js">). Ported from @telnyx/video by
// changing the import (`import { initialize } from '@telnyx/video'` → ParlorVideo.initialize)
// and pointing its token endpoints at server.mjs. Everything else is the Telnyx model:
// initialize → connect → addStream('self', tracks) → addSubscription for each stream,
// events with the State, updateStream to mute, sendMessage, and a token refresh loop.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const views = { lobby: $('lobby'), room: $('room'), left: $('left') };
  const TOKEN_TTL = window.TOKEN_TTL_SECS || 60;

  let room = null;
  let roomId = null;
  let refreshTimer = null;
  let local = { audio: undefined, video: undefined };

  const params = new URLSearchParams(location.search);
  $('room-name').value = params.get('room') || '';
  $('username').value = localStorage.getItem('parlor-rooms-demo-name') || '';

  function show(view) {
    for (const [name, el] of Object.entries(views)) el.hidden = name !== view;
  }

  async function api(path, body) {
    const res = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const data = await res.json();
    if (!res.ok) throw new Error(data.message || `the app server refused (${res.status})`);
    return data;
  }

  function nameOf(participantId, state) {
    const p = (state || room.getState()).participants.get(participantId);
    try {
      return JSON.parse(p.context).username || participantId.slice(0, 8);
    } catch (_) {
      return participantId.slice(0, 8);
    }
  }

  $('lobby-form').addEventListener('submit', (e) => {
    e.preventDefault();
    join().catch((err) => {
      $('lobby-error').textContent = `Could not join: ${err.message}`;
      $('lobby-error').hidden = false;
      $('join').disabled = false;
      show('lobby');
    });
  });
  $('rejoin').addEventListener('click', () => show('lobby'));

  async function join() {
    $('join').disabled = true;
    $('lobby-error').hidden = true;
    const username = $('username').value.trim() || 'Guest';
    localStorage.setItem('parlor-rooms-demo-name', username);
    // The app server: the room (found or created), then a join token and a refresh token.
    const r = await api('/api/rooms', { name: $('room-name').value });
    roomId = r.id;
    history.replaceState(null, '', `?room=${encodeURIComponent(r.unique_name)}`);
    const tokens = await api('/api/client_token', { room_id: roomId });

    room = await ParlorVideo.initialize({
      roomId,
      clientToken: tokens.token,
      context: JSON.stringify({ username }),
      logLevel: 'WARN',
      enableMessages: true,
    });
    wire(room);
    await room.connect();

    // Refresh the join token before it expires, and hand it to the live room.
    refreshTimer = setInterval(async () => {
      if (room.getState().status !== 'connected') return;
      try {
        const fresh = await api('/api/refresh_client_token', { room_id: roomId, refresh_token: tokens.refresh_token });
        await room.updateClientToken(fresh.token);
      } catch (err) {
        notice(`Token refresh failed: ${err.message}`);
      }
    }, Math.max(5, TOKEN_TTL - 20) * 1000);

    const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
    local = { audio: media.getAudioTracks()[0], video: media.getVideoTracks()[0] };
    await room.addStream('self', { audio: local.audio, video: local.video });
    setPressed('toggle-mic', true, 'Mute mic', 'Unmute mic');
    setPressed('toggle-camera', true, 'Stop video', 'Start video');
  }

  function wire(room) {
    room.on('state_changed', (state) => render(state));
    room.on('connected', (state) => {
      show('room');
      $('join').disabled = false;
      $('messages').textContent = '';
      $('room-label').textContent = `Room ${$('room-name').value}`;
      $('room-label').hidden = false;
      for (const s of state.streams.values()) {
        if (s.participantId !== state.localParticipantId) room.addSubscription(s.participantId, s.key, { audio: true, video: true });
      }
    });
    room.on('stream_published', (participantId, key, state) => {
      if (participantId !== state.localParticipantId) room.addSubscription(participantId, key, { audio: true, video: true });
    });
    room.on('participant_joined', (participantId, state) => system(`${nameOf(participantId, state)} joined`));
    room.on('participant_leaving', (participantId, reason, state) => {
      if (participantId === state.localParticipantId) return;
      system(`${nameOf(participantId, state)} ${reason === 'kicked' ? 'was removed by the moderator' : 'left'}`);
    });
    // A moderator's mute: the microphone stays as it is (the SDK turns it back on when the
    // moderator lifts the mute, if it was on).
    room.on('track_censored', (participantId, key, kind, state) => {
      if (participantId === state.localParticipantId) {
        notice('The moderator muted your microphone; you will be heard again when they unmute you.');
      } else {
        system(`The moderator muted ${nameOf(participantId, state)}`);
      }
    });
    room.on('track_uncensored', (participantId, key, kind, state) => {
      if (participantId === state.localParticipantId) notice('The moderator unmuted your microphone.');
      else system(`The moderator unmuted ${nameOf(participantId, state)}`);
    });
    room.on('message_received', (participantId, message, recipients, state) => {
      addMessage(participantId ? nameOf(participantId, state) : 'App', message.payload, participantId === state.localParticipantId, !!recipients);
    });
    room.on('disconnected', (reason) => {
      clearInterval(refreshTimer);
      for (const t of [local.audio, local.video]) if (t) t.stop();
      local = { audio: undefined, video: undefined };
      const why = {
        user_initiated: 'You left the room',
        kicked: 'The moderator removed you from the room',
        session_terminated: 'The room session ended',
        unauthorized: 'Your access to the room expired',
        network_error: 'The connection was lost',
      };
      $('left-title').textContent = why[reason] || `Disconnected (${reason})`;
      $('grid').textContent = '';
      $('audio').textContent = '';
      $('room-label').hidden = true;
      $('people-count').hidden = true;
      show('left');
    });
  }

  // ----- rendering the State -----

  function render(state) {
    if (state.status !== 'connected') return;
    const grid = $('grid');
    const seen = new Set();
    for (const p of state.participants.values()) {
      const streamId = p.streams.self;
      const stream = streamId ? state.streams.get(streamId) : undefined;
      seen.add(p.id);
      let tile = grid.querySelector(`[data-pid="${p.id}"]`);
      if (!tile) {
        tile = document.createElement('div');
        tile.className = p.origin === 'local' ? 'tile local' : 'tile';
        tile.dataset.pid = p.id;
        tile.innerHTML = '<video autoplay playsinline muted></video><span class="name"></span><span class="badge" hidden></span>';
        grid.appendChild(tile);
      }
      tile.querySelector('.name').textContent = p.origin === 'local' ? `${nameOf(p.id, state)} (you)` : nameOf(p.id, state);
      const badge = tile.querySelector('.badge');
      badge.hidden = !stream || stream.isAudioEnabled;
      badge.textContent = stream && stream.isAudioCensored ? 'Muted by moderator' : 'Mic off';
      const video = tile.querySelector('video');
      const track = stream && stream.isVideoEnabled ? stream.videoTrack : undefined;
      if (video.dataset.track !== (track ? track.id : '')) {
        video.dataset.track = track ? track.id : '';
        video.srcObject = track ? new MediaStream([track]) : null;
      }
      if (p.origin === 'remote') playAudio(p.id, stream && stream.audioTrack);
    }
    for (const tile of [...grid.children]) if (!seen.has(tile.dataset.pid)) tile.remove();
    for (const a of [...$('audio').children]) if (!seen.has(a.dataset.pid)) a.remove();
    const n = state.participants.size;
    $('people-count').textContent = n === 1 ? 'Just you' : `${n} people`;
    $('people-count').hidden = false;
  }

  /** The SDK does not play audio: the app does, one element per remote participant. */
  function playAudio(pid, track) {
    let el = $('audio').querySelector(`[data-pid="${pid}"]`);
    if (!el) {
      el = document.createElement('audio');
      el.autoplay = true;
      el.dataset.pid = pid;
      $('audio').appendChild(el);
    }
    if (el.dataset.track !== (track ? track.id : '')) {
      el.dataset.track = track ? track.id : '';
      el.srcObject = track ? new MediaStream([track]) : null;
      if (track) el.play().catch(() => undefined);
    }
  }

  // ----- controls -----

  function setPressed(id, on, onLabel, offLabel) {
    $(id).setAttribute('aria-pressed', String(on));
    $(id).textContent = on ? onLabel : offLabel;
  }

  // Muting is updateStream without the track (as with @telnyx/video); unmuting, with a new one.
  $('toggle-mic').addEventListener('click', async () => {
    if (local.audio) {
      local.audio.stop();
      local.audio = undefined;
    } else {
      local.audio = (await navigator.mediaDevices.getUserMedia({ audio: true })).getAudioTracks()[0];
    }
    await room.updateStream('self', { audio: local.audio, video: local.video });
    setPressed('toggle-mic', !!local.audio, 'Mute mic', 'Unmute mic');
  });

  $('toggle-camera').addEventListener('click', async () => {
    if (local.video) {
      local.video.stop();
      local.video = undefined;
    } else {
      local.video = (await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } })).getVideoTracks()[0];
    }
    await room.updateStream('self', { audio: local.audio, video: local.video });
    setPressed('toggle-camera', !!local.video, 'Stop video', 'Start video');
  });

  $('leave').addEventListener('click', () => room && room.disconnect());

  $('chat-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = $('chat-input').value.trim();
    if (!text || !room) return;
    $('chat-input').value = '';
    room.sendMessage({ type: 'text', payload: text }).catch((err) => notice(`Message not sent: ${err.message}`));
  });

  // ----- chat and notices -----

  function addMessage(who, text, mine, direct) {
    const li = document.createElement('li');
    if (mine) li.className = 'mine';
    const w = document.createElement('span');
    w.className = 'who';
    w.textContent = direct ? `${who} (private)` : who;
    const t = document.createElement('span');
    t.className = 'text';
    t.textContent = text;
    li.append(w, t);
    $('messages').appendChild(li);
    li.scrollIntoView({ block: 'end' });
  }

  function system(text) {
    const li = document.createElement('li');
    li.className = 'system';
    li.textContent = text;
    $('messages').appendChild(li);
  }

  function notice(text) {
    $('notice').textContent = text;
    $('notice').hidden = false;
  }
})();
