// The typical OpenTok.js app of the reference, written only against OT.* (pages/typical-app.html),
// runs three-way video on Parlor in Chromium; signals, property changes and leaves propagate.
// The test acts as three users: it types, clicks and reads the pages.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { API_KEY, createSession, openPage, token, useEnvironment, waitInPage } from './lib/harness.mjs';

const env = useEnvironment();

function appUrl(sessionId, name) {
  const q = new URLSearchParams({ apiKey: API_KEY, sessionId, token: token(sessionId, { data: name }) });
  return `${env.pages.baseUrl}/typical-app.html?${q}`;
}

/** What the #subscriber videos show: sizes and play positions. */
function videos(page) {
  return page.evaluate(() => [...document.querySelectorAll('#subscriber video')].map((v) => ({ w: v.videoWidth, t: v.currentTime })));
}

async function expectTwoPlaying(page) {
  await waitInPage(page, () => {
    const v = [...document.querySelectorAll('#subscriber video')];
    return v.length === 2 && v.every((x) => x.videoWidth > 0);
  });
  const before = await videos(page);
  await waitInPage(page, (b) => {
    const v = [...document.querySelectorAll('#subscriber video')];
    return v.length === 2 && v.every((x, i) => x.currentTime > b[i].t + 0.3);
  }, before);
}

const lines = (page, list) => page.evaluate((id) => [...document.querySelectorAll(`#${id} li`)].map((li) => li.textContent), list);

test('three-way video with signals, property changes and leaves', async () => {
  const sid = await createSession(env.server);
  const names = ['Ann', 'Bob', 'Cid'];
  const pages = [];
  for (const name of names) pages.push(await openPage(env.browser, appUrl(sid, name)));
  const [ann, bob, cid] = pages;

  for (const p of pages) await expectTwoPlaying(p);
  for (const p of pages) assert.equal(await p.textContent('#errors'), '');

  // Chat: Bob types a message; everyone (Bob too) sees it.
  await bob.fill('#chat-input', 'hello from Bob');
  await bob.press('#chat-input', 'Enter');
  await cid.fill('#chat-input', 'hi Bob');
  await cid.click('#chat-form button');
  for (const p of pages) {
    await waitInPage(p, () => document.querySelectorAll('#chat li').length === 2);
    assert.deepEqual(await lines(p, 'chat'), ['Bob: hello from Bob', 'Cid: hi Bob']);
  }

  // Ann stops her video: the others see the property change.
  await ann.click('#toggle-video');
  for (const p of [bob, cid]) {
    await waitInPage(p, () => [...document.querySelectorAll('#events li')].some((li) => li.textContent === 'streamPropertyChanged Ann hasVideo false'));
  }

  // Cid closes the tab: Ann and Bob see his stream and connection go, and one video remains.
  await cid.close();
  for (const p of [ann, bob]) {
    await waitInPage(p, () => {
      const ev = [...document.querySelectorAll('#events li')].map((li) => li.textContent);
      return ev.includes('streamDestroyed Cid clientDisconnected') && ev.includes('connectionDestroyed Cid clientDisconnected');
    });
    await waitInPage(p, () => document.querySelectorAll('#subscriber video').length === 1);
  }
  for (const p of [ann, bob]) await p.context().close();
});
