// One session: summary, meetings, participants, who subscribes to whom, media quality
// charts, the error log with failure rates, and the timeline. Live sessions are polled
// every few seconds (new windows and events are appended); an ended one is read once.
import { ApiFailure, type Event, FAILURE_KINDS, KINDS, type Session, api } from './api';
import { subscriptionGraph } from './graph';
import { Names, health } from './names';
import { precallTable } from './precall';
import { QualityStore, QualityView } from './quality';
import { browserOf, duration, empty, fullTime, h, level, pct, section, shortId, table, when } from './util';

const POLL_MS = 3000;
const EVENTS_PAGE = 100;

export function renderSession(app: HTMLElement, sid: string): void {
  document.title = `Session ${shortId(sid, 6)} · Parlor Inspector`;
  const quality = new QualityStore();
  let session: Session | null = null;
  let names: Names | null = null;
  let events: Event[] = [];
  let eventsNext: number | null = null;
  let eventsDone = false;
  let kind = '';
  let errors: Event[] = [];
  let errorsCounted = 0;
  let precalls: Event[] = [];
  let precallsCounted = 0;

  const status = h('span', { class: 'badge' });
  const updated = h('span', { class: 'muted small', id: 'updated' });
  const tiles = h('div', { class: 'tiles', id: 'summary' });
  const meetings = section('Meetings', 'meetings');
  const participants = section('Participants', 'participants');
  const graph = section('Who subscribes to whom', 'subscriptions');
  const qualityView = new QualityView(() => draw());
  const failures = section('Errors', 'errors');
  const precall = section('Pre-call tests', 'precall');
  precall.hidden = true;

  const kindSelect = h('select', { id: 'timeline-kind', 'aria-label': 'Event kind' }, h('option', { value: '' }, 'All events'), ...KINDS.map((k) => h('option', { value: k }, k)));
  const timelineBody = h('div', {});
  const more = h('button', { type: 'button', class: 'secondary', id: 'timeline-more', hidden: true }, 'Load more events');
  const timeline = h(
    'section',
    { class: 'card', id: 'timeline' },
    h('div', { class: 'heading' }, h('h2', {}, 'Timeline'), h('label', { class: 'small' }, 'Show ', kindSelect)),
    timelineBody,
    more,
  );

  app.replaceChildren(
    h(
      'section',
      { class: 'card session-head' },
      h('a', { href: '/inspector', class: 'back' }, '← Sessions'),
      h('div', { class: 'heading' }, h('h1', {}, 'Session'), status, updated),
      h('p', { class: 'mono sid', id: 'session-id' }, sid),
      tiles,
    ),
    meetings,
    participants,
    graph,
    precall,
    qualityView.el,
    failures,
    timeline,
  );

  const draw = (): void => {
    if (!session || !names) return;
    const s = session;
    const n = names;
    status.className = `badge ${s.live ? 'live' : 'ended'}`;
    status.textContent = s.live ? '● Live' : 'Ended';
    app.dataset.live = String(s.live);

    // Summary tiles.
    const active = s.connections.filter((c) => c.leftAt === null).length;
    const first = s.meetings[0]?.startedAt;
    const lastEnd = s.meetings.length ? s.meetings[s.meetings.length - 1].endedAt : null;
    const span = first === undefined ? null : (s.live || lastEnd === null ? Date.now() : lastEnd) - first;
    const subsHealth = health(quality.all().filter((x) => x.side === 'subscriber'));
    tiles.replaceChildren(
      tile('Participants', String(s.connections.length), s.live ? `${active} connected now` : 'all left'),
      tile('Streams', String(s.streams.length), `${s.streams.filter((x) => x.destroyedAt === null).length} published now`),
      tile('Subscriptions', String(s.subscriptions.length), `${s.subscriptions.filter((x) => x.destroyedAt === null).length} active`),
      tile('Meetings', String(s.meetings.length), span === null ? '' : `${duration(span)} in all`),
      tile('Worst subscriber score', subsHealth === null ? '–' : `${subsHealth} / 5`, 'latest, 1–5', level(subsHealth)),
    );

    // Meetings.
    setBody(
      meetings,
      s.meetings.length
        ? table(
            ['Meeting', 'Started', 'Ended', 'Duration', 'Why it ended'],
            s.meetings.map((m) =>
              h(
                'tr',
                { 'data-meeting-id': m.id },
                h('td', { class: 'mono', title: m.id }, shortId(m.id, 6)),
                h('td', { title: fullTime(m.startedAt) }, when(m.startedAt)),
                h('td', {}, m.endedAt === null ? h('span', { class: 'badge live' }, 'going on') : when(m.endedAt)),
                h('td', {}, duration((m.endedAt ?? Date.now()) - m.startedAt)),
                h('td', {}, m.endReason ?? '—'),
              ),
            ),
          )
        : empty('No meeting yet.'),
    );

    // Participants.
    setBody(
      participants,
      s.connections.length
        ? table(
            ['Participant', 'Role', 'SDK', 'Browser', 'Address', 'Joined', 'Left', 'Why', 'Signals'],
            s.connections.map((c) =>
              h(
                'tr',
                { 'data-connection-id': c.id, class: c.leftAt === null ? '' : 'gone' },
                h('td', {}, h('strong', {}, n.person(c.id)), h('div', { class: 'mono small muted', title: c.id }, shortId(c.id, 6))),
                h('td', {}, c.role),
                h('td', {}, c.sdk ? `${c.sdk} ${c.sdkVersion ?? ''}` : '—'),
                h('td', { title: c.userAgent ?? '' }, browserOf(c.userAgent)),
                h('td', { class: 'mono' }, c.remoteAddr ?? '—'),
                h('td', { title: fullTime(c.joinedAt) }, when(c.joinedAt)),
                h('td', {}, c.leftAt === null ? h('span', { class: 'badge live' }, 'connected') : when(c.leftAt)),
                h('td', { class: c.leaveReason === 'networkDisconnected' ? 'bad' : '' }, c.leaveReason ?? ''),
                h('td', { class: 'num' }, c.signalsSent),
              ),
            ),
            { id: 'participants-table' },
          )
        : empty('Nobody has connected yet.'),
    );

    // Who subscribes to whom.
    const series = quality.all();
    setBody(
      graph,
      s.subscriptions.length
        ? h(
            'div',
            {},
            subscriptionGraph(s, n, series),
            table(
              ['Subscriber', 'Stream', 'Since', 'Ended', 'Video', 'Audio'],
              s.subscriptions.map((x) => {
                const of = (media: string) => health(series.filter((q) => q.subscriptionId === x.id && q.media === media));
                const v = of('video');
                const a = of('audio');
                return h(
                  'tr',
                  { 'data-subscription-id': x.id, class: x.destroyedAt === null ? '' : 'gone' },
                  h('td', {}, n.person(x.connectionId)),
                  h('td', {}, n.stream(x.streamId)),
                  h('td', {}, when(x.createdAt)),
                  h('td', {}, x.destroyedAt === null ? '—' : `${when(x.destroyedAt)} · ${x.destroyReason ?? ''}`),
                  h('td', {}, chip(v, x.destroyedAt !== null)),
                  h('td', {}, chip(a, x.destroyedAt !== null)),
                );
              }),
              { id: 'subscriptions-table', class: 'compact' },
            ),
          )
        : empty('No subscription yet.'),
    );

    // Pre-call network tests: shown only for a session that had one.
    const pre = precallTable(precalls, n);
    precall.hidden = pre === null;
    if (pre) {
      setBody(
        precall,
        h('p', { class: 'muted small' }, 'Subscriptions of a pre-call network test (opentok-network-test-js): what the router measured of each, and what the browser reported.'),
        pre,
      );
    }

    qualityView.render(s, n, quality);

    // Errors: failure rates and the failures themselves.
    const rates = s.failureRates;
    const dropped = s.connections.filter((c) => c.leaveReason === 'networkDisconnected').length;
    setBody(
      failures,
      h(
        'div',
        { class: 'tiles' },
        rateTile('Connect', rates.connect),
        rateTile('Publish', rates.publish),
        rateTile('Subscribe', rates.subscribe),
        tile('Network drops', String(dropped), 'connections lost', dropped ? 'poor' : 'good'),
      ),
      errors.length
        ? table(
            ['Time', 'What', 'Participant', 'Stream', 'Why'],
            errors.map((e) => eventRow(e, n)),
            { id: 'errors-table' },
          )
        : h('p', { class: 'muted ok-note' }, 'No failure recorded: every connect, publish and subscribe succeeded.'),
    );

    // Timeline.
    timelineBody.replaceChildren(
      events.length
        ? table(
            ['Time', 'Event', 'Participant', 'Stream', 'Why', 'Details'],
            events.map((e) => eventRow(e, n)),
            { id: 'timeline-table', 'data-count': String(events.length) },
          )
        : empty(kind ? `No ${kind} event.` : 'No event yet.'),
    );
    more.hidden = eventsNext === null;
    updated.textContent = `${s.live ? 'live · updated' : 'read'} ${new Date().toLocaleTimeString()}`;
  };

  const loadEvents = async (reset: boolean): Promise<void> => {
    if (reset) {
      events = [];
      eventsNext = null;
      eventsDone = false;
    }
    const after = reset ? 0 : (eventsNext ?? (events.length ? events[events.length - 1].id : 0));
    const page = await api.events(sid, after, EVENTS_PAGE, kind || undefined);
    events.push(...page.items);
    eventsNext = page.next;
    eventsDone = page.next === null;
  };

  const loadErrors = async (): Promise<void> => {
    const pages = await Promise.all(FAILURE_KINDS.map((k) => api.events(sid, 0, 200, k)));
    errors = pages.flatMap((p) => p.items).sort((a, b) => b.at - a.at);
  };

  let timer: number | undefined;
  let wasLive = false;
  const refresh = async (first: boolean): Promise<void> => {
    try {
      const s = await api.session(sid);
      // Overlap the last poll a little: a window written late is not missed (the merge
      // keeps each series' windows once).
      const since = quality.newest ? Math.max(0, quality.newest - 15000) : undefined;
      // The error log is read again only when the session counts more failures.
      const failed = FAILURE_KINDS.reduce((n, k) => n + (s.eventCounts[k] ?? 0), 0);
      const tested = s.eventCounts.precallTest ?? 0;
      const [q] = await Promise.all([
        api.quality(sid, since),
        first ? loadEvents(true) : eventsDone ? loadEvents(false) : Promise.resolve(),
        first || failed !== errorsCounted ? loadErrors().then(() => (errorsCounted = failed)) : Promise.resolve(),
        tested !== precallsCounted
          ? api.events(sid, 0, 200, 'precallTest').then((p) => {
              precalls = p.items;
              precallsCounted = tested;
            })
          : Promise.resolve(),
      ]);
      quality.merge(q.items);
      session = s;
      names = new Names(s);
      draw();
      app.dataset.loaded = 'true';
      app.dataset.polls = String(Number(app.dataset.polls ?? 0) + 1);
      // Poll while it is live, and once more after it ended (its last windows and events).
      if (s.live || wasLive) timer = window.setTimeout(() => void refresh(false), POLL_MS);
      wasLive = s.live;
    } catch (e) {
      if (e instanceof ApiFailure && e.status === 401) return;
      if (e instanceof ApiFailure && e.status === 404) {
        app.replaceChildren(h('section', { class: 'card' }, h('a', { href: '/inspector', class: 'back' }, '← Sessions'), h('h1', {}, 'No such session'), h('p', { class: 'muted' }, `${sid} is not a session of this project.`)));
        return;
      }
      updated.textContent = `could not update: ${(e as Error).message}; retrying`;
      timer = window.setTimeout(() => void refresh(first), POLL_MS * 2);
    }
  };

  kindSelect.addEventListener('change', () => {
    kind = kindSelect.value;
    void loadEvents(true).then(draw);
  });
  more.addEventListener('click', () => void loadEvents(false).then(draw));
  window.addEventListener('beforeunload', () => window.clearTimeout(timer));
  void refresh(true);
}

function setBody(card: HTMLElement, ...children: HTMLElement[]): void {
  const title = card.querySelector(':scope > h2');
  card.replaceChildren(...(title ? [title] : []), ...children);
}

function tile(label: string, value: string, note: string, lv?: string): HTMLElement {
  return h('div', { class: `tile${lv ? ` ${lv}` : ''}` }, h('div', { class: 'tile-label' }, label), h('div', { class: 'tile-value' }, value), h('div', { class: 'tile-note' }, note));
}

function rateTile(label: string, r: { attempts: number; failures: number; rate: number }): HTMLElement {
  const lv = r.attempts === 0 ? undefined : r.failures === 0 ? 'good' : r.rate < 0.05 ? 'fair' : 'poor';
  const el = tile(`${label} failures`, r.attempts ? pct(r.rate) : '–', `${r.failures} of ${r.attempts} attempts`, lv);
  el.dataset.rate = label.toLowerCase();
  return el;
}

/** A score chip; grey once the subscription ended (its last score while it ran). */
function chip(score: number | null, ended = false): HTMLElement {
  const title = ended ? 'the last score before it ended' : 'the latest score, 1–5';
  return h('span', { class: `score ${ended ? 'none' : level(score)}`, 'data-score': score ?? '', title }, score === null ? '–' : String(score));
}

const BAD_KINDS = new Set(['connectionFailed', 'publishFailed', 'subscribeFailed']);

function eventRow(e: Event, n: Names): HTMLTableRowElement {
  const bad = BAD_KINDS.has(e.kind) || e.reason === 'networkDisconnected';
  const detail = e.detail ? Object.entries(e.detail).filter(([, v]) => v !== null && v !== '') : [];
  return h(
    'tr',
    { 'data-event-id': e.id, 'data-kind': e.kind },
    h('td', { class: 'nowrap', title: fullTime(e.at) }, when(e.at)),
    h('td', {}, h('span', { class: `kind${bad ? ' bad' : ''}` }, e.kind)),
    h('td', {}, e.connectionId ? n.person(e.connectionId) : e.kind === 'moderation' ? 'REST API' : '—'),
    h('td', {}, e.streamId ? n.stream(e.streamId) : ''),
    h('td', { class: bad ? 'bad' : '' }, e.reason ?? ''),
    h(
      'td',
      { class: 'small muted detail' },
      e.kind === 'precallTest'
        ? 'measured: see Pre-call tests'
        : detail.map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' · '),
    ),
  );
}
