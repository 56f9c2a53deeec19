// The Inspector page (`parlor serve` at /inspector) in Chromium: closed without a login
// (the form for pages, 401 JSON for data), a wrong secret refused, a project's key and
// secret logging in (an HttpOnly, SameSite=Strict cookie for /inspector only); then a live
// three-party session (Chromium participants publishing and subscribing) in the sessions
// list and on its page: participants, who subscribes to whom, the timeline, and quality
// charts whose lines get new points while it runs. A login of one project (or
// application) never reads another's sessions. Screenshots go to $PARLOR_SCREENSHOT_DIR
// (default target/screenshots/inspector).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createSign } from 'node:crypto';
import { test } from 'node:test';

import { b64url } from '../compat/node/helpers.mjs';
import {
  API_KEY,
  API_SECRET,
  PARLOR_BIN,
  createSession,
  join,
  logInInspector,
  openTestPage,
  screenshot,
  useEnvironment,
  waitInPage,
} from './lib/harness.mjs';

const env = useEnvironment({ serverArgs: ['--quality-interval', '1s'] });
const shot = screenshot;

/** What the Inspector's pages reported as broken: script errors, CSP violations. */
const problems = [];

/** A fresh browser context for the Inspector (its own cookies), logged out. */
async function inspectorContext() {
  const context = await env.browser.newContext({ viewport: { width: 1400, height: 900 } });
  context.on('page', (p) => {
    p.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    p.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
    });
  });
  return context;
}

const logIn = (page, key, secret) => logInInspector(page, env.server, key, secret);

/** `parlor app create` in the server's data dir → {applicationId, privateKey}. */
function createApplication() {
  const r = spawnSync(PARLOR_BIN, ['app', 'create', '--name', 'inspector-b', '--json', '--data-dir', env.server.dataDir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** A Vonage application's REST JWT (RS256), as @vonage/video mints it. */
function applicationJwt(applicationId, privateKey) {
  const now = Math.floor(Date.now() / 1000);
  const h = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const p = b64url(JSON.stringify({ application_id: applicationId, iat: now, exp: now + 300, jti: crypto.randomUUID() }));
  const sig = b64url(createSign('RSA-SHA256').update(`${h}.${p}`).sign(privateKey));
  return `${h}.${p}.${sig}`;
}

/** `GET path` from inside `page` (its cookies), → {status, json}. */
function getIn(page, p) {
  return page.evaluate(async (url) => {
    const r = await fetch(url, { credentials: 'same-origin' });
    let json = null;
    try {
      json = await r.json();
    } catch {
      // not JSON
    }
    return { status: r.status, json };
  }, p);
}

const chartPoints = (page, streamId, metric) =>
  page.evaluate(
    ([s, m]) => {
      const el = document.querySelector(`.stream-quality[data-stream-id="${s}"] .chart[data-metric="${m}"]`);
      return el ? { points: Number(el.dataset.points), series: Number(el.dataset.series), canvas: !!el.querySelector('canvas') } : null;
    },
    [streamId, metric],
  );

test('the Inspector page is closed without a login, and refuses a wrong secret', async () => {
  const base = env.server.baseUrl;
  const res = await fetch(`${base}/inspector`);
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.match(html, /<form method="post" action="\/inspector\/login"/);
  assert.doesNotMatch(html, /inspector\.js/, 'the page itself is not served without a login');
  const csp = res.headers.get('content-security-policy');
  assert.match(csp, /default-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  for (const p of ['/inspector/api/sessions', '/inspector/api/sessions/x', '/inspector/api/sessions/x/events', '/inspector/api/sessions/x/quality']) {
    const r = await fetch(`${base}${p}`);
    assert.equal(r.status, 401, p);
    assert.equal((await r.json()).code, 401, p);
  }
  // A forged cookie (any signature) is no login.
  const forged = await fetch(`${base}/inspector/api/sessions`, { headers: { Cookie: `parlor_inspector=${API_KEY}.${Math.floor(Date.now() / 1000) + 600}.AAAA` } });
  assert.equal(forged.status, 401);
  // A session page without a login is the form, which comes back to it after logging in.
  const deep = await (await fetch(`${base}/inspector/sessions/1_abc`)).text();
  assert.match(deep, /name="next" value="\/inspector\/sessions\/1_abc"/);

  const context = await inspectorContext();
  const page = await context.newPage();
  await page.goto(`${base}/inspector`);
  assert.equal(await page.locator('#login-form').count(), 1);
  await shot(page, '1-login');
  await page.fill('#key', API_KEY);
  await page.fill('#secret', 'not-the-secret');
  const [refused] = await Promise.all([page.waitForNavigation(), page.click('#login-form button[type=submit]')]);
  assert.equal(refused.status(), 401);
  const error = await page.textContent('#login-error');
  assert.match(error, /not accepted/);
  assert.doesNotMatch(error, /secret is wrong|unknown key/i, 'says nothing about which part was wrong');
  assert.equal(await page.inputValue('#key'), API_KEY, 'the key is kept, the secret is not');
  assert.equal(await page.inputValue('#secret'), '');
  assert.deepEqual(await context.cookies(), []);
  await shot(page, '2-login-refused');
  // An unknown key reads exactly the same.
  await page.fill('#key', '99999999');
  await page.fill('#secret', API_SECRET);
  await Promise.all([page.waitForNavigation(), page.click('#login-form button[type=submit]')]);
  assert.equal(await page.textContent('#login-error'), error);
  await context.close();
});

test('a live three-party session in the list and on its page, with charts that grow; logins never cross projects', { timeout: 90000 }, async () => {
  const sid = await createSession(env.server);
  const people = ['Ann', 'Bob', 'Cara'];
  const pages = await Promise.all(people.map(() => openTestPage(env)));
  const joined = await Promise.all(pages.map((p, i) => join(p, sid, { data: JSON.stringify({ name: people[i] }), publisherProps: { name: people[i] } })));
  for (const r of joined) assert.ok(r.streamId, JSON.stringify(r));
  // (No wait for the videos here: the page shows a subscription once its media connected.)

  const context = await inspectorContext();
  const page = await logIn(await context.newPage(), API_KEY, API_SECRET);
  assert.equal(new URL(page.url()).pathname, '/inspector');
  const [cookie] = await context.cookies();
  assert.equal(cookie.name, 'parlor_inspector');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Strict');
  assert.equal(cookie.path, '/inspector');
  assert.equal(await page.evaluate(() => document.cookie), '', 'scripts cannot read the login');

  // The sessions list: this session, live.
  const row = page.locator(`tr[data-session-id="${sid}"]`);
  await row.waitFor({ timeout: 10000 });
  assert.equal(await row.getAttribute('data-live'), 'true');
  assert.match(await row.textContent(), /Live/);
  await page.selectOption('#filter-status', 'ended');
  assert.equal(await row.count(), 0, 'the live session is filtered out of the ended ones');
  await page.selectOption('#filter-status', 'live');
  await page.fill('#filter-search', sid.slice(-10));
  await row.waitFor();
  await shot(page, '3-sessions');

  // The session page.
  await Promise.all([page.waitForNavigation(), row.locator('a').click()]);
  assert.equal(new URL(page.url()).pathname, `/inspector/sessions/${sid}`);
  await waitInPage(page, () => document.getElementById('app').dataset.loaded === 'true');
  assert.equal(await page.getAttribute('#app', 'data-live'), 'true');
  const names = await page.$$eval('#participants-table tbody tr strong', (els) => els.map((e) => e.textContent));
  assert.deepEqual(names.sort(), people);
  const browsers = await page.$$eval('#participants-table tbody tr', (rows) => rows.map((r) => r.textContent));
  for (const b of browsers) assert.match(b, /parlor-web/);
  // Who subscribes to whom: six subscriptions, three streams, three subscribers.
  await waitInPage(page, () => document.querySelectorAll('#subscription-graph path[data-subscription-id]').length === 6, undefined, 20000);
  assert.equal(await page.locator('#subscription-graph [data-stream-id]').count(), 3);
  assert.equal(await page.locator('#subscription-graph [data-subscriber-id]').count(), 3);
  // The timeline.
  const kinds = await page.$$eval('#timeline-table tbody tr', (rows) => rows.map((r) => r.dataset.kind));
  for (const k of ['meetingStarted', 'connectionCreated', 'streamCreated', 'subscriptionCreated']) assert.ok(kinds.includes(k), `${k} in ${kinds}`);
  await page.selectOption('#timeline-kind', 'streamCreated');
  await waitInPage(page, () => [...document.querySelectorAll('#timeline-table tbody tr')].every((r) => r.dataset.kind === 'streamCreated'));
  assert.equal(await page.locator('#timeline-table tbody tr').count(), 3);
  await page.selectOption('#timeline-kind', '');
  // No failures: the rates are 0 %.
  assert.match(await page.textContent('#errors'), /0 of 3 attempts/);

  // Quality charts: per stream, a chart per metric with a line per side (the publisher's
  // and two subscribers'), with points; scores on every subscription edge.
  const streamIds = joined.map((j) => j.streamId);
  for (const s of streamIds) {
    await waitInPage(
      page,
      (id) => {
        const c = document.querySelector(`.stream-quality[data-stream-id="${id}"] .chart[data-metric="score"]`);
        return c && Number(c.dataset.series) === 3 && Number(c.dataset.points) >= 3;
      },
      s,
      20000,
    );
    for (const metric of ['bitrate', 'loss', 'rtt', 'jitter', 'score']) {
      const c = await chartPoints(page, s, metric);
      assert.ok(c && c.canvas && c.series === 3 && c.points > 0, `${metric} of ${s}: ${JSON.stringify(c)}`);
    }
  }
  await waitInPage(page, () => [...document.querySelectorAll('#subscription-graph path[data-subscription-id]')].every((p) => p.dataset.score !== ''), undefined, 15000);
  // Live: new windows arrive while it runs.
  const before = (await chartPoints(page, streamIds[0], 'bitrate')).points;
  await waitInPage(
    page,
    ([id, n]) => Number(document.querySelector(`.stream-quality[data-stream-id="${id}"] .chart[data-metric="bitrate"]`).dataset.points) > n,
    [streamIds[0], before],
    10000,
  );
  await shot(page, '4-session-live');
  await page.click('#quality button[data-media=audio]');
  await waitInPage(page, (id) => Number(document.querySelector(`.stream-quality[data-stream-id="${id}"] .chart[data-metric="bitrate"]`)?.dataset.points) > 0, streamIds[0]);

  // Cara leaves: the page shows it.
  await pages[2].context().close();
  await waitInPage(page, () => [...document.querySelectorAll('#participants-table tbody tr')].some((r) => r.classList.contains('gone') && /clientDisconnected|networkDisconnected/.test(r.textContent)), undefined, 15000);
  await page.click('#quality button[data-media=video]');
  await shot(page, '5-session-after-leave');

  // Another project (a Vonage application here) and its session.
  const app = createApplication();
  const jwt = applicationJwt(app.applicationId, app.privateKey);
  const created = await fetch(`${env.server.baseUrl}/session/create`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${jwt}`, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'p2p.preference=disabled',
  });
  assert.equal(created.status, 200, await created.clone().text());
  const otherSid = (await created.json())[0].session_id;
  // Project A's login reads none of it…
  for (const p of ['', '/events', '/quality']) {
    const r = await getIn(page, `/inspector/api/sessions/${encodeURIComponent(otherSid)}${p}`);
    assert.equal(r.status, 404, `${p}: ${JSON.stringify(r)}`);
  }
  // …nor does A's cookie with B's ID written into it.
  const forged = cookie.value.replace(/^[^.]+/, app.applicationId);
  const r = await fetch(`${env.server.baseUrl}/inspector/api/sessions`, { headers: { Cookie: `parlor_inspector=${forged}` } });
  assert.equal(r.status, 401);
  // The application logs in with its REST JWT, and sees none of A's sessions.
  const bContext = await inspectorContext();
  const bPage = await logIn(await bContext.newPage(), app.applicationId, jwt);
  assert.equal(new URL(bPage.url()).pathname, '/inspector');
  const list = await getIn(bPage, '/inspector/api/sessions');
  assert.equal(list.status, 200);
  assert.ok(!list.json.items.some((s) => s.sessionId === sid), JSON.stringify(list.json));
  assert.equal((await getIn(bPage, `/inspector/api/sessions/${encodeURIComponent(sid)}`)).status, 404);
  await bContext.close();

  // Logging out ends the login.
  await Promise.all([page.waitForNavigation(), page.click('#logout')]);
  assert.equal(await page.locator('#login-form').count(), 1);
  assert.equal((await getIn(page, '/inspector/api/sessions')).status, 401);
  await context.close();
  for (const p of pages.slice(0, 2)) await p.context().close();
  assert.deepEqual(problems, [], 'no script error and nothing the Content-Security-Policy refused');
});
