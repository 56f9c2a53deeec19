// The demo app at / of `parlor serve`, used as two new users would: start a room, join by
// its link in another browser, see each other with names, chat, mute, leave. Saves a
// screenshot with two participants to test-artifacts/demo-two-participants.png.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { artifactPath, openPage, useEnvironment, waitInPage } from './lib/harness.mjs';

const env = useEnvironment();
const VIEWPORT = { width: 1280, height: 720 };

/** Waits until the page shows `n` tiles, the remote ones with playing video. */
async function expectTiles(page, n) {
  await waitInPage(page, (count) => {
    const tiles = [...document.querySelectorAll('#grid .tile')];
    if (tiles.length !== count) return false;
    return tiles.every((t) => {
      const v = t.querySelector('video');
      return v && v.videoWidth > 0 && v.currentTime > 0.5;
    });
  }, n);
}

const tileNames = (page) => page.evaluate(() => [...document.querySelectorAll('#grid .tile .OT_name')].map((e) => e.textContent));
const messages = (page) =>
  page.evaluate(() => [...document.querySelectorAll('#messages li:not(.system)')].map((li) => `${li.querySelector('.who').textContent}: ${li.querySelector('.text').textContent}`));

test('start a room, join by link in another tab, chat, mute, leave', async () => {
  const ann = await openPage(env.browser, `${env.server.baseUrl}/`, { viewport: VIEWPORT });
  assert.equal(await ann.textContent('#lobby-title'), 'Start a video room');
  await ann.fill('#name', 'Ann');
  await ann.click('#start');
  await ann.waitForURL(/\?room=/);
  await expectTiles(ann, 1);
  assert.equal(await ann.textContent('#people-count'), 'Just you');

  // The invite link is the room's URL.
  await ann.click('#copy-link');
  const link = ann.url();
  await waitInPage(ann, (l) => document.getElementById('room-notice').textContent.includes(l), link);

  // Bob: another tab of the same browser, as someone trying the demo alone would do.
  const bob = await openPage(env.browser, link, { context: ann.context() });
  assert.equal(await bob.textContent('#lobby-title'), 'Join a video room');
  assert.equal(await bob.textContent('#start'), 'Join room');
  assert.equal(await bob.inputValue('#name'), 'Ann', 'the name typed in the first tab is remembered');
  await bob.fill('#name', 'Bob');
  await bob.click('#start');

  for (const p of [ann, bob]) await expectTiles(p, 2);
  assert.deepEqual((await tileNames(ann)).sort(), ['Ann', 'Bob']);
  assert.deepEqual((await tileNames(bob)).sort(), ['Ann', 'Bob']);
  await waitInPage(ann, () => document.getElementById('people-count').textContent === '2 people');
  await waitInPage(ann, () => [...document.querySelectorAll('#messages li.system')].some((li) => li.textContent === 'Bob joined'));

  // Chat both ways.
  await ann.fill('#chat-input', 'Hi Bob!');
  await ann.press('#chat-input', 'Enter');
  await waitInPage(bob, () => document.querySelectorAll('#messages li:not(.system)').length === 1);
  await bob.fill('#chat-input', 'Hello Ann, I can see you.');
  await bob.click('#chat-form button');
  for (const p of [ann, bob]) await waitInPage(p, () => document.querySelectorAll('#messages li:not(.system)').length === 2);
  assert.deepEqual(await messages(ann), ['You: Hi Bob!', 'Bob: Hello Ann, I can see you.']);
  assert.deepEqual(await messages(bob), ['Ann: Hi Bob!', 'You: Hello Ann, I can see you.']);

  await ann.screenshot({ path: artifactPath('demo-two-participants.png') });

  // Bob mutes his microphone, then turns his camera off: Ann sees both.
  await bob.click('#toggle-mic');
  assert.equal(await bob.textContent('#toggle-mic'), 'Mic off');
  await waitInPage(ann, () => {
    const tile = [...document.querySelectorAll('#grid .tile')].find((t) => t.title === 'Bob');
    return tile && tile.querySelector('.mic-off');
  });
  await bob.click('#toggle-camera');
  await waitInPage(ann, () => {
    const tile = [...document.querySelectorAll('#grid .tile')].find((t) => t.title === 'Bob');
    return tile && tile.querySelector('.OT_root').classList.contains('OT_audio-only');
  });

  // Bob leaves: he sees the goodbye screen, Ann sees him go.
  await bob.click('#leave');
  await waitInPage(bob, () => !document.getElementById('left').hidden);
  assert.equal(await bob.textContent('#left-title'), 'You left the room');
  await waitInPage(ann, () => document.querySelectorAll('#grid .tile').length === 1);
  await waitInPage(ann, () => [...document.querySelectorAll('#messages li.system')].some((li) => li.textContent === 'Bob left'));
  await waitInPage(ann, () => document.getElementById('people-count').textContent === 'Just you');

  // Bob rejoins the same room from the goodbye screen.
  await bob.click('#rejoin');
  for (const p of [ann, bob]) await expectTiles(p, 2);
  await ann.context().close();
});

test('screen sharing from the demo', async () => {
  const ann = await openPage(env.browser, `${env.server.baseUrl}/`, { viewport: VIEWPORT });
  await ann.fill('#name', 'Ann');
  await ann.click('#start');
  await ann.waitForURL(/\?room=/);
  const bob = await openPage(env.browser, ann.url(), { viewport: VIEWPORT });
  await bob.fill('#name', 'Bob');
  await bob.click('#start');
  for (const p of [ann, bob]) await expectTiles(p, 2);

  await ann.click('#toggle-screen');
  await waitInPage(bob, () => document.querySelector('#grid .tile[data-video-type="screen"] video')?.videoWidth > 0);
  assert.equal(await bob.evaluate(() => document.querySelector('#grid .tile[data-video-type="screen"]').title), 'Ann (screen)');
  await ann.click('#toggle-screen');
  await waitInPage(bob, () => !document.querySelector('#grid .tile[data-video-type="screen"]'));
  await waitInPage(ann, () => !document.querySelector('#grid .tile[data-video-type="screen"]'));
  for (const p of [ann, bob]) await p.context().close();
});

test('a link to a room that does not exist says so', async () => {
  const page = await openPage(env.browser, `${env.server.baseUrl}/?room=1_nope`, { viewport: VIEWPORT });
  await page.fill('#name', 'Eve');
  await page.click('#start');
  await waitInPage(page, () => !document.getElementById('lobby-error').hidden);
  assert.match(await page.textContent('#lobby-error'), /no room 1_nope/);
  await page.context().close();
});
