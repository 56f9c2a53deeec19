// Pre-call network tests of a session (`opentok-network-test-js`, whose subscriptions carry
// OpenTok.js's `testNetwork` option): what each measured, from its `precallTest` event —
// the router's windows (bitrate, loss, MOS) and the browser's reports (frame rate,
// resolution, freezes), per kind of media.
import type { Event } from './api';
import type { Names } from './names';
import { duration, fullTime, h, level, pct, table, when } from './util';

interface Measured {
  windows: number;
  bitrateBps: number;
  loss: number | null;
  mos: number | null;
  score: number | null;
  fps?: number | null;
  width?: number | null;
  height?: number | null;
  freezes?: number;
}

function media(m: unknown): Measured | null {
  return m && typeof m === 'object' ? (m as Measured) : null;
}

function cells(m: Measured | null, video: boolean): HTMLElement[] {
  if (!m) return [h('td', { class: 'muted', colspan: video ? 4 : 3 }, 'none received')];
  const score = h('span', { class: `score ${level(m.score)}`, 'data-score': m.score ?? '' }, m.score === null ? '–' : String(m.score));
  const out = [
    h('td', { class: 'num' }, `${Math.round(m.bitrateBps / 1000)} kbps`),
    h('td', { class: 'num' }, m.loss === null ? '–' : pct(m.loss)),
    h('td', {}, score, m.mos === null ? '' : ` ${m.mos.toFixed(2)}`),
  ];
  if (video) {
    const size = m.width && m.height ? `${m.width}×${m.height}` : '–';
    const fps = m.fps === null || m.fps === undefined ? '–' : `${m.fps.toFixed(0)} fps`;
    out.push(h('td', {}, `${size} · ${fps} · ${m.freezes ?? 0} freezes`));
  }
  return out;
}

/** The pre-call tests' table (newest first), or null when the session had none. */
export function precallTable(events: Event[], n: Names): HTMLElement | null {
  const tests = events.filter((e) => e.kind === 'precallTest' && e.detail);
  if (!tests.length) return null;
  return table(
    ['Ended', 'Participant', 'Stream', 'Lasted', 'Audio', 'Loss', 'Audio score', 'Video', 'Loss', 'Video score', 'Video seen'],
    tests
      .slice()
      .sort((a, b) => b.at - a.at)
      .map((e) => {
        const d = e.detail as Record<string, unknown>;
        const ms = typeof d.durationMs === 'number' ? d.durationMs : null;
        return h(
          'tr',
          { 'data-event-id': e.id },
          h('td', { title: fullTime(e.at) }, when(e.at)),
          h('td', {}, e.connectionId ? n.person(e.connectionId) : '—'),
          h('td', {}, e.streamId ? n.stream(e.streamId) : '—'),
          h('td', {}, ms === null ? '–' : duration(ms)),
          ...cells(media(d.audio), false),
          ...cells(media(d.video), true),
        );
      }),
    { id: 'precall-table', class: 'compact' },
  );
}
