// Who subscribes to whom: streams (their publishers) on the left, subscribers on the
// right, one edge per subscription coloured by its latest quality score.
import type { Series, Session } from './api';
import { type Names, health } from './names';
import { level, svg } from './util';

const COLORS = { good: '#1f9d55', fair: '#d99a06', poor: '#d64545', none: '#9aa5b1' };
const ROW = 58;
const NODE_W = 230;
const NODE_H = 40;
const WIDTH = 820;

export function subscriptionGraph(session: Session, names: Names, series: Series[]): SVGSVGElement {
  const streams = [...session.streams].sort((a, b) => Number(a.destroyedAt !== null) - Number(b.destroyedAt !== null) || a.createdAt - b.createdAt);
  const subscriberIds: string[] = [];
  for (const s of session.subscriptions) if (!subscriberIds.includes(s.connectionId)) subscriberIds.push(s.connectionId);
  const rows = Math.max(streams.length, subscriberIds.length, 1);
  const height = rows * ROW + 34;
  const root = svg('svg', {
    viewBox: `0 0 ${WIDTH} ${height}`,
    width: '100%',
    role: 'img',
    'aria-label': 'Who subscribes to whom',
    class: 'graph',
    id: 'subscription-graph',
  });
  root.appendChild(svg('text', { x: 10, y: 16, class: 'graph-head' }, 'Streams (publisher → router)'));
  root.appendChild(svg('text', { x: WIDTH - 10, y: 16, class: 'graph-head', 'text-anchor': 'end' }, 'Subscribers (router → subscriber)'));
  const top = (i: number, n: number) => 28 + ((rows - n) * ROW) / 2 + i * ROW;
  const streamTop = new Map<string, number>();
  const subscriberTop = new Map<string, number>();
  streams.forEach((s, i) => streamTop.set(s.id, top(i, streams.length)));
  subscriberIds.forEach((c, i) => subscriberTop.set(c, top(i, subscriberIds.length)));
  const subs = session.subscriptions.filter((x) => streamTop.has(x.streamId) && subscriberTop.has(x.connectionId));
  // Each edge has its own port on both nodes, ordered by the other end's height, so edges
  // neither cross at their ends nor hide one another's score.
  const ports = (group: (x: (typeof subs)[number]) => string, other: (x: (typeof subs)[number]) => number, tops: Map<string, number>) => {
    const at = new Map<string, { y: number; gap: number }>();
    const by = new Map<string, typeof subs>();
    for (const x of subs) by.set(group(x), [...(by.get(group(x)) ?? []), x]);
    for (const [k, list] of by) {
      list.sort((a, b) => other(a) - other(b));
      const gap = NODE_H / (list.length + 1);
      list.forEach((x, i) => at.set(x.id, { y: (tops.get(k) ?? 0) + gap * (i + 1), gap }));
    }
    return at;
  };
  const out = ports((x) => x.streamId, (x) => subscriberTop.get(x.connectionId) ?? 0, streamTop);
  const into = ports((x) => x.connectionId, (x) => streamTop.get(x.streamId) ?? 0, subscriberTop);

  const edges = svg('g', { class: 'edges' });
  const labels = svg('g', {});
  const worst = new Map<string, number>();
  for (const sub of subs) {
    const from = out.get(sub.id);
    const to = into.get(sub.id);
    if (!from || !to) continue;
    const y1 = from.y;
    const y2 = to.y;
    const score = health(series.filter((x) => x.subscriptionId === sub.id));
    const ended = sub.destroyedAt !== null;
    const lv = ended ? 'none' : level(score);
    if (!ended && score !== null) worst.set(sub.connectionId, Math.min(score, worst.get(sub.connectionId) ?? 5));
    const x1 = 10 + NODE_W;
    const x2 = WIDTH - 10 - NODE_W;
    const mx = (x1 + x2) / 2;
    edges.appendChild(
      svg(
        'path',
        {
          d: `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}`,
          fill: 'none',
          stroke: COLORS[lv],
          'stroke-width': ended ? 1.5 : 2.5,
          'stroke-dasharray': ended ? '5 4' : 'none',
          'data-subscription-id': sub.id,
          'data-score': score ?? '',
          'data-level': lv,
        },
        svg('title', {}, `${names.stream(sub.streamId)} → ${names.person(sub.connectionId)}: ${ended ? `ended (${sub.destroyReason ?? ''})` : score === null ? 'no score yet' : `score ${score} of 5`}`),
      ),
    );
    // The score where the edge meets its subscriber, when there is room for it.
    if (to.gap >= 13 && !ended) {
      const lx = x2 - 18;
      labels.appendChild(svg('circle', { cx: lx, cy: y2, r: 7, fill: '#fff', stroke: COLORS[lv], 'stroke-width': 1.5 }));
      labels.appendChild(svg('text', { x: lx, y: y2 + 3.5, 'text-anchor': 'middle', class: 'score-label', fill: COLORS[lv] }, score === null ? '–' : String(score)));
    }
  }
  root.appendChild(edges);

  streams.forEach((s, i) => {
    const y = top(i, streams.length);
    const pub = health(series.filter((x) => x.streamId === s.id && x.side === 'publisher'));
    const ended = s.destroyedAt !== null;
    root.appendChild(node(10, y, names.stream(s.id), ended ? `ended · ${s.destroyReason ?? ''}` : media(s.hasAudio, s.hasVideo), ended ? 'none' : level(pub), pub, ended, { 'data-stream-id': s.id }));
  });
  subscriberIds.forEach((c, i) => {
    const y = top(i, subscriberIds.length);
    const mine = session.subscriptions.filter((x) => x.connectionId === c);
    const active = mine.filter((x) => x.destroyedAt === null).length;
    const conn = session.connections.find((x) => x.id === c);
    const gone = conn?.leftAt !== null && conn?.leftAt !== undefined;
    const score = worst.get(c) ?? null;
    root.appendChild(node(WIDTH - 10 - NODE_W, y, names.person(c), `${active} of ${mine.length} subscriptions active`, gone ? 'none' : level(score), null, gone, { 'data-subscriber-id': c }));
  });
  root.appendChild(labels);
  return root;
}

function media(audio: boolean, video: boolean): string {
  return [video && 'video', audio && 'audio'].filter(Boolean).join(' + ') || 'no media';
}

function node(x: number, y: number, title: string, sub: string, lv: keyof typeof COLORS, score: number | null, ended: boolean, attrs: Record<string, string>): SVGGElement {
  const g = svg('g', { class: `node${ended ? ' ended' : ''}`, ...attrs });
  g.appendChild(svg('rect', { x, y, width: NODE_W, height: NODE_H, rx: 7, class: 'node-box' }));
  g.appendChild(svg('rect', { x, y, width: 6, height: NODE_H, rx: 3, fill: COLORS[lv] }));
  g.appendChild(svg('text', { x: x + 14, y: y + 19, class: 'node-title' }, clip(title, 30)));
  g.appendChild(svg('text', { x: x + 14, y: y + 35, class: 'node-sub' }, clip(sub, 36)));
  if (score !== null) {
    g.appendChild(svg('text', { x: x + NODE_W - 10, y: y + 28, 'text-anchor': 'end', class: 'node-score', fill: COLORS[lv] }, `${score}/5`));
  }
  return g;
}

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
