// Parlor demo: a small video-chat app written only against the OpenTok.js API (OT.*) that
// /sdk/parlor.js provides. The one Parlor-specific call is POST /demo/join, the server's
// dev-only endpoint that creates a session and mints a token; a real app does that on its
// own server with a server SDK (npm `opentok`, parlor-sdk, …).
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const views = { lobby: $('lobby'), room: $('room'), left: $('left') };

  let session = null;
  let publisher = null;
  let screenPublisher = null;
  let myName = '';
  let roomId = new URLSearchParams(location.search).get('room') || '';

  // ----- lobby -----

  $('name').value = localStorage.getItem('parlor-demo-name') || '';
  if (roomId) {
    $('lobby-title').textContent = 'Join a video room';
    $('lobby-text').textContent = 'You were invited to room ' + shortId(roomId) + '.';
    $('start').textContent = 'Join room';
  }

  $('lobby-form').addEventListener('submit', (e) => {
    e.preventDefault();
    myName = $('name').value.trim() || 'Guest';
    localStorage.setItem('parlor-demo-name', myName);
    join(roomId || null);
  });
  $('rejoin').addEventListener('click', () => join(roomId));
  $('new-room').addEventListener('click', () => {
    roomId = '';
    history.replaceState(null, '', location.pathname);
    join(null);
  });

  function show(view) {
    for (const [name, el] of Object.entries(views)) el.hidden = name !== view;
  }

  function lobbyError(message) {
    const el = $('lobby-error');
    el.textContent = message;
    el.hidden = !message;
    $('start').disabled = false;
  }

  async function join(sessionId) {
    lobbyError('');
    $('start').disabled = true;
    if (OT.checkSystemRequirements() !== 1) {
      lobbyError('This browser cannot do WebRTC video calls.');
      return;
    }
    let creds;
    try {
      // The dev-only endpoint: a session (new unless we have a room) and a token for it.
      const res = await fetch('/demo/join', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(sessionId ? { sessionId, name: myName } : { name: myName }),
      });
      creds = await res.json();
      if (!res.ok) throw new Error(creds.message || 'the server refused (' + res.status + ')');
    } catch (err) {
      show('lobby');
      lobbyError('Could not get into the room: ' + err.message);
      return;
    }
    roomId = creds.sessionId;
    history.replaceState(null, '', '?room=' + encodeURIComponent(roomId));
    enterRoom(creds);
  }

  // ----- the room -----

  function enterRoom(creds) {
    show('room');
    $('grid').textContent = '';
    $('messages').textContent = '';
    $('room-label').textContent = 'Room ' + shortId(roomId);
    $('room-label').hidden = false;
    $('start').disabled = false;
    setPressed('toggle-mic', true, 'Mic on', 'Mic off');
    setPressed('toggle-camera', true, 'Camera on', 'Camera off');
    setPressed('toggle-screen', false, 'Stop sharing', 'Share screen');

    session = OT.initSession(creds.apiKey, creds.sessionId);
    session.on({
      streamCreated: (event) => {
        const tile = addTile(event.stream, false);
        session.subscribe(event.stream, tile, subscriberProps(event.stream), (err) => {
          if (err) notice('Could not show ' + event.stream.name + ': ' + err.message);
        });
        updateCount();
      },
      streamDestroyed: (event) => {
        removeTile(event.stream.streamId);
        updateCount();
      },
      streamPropertyChanged: (event) => {
        if (event.changedProperty === 'hasAudio') markMic(event.stream.streamId, event.newValue);
      },
      connectionCreated: (event) => {
        if (event.connection.connectionId !== session.connection.connectionId) {
          systemMessage(nameOf(event.connection) + ' joined');
        }
        updateCount();
      },
      connectionDestroyed: (event) => {
        systemMessage(nameOf(event.connection) + ' left');
        updateCount();
      },
      'signal:chat': (event) => {
        let text = event.data;
        try {
          text = JSON.parse(event.data).text;
        } catch (_) { /* plain text */ }
        const mine = event.from && event.from.connectionId === session.connection.connectionId;
        chatMessage(mine ? 'You' : nameOf(event.from), String(text), mine);
      },
      sessionDisconnected: (event) => leftRoom(event.reason),
    });

    publisher = OT.initPublisher(addTile(null, true), publisherProps(myName, false), (err) => {
      if (err) {
        removeTile('local-camera');
        publisher = null;
        notice('Joined without camera or microphone: ' + err.message);
      }
    });
    if (publisher) {
      publisher.on('muteForced', () => {
        setPressed('toggle-mic', false, 'Mic on', 'Mic off');
        notice('A moderator muted your microphone.');
      });
    }

    session.connect(creds.token, (err) => {
      if (err) {
        show('lobby');
        lobbyError('Could not connect: ' + err.message);
        return;
      }
      updateCount();
      if (publisher) {
        session.publish(publisher, (perr) => {
          if (perr) notice('Could not publish: ' + perr.message);
        });
      }
    });
  }

  function publisherProps(name, screen) {
    const props = {
      insertMode: 'append',
      width: '100%',
      height: '100%',
      name: name,
      style: { nameDisplayMode: 'on' },
    };
    if (screen) {
      props.videoSource = 'screen';
      props.audioSource = null;
      props.fitMode = 'contain';
    }
    return props;
  }

  function subscriberProps(stream) {
    return {
      insertMode: 'append',
      width: '100%',
      height: '100%',
      fitMode: stream.videoType === 'screen' ? 'contain' : 'cover',
      style: { nameDisplayMode: 'on' },
    };
  }

  function addTile(stream, local, id) {
    const tile = document.createElement('div');
    tile.className = 'tile' + (local ? ' local' : '');
    tile.dataset.id = id || (stream ? stream.streamId : 'local-camera');
    if (stream) {
      tile.dataset.connectionId = stream.connection.connectionId;
      tile.dataset.videoType = stream.videoType;
      tile.title = stream.name;
    }
    $('grid').appendChild(tile);
    if (stream && !stream.hasAudio) markMic(stream.streamId, false);
    layout();
    return tile;
  }

  function tileFor(id) {
    return $('grid').querySelector('.tile[data-id="' + CSS.escape(id) + '"]');
  }

  function removeTile(id) {
    const tile = tileFor(id);
    if (tile) tile.remove();
    layout();
  }

  function markMic(id, on) {
    const tile = tileFor(id);
    if (!tile) return;
    let badge = tile.querySelector('.mic-off');
    if (on && badge) badge.remove();
    if (!on && !badge) {
      badge = document.createElement('span');
      badge.className = 'mic-off';
      badge.textContent = 'muted';
      tile.appendChild(badge);
    }
  }

  // The largest 4:3 tiles that fit the stage, centred, whatever the number of people.
  function layout() {
    const grid = $('grid');
    const n = grid.children.length;
    if (!n) return;
    const gap = 10;
    const W = grid.clientWidth;
    const H = grid.clientHeight;
    let best = { w: 0, h: 0 };
    for (let cols = 1; cols <= n; cols++) {
      const rows = Math.ceil(n / cols);
      let w = (W - gap * (cols - 1)) / cols;
      let h = (w * 3) / 4;
      if (h * rows + gap * (rows - 1) > H) {
        h = (H - gap * (rows - 1)) / rows;
        w = (h * 4) / 3;
      }
      if (w > best.w) best = { w, h };
    }
    for (const tile of grid.children) {
      tile.style.width = Math.floor(best.w) + 'px';
      tile.style.height = Math.floor(best.h) + 'px';
    }
  }
  new ResizeObserver(layout).observe($('grid'));

  function updateCount() {
    if (!session || !session.connection) return;
    const n = session.connections.length;
    $('people-count').textContent = n === 1 ? 'Just you' : n + ' people';
    $('people-count').hidden = false;
  }

  // ----- controls -----

  function setPressed(id, pressed, onLabel, offLabel) {
    const b = $(id);
    b.setAttribute('aria-pressed', String(pressed));
    b.textContent = pressed ? onLabel : offLabel;
  }

  $('toggle-mic').addEventListener('click', () => {
    if (!publisher) return;
    const on = $('toggle-mic').getAttribute('aria-pressed') !== 'true';
    publisher.publishAudio(on);
    setPressed('toggle-mic', on, 'Mic on', 'Mic off');
    markMic('local-camera', on);
  });

  $('toggle-camera').addEventListener('click', () => {
    if (!publisher) return;
    const on = $('toggle-camera').getAttribute('aria-pressed') !== 'true';
    publisher.publishVideo(on);
    setPressed('toggle-camera', on, 'Camera on', 'Camera off');
  });

  $('toggle-screen').addEventListener('click', () => {
    if (screenPublisher) {
      stopSharing();
      return;
    }
    OT.checkScreenSharingCapability((response) => {
      if (!response.supported) {
        notice('This browser cannot share the screen.');
        return;
      }
      const tile = addTile(null, true, 'local-screen');
      tile.dataset.videoType = 'screen';
      screenPublisher = OT.initPublisher(tile, publisherProps(myName + ' (screen)', true), (err) => {
        if (err) {
          notice('Screen sharing did not start: ' + err.message);
          screenPublisher = null;
          removeTile('local-screen');
          setPressed('toggle-screen', false, 'Stop sharing', 'Share screen');
          return;
        }
        session.publish(screenPublisher, (perr) => {
          if (perr) notice('Could not share the screen: ' + perr.message);
        });
      });
      // Stopping from the browser's own "Stop sharing" bar destroys the publisher.
      screenPublisher.on('destroyed', () => {
        screenPublisher = null;
        removeTile('local-screen');
        setPressed('toggle-screen', false, 'Stop sharing', 'Share screen');
      });
      setPressed('toggle-screen', true, 'Stop sharing', 'Share screen');
    });
  });

  function stopSharing() {
    if (!screenPublisher) return;
    if (session) session.unpublish(screenPublisher);
    screenPublisher.destroy();
  }

  $('copy-link').addEventListener('click', async () => {
    const link = location.origin + location.pathname + '?room=' + encodeURIComponent(roomId);
    try {
      await navigator.clipboard.writeText(link);
      notice('Invite link copied: ' + link);
    } catch (_) {
      notice('Invite link: ' + link);
    }
  });

  $('toggle-chat').addEventListener('click', () => {
    const open = views.room.classList.toggle('chat-open');
    $('toggle-chat').setAttribute('aria-pressed', String(open));
  });

  $('chat-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('chat-input');
    const text = input.value.trim();
    if (!text || !session) return;
    session.signal({ type: 'chat', data: JSON.stringify({ text }) }, (err) => {
      if (err) notice('Message not sent: ' + err.message);
    });
    input.value = '';
  });

  $('leave').addEventListener('click', () => {
    if (session) session.disconnect();
  });

  function leftRoom(reason) {
    stopSharing();
    if (publisher) publisher.destroy();
    publisher = null;
    session = null;
    $('grid').textContent = '';
    $('people-count').hidden = true;
    show('left');
    const why = {
      clientDisconnected: 'You can rejoin with the same link.',
      forceDisconnected: 'A moderator removed you from the room.',
      networkDisconnected: 'The connection to the server was lost.',
    };
    $('left-title').textContent = reason === 'clientDisconnected' ? 'You left the room' : 'You were disconnected';
    $('left-text').textContent = why[reason] || '';
  }

  // ----- chat and notices -----

  function chatMessage(who, text, mine) {
    const li = document.createElement('li');
    if (mine) li.className = 'mine';
    const name = document.createElement('span');
    name.className = 'who';
    name.textContent = who;
    const body = document.createElement('span');
    body.className = 'text';
    body.textContent = text;
    li.append(name, body);
    appendMessage(li);
  }

  function systemMessage(text) {
    const li = document.createElement('li');
    li.className = 'system';
    li.textContent = text;
    appendMessage(li);
  }

  function appendMessage(li) {
    const list = $('messages');
    list.appendChild(li);
    list.scrollTop = list.scrollHeight;
  }

  let noticeTimer = 0;
  function notice(text) {
    const el = $('room-notice');
    el.textContent = text;
    el.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => (el.hidden = true), 6000);
  }

  function nameOf(connection) {
    if (!connection) return 'Someone';
    try {
      const data = JSON.parse(connection.data);
      if (data && typeof data.name === 'string' && data.name) return data.name;
    } catch (_) { /* not JSON */ }
    return connection.data || 'Guest';
  }

  function shortId(id) {
    return id.length > 14 ? id.slice(-10) : id;
  }
})();
