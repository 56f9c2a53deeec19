// The Inspector page (served at /inspector behind the project login): the sessions list,
// or one session (/inspector/sessions/{id}). Plain TypeScript, charts by uPlot; built by
// web/build.mjs into web/dist/inspector.{js,css}, which the server embeds.
import './inspector.css';

import { ApiFailure, api, type SessionSummary } from './api';
import { renderSession } from './session';
import { duration, empty, fullTime, h, shortId, table, when } from './util';

const PAGE_SIZE = 25;
/** Sessions read per request: the list filters what it has read. */
const READ_SIZE = 1000;
const LIST_POLL_MS = 5000;

function start(): void {
  const app = document.getElementById('app');
  if (!app) return;
  const m = /^\/inspector\/sessions\/([^/]+)$/.exec(location.pathname);
  if (m) renderSession(app, decodeURIComponent(m[1]));
  else renderList(app);
}

interface ListState {
  items: SessionSummary[];
  total: number;
  page: number;
  status: 'all' | 'live' | 'ended';
  search: string;
  from: string;
  to: string;
}

function renderList(app: HTMLElement): void {
  const params = new URLSearchParams(location.search);
  const state: ListState = {
    items: [],
    total: 0,
    page: Number(params.get('page') ?? 0) || 0,
    status: (['all', 'live', 'ended'].includes(params.get('status') ?? '') ? params.get('status') : 'all') as ListState['status'],
    search: params.get('q') ?? '',
    from: params.get('from') ?? '',
    to: params.get('to') ?? '',
  };
  document.title = 'Sessions · Parlor Inspector';

  const status = h(
    'select',
    { id: 'filter-status', 'aria-label': 'Status' },
    h('option', { value: 'all' }, 'All sessions'),
    h('option', { value: 'live' }, 'Live now'),
    h('option', { value: 'ended' }, 'Ended'),
  );
  status.value = state.status;
  const search = h('input', { id: 'filter-search', type: 'search', placeholder: 'Session ID contains…', value: state.search, spellcheck: 'false' });
  const from = h('input', { id: 'filter-from', type: 'datetime-local', value: state.from, 'aria-label': 'Used after' });
  const to = h('input', { id: 'filter-to', type: 'datetime-local', value: state.to, 'aria-label': 'Used before' });
  const info = h('span', { class: 'muted', id: 'list-info' });
  const body = h('div', { id: 'sessions' });
  const pager = h('div', { class: 'pager' });
  const more = h('button', { type: 'button', class: 'secondary', id: 'load-older', hidden: true }, 'Load older sessions');

  app.replaceChildren(
    h(
      'section',
      { class: 'card' },
      h('div', { class: 'heading' }, h('h1', {}, 'Sessions'), info),
      h(
        'div',
        { class: 'filters' },
        h('label', {}, 'Status ', status),
        h('label', { class: 'grow' }, 'Session ', search),
        h('label', {}, 'Used after ', from),
        h('label', {}, 'before ', to),
      ),
      body,
      h('div', { class: 'list-foot' }, pager, more),
    ),
  );

  const filtered = (): SessionSummary[] => {
    const q = state.search.trim().toLowerCase();
    const fromMs = state.from ? new Date(state.from).getTime() : -Infinity;
    const toMs = state.to ? new Date(state.to).getTime() : Infinity;
    return state.items.filter((s) => {
      if (state.status === 'live' && !s.live) return false;
      if (state.status === 'ended' && s.live) return false;
      if (q && !s.sessionId.toLowerCase().includes(q)) return false;
      // Used in the range: started before its end, and still going or ended after its start.
      const end = s.live || s.lastEndedAt === null ? Date.now() : s.lastEndedAt;
      return s.firstStartedAt <= toMs && end >= fromMs;
    });
  };

  const draw = (): void => {
    const rows = filtered();
    const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
    state.page = Math.min(state.page, pages - 1);
    const shown = rows.slice(state.page * PAGE_SIZE, (state.page + 1) * PAGE_SIZE);
    const live = state.items.filter((s) => s.live).length;
    info.textContent = `${state.total} session${state.total === 1 ? '' : 's'} with history · ${live} live now`;
    if (shown.length === 0) {
      body.replaceChildren(empty(state.items.length ? 'No session matches these filters.' : 'No session has history yet: sessions appear here once a client connects.'));
    } else {
      body.replaceChildren(
        table(
          ['', 'Session', 'Last used', 'Duration', 'Meetings', 'Connections', 'Streams'],
          shown.map((s) => {
            const end = s.lastEndedAt ?? Date.now();
            return h(
              'tr',
              { class: s.live ? 'live' : '', 'data-session-id': s.sessionId, 'data-live': String(s.live) },
              h('td', {}, s.live ? h('span', { class: 'badge live' }, '● Live') : h('span', { class: 'badge ended' }, 'Ended')),
              h('td', {}, h('a', { href: `/inspector/sessions/${encodeURIComponent(s.sessionId)}`, class: 'mono', title: s.sessionId }, shortId(s.sessionId, 14))),
              h('td', { title: fullTime(s.lastStartedAt) }, when(s.lastStartedAt)),
              h('td', {}, s.live ? `${duration(Date.now() - s.lastStartedAt)} so far` : duration(end - s.lastStartedAt)),
              h('td', { class: 'num' }, s.meetings),
              h('td', { class: 'num' }, s.connections),
              h('td', { class: 'num' }, s.streams),
            );
          }),
          { id: 'sessions-table', 'data-count': String(rows.length) },
        ),
      );
    }
    const prev = h('button', { type: 'button', class: 'secondary', disabled: state.page === 0, onclick: () => go(-1) }, '← Newer');
    const next = h('button', { type: 'button', class: 'secondary', disabled: state.page >= pages - 1, onclick: () => go(1) }, 'Older →');
    const first = rows.length ? state.page * PAGE_SIZE + 1 : 0;
    pager.replaceChildren(prev, h('span', { class: 'muted' }, `${first}–${state.page * PAGE_SIZE + shown.length} of ${rows.length}`), next);
    more.hidden = state.items.length >= state.total;
    const url = new URLSearchParams();
    if (state.status !== 'all') url.set('status', state.status);
    if (state.search) url.set('q', state.search);
    if (state.from) url.set('from', state.from);
    if (state.to) url.set('to', state.to);
    if (state.page) url.set('page', String(state.page));
    const qs = url.toString();
    history.replaceState(null, '', `/inspector${qs ? `?${qs}` : ''}`);
  };
  const go = (d: number) => {
    state.page += d;
    draw();
  };
  const onFilter = () => {
    state.status = status.value as ListState['status'];
    state.search = search.value;
    state.from = from.value;
    state.to = to.value;
    state.page = 0;
    draw();
  };
  for (const el of [status, from, to]) el.addEventListener('change', onFilter);
  search.addEventListener('input', onFilter);

  let loaded = READ_SIZE;
  const load = async (): Promise<void> => {
    try {
      const items: SessionSummary[] = [];
      let total = 0;
      for (let offset = 0; offset < loaded; offset += READ_SIZE) {
        const page = await api.sessions(offset, READ_SIZE);
        total = page.count;
        items.push(...page.items);
        if (page.items.length < READ_SIZE) break;
      }
      state.items = items;
      state.total = total;
      app.dataset.loaded = 'true';
      draw();
    } catch (e) {
      if (!(e instanceof ApiFailure && e.status === 401)) body.replaceChildren(h('p', { class: 'error' }, `Could not read the sessions: ${(e as Error).message}`));
    }
  };
  more.addEventListener('click', () => {
    loaded += READ_SIZE;
    void load();
  });
  void load();
  setInterval(() => {
    if (document.visibilityState === 'visible') void load();
  }, LIST_POLL_MS);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
