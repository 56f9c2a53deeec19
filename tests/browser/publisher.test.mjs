// Publisher and Subscriber options and methods: insertMode, width/height, resolution,
// videoSource (a device, a track), mirror, destroy(), unsubscribe(), setAudioVolume,
// getRtcStatsReport, getPublisherForStream / getSubscribersForStream, on/once/off.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSession, expectLiveVideos, join, openTestPage, useEnvironment, waitInPage } from './lib/harness.mjs';

const env = useEnvironment();

test('insertMode places the element: replace, after, before, append', async () => {
  const page = await openTestPage(env);
  const layout = await page.evaluate(async () => {
    document.body.insertAdjacentHTML('beforeend', '<div id="parent"><div id="a"></div><div id="b"></div><div id="c"></div><div id="d"></div></div>');
    const make = (target, insertMode) =>
      OT.initPublisher.promise(target, { insertMode, width: 160, height: '120px', audioSource: null });
    const pubs = [await make('a', 'replace'), await make(document.getElementById('b'), 'after'), await make('c', 'before'), await make('d', 'append')];
    const children = [...document.getElementById('parent').children].map((e) => e.id || e.className);
    const out = {
      children,
      replacedKeepsId: pubs[0].element.id,
      appendedInto: pubs[3].element.parentElement.id,
      size: [pubs[1].element.style.width, pubs[1].element.style.height],
      mirrored: pubs[0].element.classList.contains('OT_mirrored'),
    };
    pubs.forEach((p) => p.destroy());
    out.afterDestroy = document.querySelectorAll('.OT_publisher').length;
    return out;
  });
  assert.equal(layout.replacedKeepsId, 'a');
  assert.equal(layout.children[0], 'a', 'replace: the publisher took the target place and id');
  assert.equal(layout.children[1], 'b');
  assert.match(layout.children[2], /OT_publisher/, 'after b');
  assert.match(layout.children[3], /OT_publisher/, 'before c');
  assert.equal(layout.children[4], 'c');
  assert.equal(layout.appendedInto, 'd');
  assert.deepEqual(layout.size, ['160px', '120px']);
  assert.equal(layout.mirrored, true, 'a camera preview is mirrored by default');
  assert.equal(layout.afterDestroy, 0);
  await page.context().close();
});

test('resolution, a device id and a track as video sources', async () => {
  const sid = await createSession(env.server);
  const ann = await openTestPage(env);
  const bob = await openTestPage(env);
  await join(ann, sid, { data: 'name=Ann', publish: false });
  await join(bob, sid, { data: 'name=Bob', publish: false });

  // A camera chosen by device id, at 320x240.
  const cam = await ann.evaluate(async () => {
    const devices = await OT.getDevices();
    const camera = devices.find((d) => d.kind === 'videoInput');
    return T.publishNow({ videoSource: camera.deviceId, resolution: '320x240', frameRate: 15, name: 'small' });
  });
  assert.equal(cam.error, undefined);
  // A track the app made itself (a canvas): videoType 'custom'.
  const custom = await ann.evaluate(() => {
    const canvas = document.createElement('canvas');
    canvas.width = 200;
    canvas.height = 100;
    const ctx = canvas.getContext('2d');
    let n = 0;
    setInterval(() => {
      ctx.fillStyle = `hsl(${(n += 10) % 360} 80% 50%)`;
      ctx.fillRect(0, 0, 200, 100);
    }, 33);
    const [track] = canvas.captureStream(30).getVideoTracks();
    return T.publishNow({ videoSource: track, audioSource: null, name: 'canvas', mirror: false });
  });
  assert.equal(custom.error, undefined);
  assert.equal(custom.videoType, 'custom');

  const { videos } = await expectLiveVideos(bob, 2);
  const byName = Object.fromEntries(videos.map((v) => [v.name, v]));
  assert.deepEqual([byName.small.videoWidth, byName.small.videoHeight], [320, 240]);
  assert.deepEqual([byName.canvas.videoWidth, byName.canvas.videoHeight], [200, 100]);
  const created = await bob.evaluate(() => T.events('streamCreated').map((e) => [e.name, e.videoType]));
  assert.deepEqual(created.sort(), [['canvas', 'custom'], ['small', 'camera']]);
  await ann.context().close();
  await bob.context().close();
});

test('destroy(), unsubscribe(), lookups, volume, RTC stats and on/once/off', async () => {
  const sid = await createSession(env.server);
  const ann = await openTestPage(env);
  const bob = await openTestPage(env);
  const a = await join(ann, sid, { data: 'name=Ann' });
  await join(bob, sid, { data: 'name=Bob', publish: false });
  await expectLiveVideos(bob, 1);

  const lookups = await bob.evaluate((id) => {
    const stream = T.streamById(id);
    const subs = T.session.getSubscribersForStream(stream);
    const sub = subs[0];
    sub.setAudioVolume(25);
    return { count: subs.length, same: sub === T.subscribers.get(id), volume: sub.getAudioVolume(), publisher: T.session.getPublisherForStream(stream) ?? null };
  }, a.streamId);
  assert.deepEqual(lookups, { count: 1, same: true, volume: 25, publisher: null });
  assert.equal(await ann.evaluate((id) => T.session.getPublisherForStream(T.streamById(id)) === T.publishers[0], a.streamId), true);

  const rtc = await bob.evaluate(async () => {
    const report = await [...T.subscribers.values()][0].getRtcStatsReport();
    return [...report.values()].filter((s) => s.type === 'inbound-rtp').map((s) => s.kind).sort();
  });
  assert.deepEqual(rtc, ['audio', 'video']);

  // on / once / off: a once handler runs once; an off'd handler does not run.
  const counts = await bob.evaluate(async () => {
    const c = { on: 0, once: 0, off: 0, ctx: null };
    const offed = () => c.off++;
    const ctx = { name: 'context' };
    T.session.on('signal:ping', function () {
      c.on++;
      c.ctx = this.name;
    }, ctx);
    T.session.once({ 'signal:ping': () => c.once++ });
    T.session.on('signal:ping', offed);
    T.session.off('signal:ping', offed);
    await T.session.signal({ type: 'ping' });
    await T.session.signal({ type: 'ping' });
    await new Promise((r) => setTimeout(r, 300));
    return c;
  });
  assert.deepEqual(counts, { on: 2, once: 1, off: 0, ctx: 'context' });

  // unsubscribe: the element goes, the subscriber says destroyed, the stream stays.
  const unsub = await bob.evaluate(() => new Promise((resolve) => {
    const [sub] = [...T.subscribers.values()];
    sub.on('destroyed', (e) => resolve({ reason: e.reason, left: document.querySelectorAll('.OT_subscriber').length, streams: T.session.streams.length }));
    T.session.unsubscribe(sub);
  }));
  assert.deepEqual(unsub, { reason: 'unsubscribe', left: 0, streams: 1 });

  // destroy() while publishing: Ann's stream goes for Bob, her element and camera stop.
  const destroyed = await ann.evaluate(() => new Promise((resolve) => {
    const pub = T.publishers[0];
    const track = pub.getVideoSource().track;
    pub.on('destroyed', () => resolve({ element: pub.element ?? null, left: document.querySelectorAll('.OT_publisher').length, track: track.readyState }));
    pub.destroy();
  }));
  assert.deepEqual(destroyed, { element: null, left: 0, track: 'ended' });
  const gone = await waitInPage(bob, () => T.events('streamDestroyed')[0]);
  assert.equal(gone.streamId, a.streamId);
  await ann.context().close();
  await bob.context().close();
});
