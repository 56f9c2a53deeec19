// The per-stream quality charts: for each stream, one chart per metric (bitrate, loss,
// RTT, jitter, fps when clients report it, score), one line per stream side (what the
// router receives from the publisher, what it sends to each subscriber).
import type { Sample, Series, Session } from './api';
import { type Band, Chart, type ChartSpec, type Line } from './charts';
import { type Names, health, lastMos } from './names';
import { empty, h, level, scoreOf } from './util';

const PALETTE = ['#2563eb', '#db2777', '#0d9488', '#ea580c', '#7c3aed', '#0891b2', '#a16207', '#4d7c0f', '#be123c', '#475569'];
const GOOD = 'rgba(31,157,85,0.10)';
const FAIR = 'rgba(217,154,6,0.13)';
const POOR = 'rgba(214,69,69,0.11)';

type Media = 'video' | 'audio';

interface Metric {
  id: string;
  title: string;
  unit: string;
  decimals: number;
  value: (s: Sample) => number | null | undefined;
  minTop?: number;
  fixed?: [number, number];
  bands?: (media: Media) => Band[];
  /** Drawn only when some sample has a value (clients' own statistics). */
  optional?: boolean;
}

const METRICS: Metric[] = [
  {
    id: 'bitrate',
    title: 'Bitrate',
    unit: 'kbps',
    decimals: 0,
    value: (s) => s.bitrateBps / 1000,
    minTop: 50,
    // OpenTok's guidance: video under 150 kbps or audio under 25 kbps is poor.
    bands: (m) => [{ from: 0, to: m === 'video' ? 150 : 25, color: POOR }],
  },
  {
    id: 'loss',
    title: 'Packet loss',
    unit: '%',
    decimals: 1,
    value: (s) => (s.loss === null || s.loss === undefined ? null : s.loss * 100),
    minTop: 6,
    bands: () => [
      { from: 3, to: 5, color: FAIR },
      { from: 5, to: 1000, color: POOR },
    ],
  },
  {
    id: 'rtt',
    title: 'Round-trip time',
    unit: 'ms',
    decimals: 0,
    value: (s) => s.rttMs,
    minTop: 50,
    bands: () => [
      { from: 150, to: 300, color: FAIR },
      { from: 300, to: 1e6, color: POOR },
    ],
  },
  {
    id: 'jitter',
    title: 'Jitter',
    unit: 'ms',
    decimals: 1,
    value: (s) => s.jitterMs,
    minTop: 10,
    bands: () => [
      { from: 30, to: 50, color: FAIR },
      { from: 50, to: 1e6, color: POOR },
    ],
  },
  {
    id: 'fps',
    title: 'Frame rate',
    unit: 'fps',
    decimals: 0,
    value: (s) => s.fps,
    minTop: 30,
    optional: true,
  },
  {
    id: 'score',
    title: 'Quality score',
    unit: 'MOS',
    decimals: 2,
    value: (s) => s.mos,
    fixed: [1, 4.5],
    bands: () => [
      { from: 1, to: 2.5, color: POOR },
      { from: 2.5, to: 3.5, color: FAIR },
      { from: 3.5, to: 4.5, color: GOOD },
    ],
  },
];

const key = (s: Series) => `${s.streamId}|${s.subscriptionId ?? ''}|${s.media}`;

/** The session's quality series, merged poll after poll. */
export class QualityStore {
  readonly series = new Map<string, Series>();
  /** The newest window's end seen (Unix ms). */
  newest = 0;

  merge(items: Series[]): void {
    for (const item of items) {
      const have = this.series.get(key(item));
      if (!have) {
        this.series.set(key(item), { ...item, samples: [...item.samples] });
      } else {
        const last = have.samples.length ? have.samples[have.samples.length - 1].at : -Infinity;
        have.samples.push(...item.samples.filter((s) => s.at > last));
      }
      for (const s of item.samples) this.newest = Math.max(this.newest, s.at);
    }
  }

  all(): Series[] {
    return [...this.series.values()];
  }
}

/** The Quality section: a video/audio switch and a group of charts per stream. */
export class QualityView {
  readonly el: HTMLElement;
  private readonly body = h('div', { class: 'quality-body' });
  private media: Media = 'video';
  private charts = new Map<string, Chart>();
  private groups = new Map<string, HTMLElement>();

  constructor(private readonly onChange: () => void) {
    const buttons = (['video', 'audio'] as Media[]).map((m) =>
      h('button', { type: 'button', class: `toggle${m === this.media ? ' on' : ''}`, 'data-media': m, 'aria-pressed': String(m === this.media) }, m === 'video' ? 'Video' : 'Audio'),
    );
    for (const b of buttons) {
      b.addEventListener('click', () => {
        this.media = b.dataset.media as Media;
        for (const x of buttons) {
          x.classList.toggle('on', x === b);
          x.setAttribute('aria-pressed', String(x === b));
        }
        this.clear();
        this.onChange();
      });
    }
    this.el = h(
      'section',
      { class: 'card', id: 'quality' },
      h(
        'div',
        { class: 'heading' },
        h('h2', {}, 'Media quality'),
        h('div', { class: 'toggles', role: 'group', 'aria-label': 'Media' }, ...buttons),
      ),
      h(
        'p',
        { class: 'muted small' },
        'Measured by the media router every few seconds: what it receives from each publisher (“Ann → router”) and what each subscriber reports receiving (“router → Bob”). Shaded: where a metric is poor (red) or fair (amber); scores 4–5 are good, 3 fair, 1–2 poor.',
      ),
      this.body,
    );
  }

  private clear(): void {
    for (const c of this.charts.values()) c.destroy();
    this.charts.clear();
    this.groups.clear();
    this.body.replaceChildren();
  }

  render(session: Session, names: Names, store: QualityStore): void {
    const all = store.all();
    const series = all.filter((s) => s.media === this.media);
    const streams = session.streams.filter((st) => series.some((s) => s.streamId === st.id));
    if (streams.length === 0) {
      this.clear();
      this.body.appendChild(empty(all.length ? `No ${this.media} quality windows in this session.` : 'No quality windows yet: the router samples every stream every few seconds once its media flows.'));
      return;
    }
    this.body.querySelector(':scope > .empty')?.remove();
    for (const stream of streams) {
      const sides = series
        .filter((s) => s.streamId === stream.id)
        .sort((a, b) => Number(a.side !== 'publisher') - Number(b.side !== 'publisher') || names.side(a).localeCompare(names.side(b)));
      let group = this.groups.get(stream.id);
      if (!group) {
        group = h('div', { class: 'stream-quality', 'data-stream-id': stream.id });
        this.groups.set(stream.id, group);
        this.body.appendChild(group);
      }
      const head = h(
        'div',
        { class: 'stream-head' },
        h('h3', {}, names.stream(stream.id)),
        h(
          'ul',
          { class: 'sides' },
          ...sides.map((s, i) => {
            const score = scoreOf(lastMos(s));
            const swatch = h('span', { class: 'swatch' });
            swatch.style.background = PALETTE[i % PALETTE.length];
            return h(
              'li',
              { 'data-side': s.side, 'data-score': score ?? '' },
              swatch,
              names.side(s),
              h('span', { class: `score ${level(score)}`, title: 'Latest score, 1–5' }, score === null ? '–' : String(score)),
            );
          }),
        ),
      );
      let grid = group.querySelector<HTMLElement>(':scope > .charts');
      if (!grid) {
        grid = h('div', { class: 'charts' });
        group.replaceChildren(head, grid);
      } else {
        group.replaceChild(head, group.firstChild as Node);
      }
      for (const metric of METRICS) {
        const lines: Line[] = sides.map((s, i) => ({
          label: names.side(s),
          color: PALETTE[i % PALETTE.length],
          points: s.samples.map((w): [number, number | null] => {
            const v = metric.value(w);
            return [w.at / 1000, v === undefined || v === null || Number.isNaN(v) ? null : v];
          }),
        }));
        const hasValues = lines.some((l) => l.points.some((p) => p[1] !== null));
        const id = `${stream.id}|${metric.id}`;
        if (metric.optional && !hasValues) continue;
        const spec: ChartSpec = {
          metric: metric.id,
          title: metric.title,
          unit: metric.unit,
          decimals: metric.decimals,
          lines,
          minTop: metric.minTop,
          fixed: metric.fixed,
          bands: metric.bands?.(this.media),
        };
        const chart = this.charts.get(id);
        if (chart) chart.update(spec);
        else this.charts.set(id, new Chart(grid, spec, `q-${stream.id}`));
      }
      group.dataset.health = String(health(sides) ?? '');
    }
  }
}
