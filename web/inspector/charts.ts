// Quality charts on uPlot (bundled, no CDN): one chart per metric, one line per stream
// side, time on x, the metric's unit on y, coloured bands where a metric is poor.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

import { h } from './util';

/** One line: points of (Unix seconds, value); null is a gap. */
export interface Line {
  label: string;
  color: string;
  dash?: number[];
  points: Array<[number, number | null]>;
}

export interface Band {
  from: number;
  to: number;
  color: string;
}

export interface ChartSpec {
  metric: string;
  title: string;
  unit: string;
  decimals: number;
  lines: Line[];
  /** The y range's least top (the scale grows with the data beyond it). */
  minTop?: number;
  fixed?: [number, number];
  bands?: Band[];
}

const HEIGHT = 190;

/** A chart in `host`, kept up to date with `update`. */
export class Chart {
  readonly el: HTMLElement;
  private plot: uPlot | null = null;
  private shape = '';
  private spec: ChartSpec;
  private observer: ResizeObserver;

  constructor(
    host: HTMLElement,
    spec: ChartSpec,
    private readonly syncKey: string,
  ) {
    this.spec = spec;
    this.el = h('div', { class: 'chart', 'data-metric': spec.metric });
    host.appendChild(h('figure', { class: 'chart-box' }, h('figcaption', {}, spec.title, h('span', { class: 'unit' }, ` (${spec.unit})`)), this.el));
    this.observer = new ResizeObserver(() => {
      if (this.plot && this.el.clientWidth > 0 && Math.abs(this.plot.width - this.el.clientWidth) > 2) {
        this.plot.setSize({ width: this.el.clientWidth, height: HEIGHT });
      }
    });
    this.observer.observe(this.el);
    this.update(spec);
  }

  update(spec: ChartSpec): void {
    this.spec = spec;
    const data = align(spec.lines);
    const points = spec.lines.reduce((n, l) => n + l.points.filter((p) => p[1] !== null).length, 0);
    this.el.dataset.series = String(spec.lines.length);
    this.el.dataset.points = String(points);
    const shape = JSON.stringify(spec.lines.map((l) => [l.label, l.color]));
    if (this.plot && shape === this.shape) {
      this.plot.setData(data);
      return;
    }
    this.plot?.destroy();
    this.shape = shape;
    this.plot = new uPlot(this.options(), data, this.el);
  }

  destroy(): void {
    this.observer.disconnect();
    this.plot?.destroy();
    this.plot = null;
  }

  private options(): uPlot.Options {
    const spec = this.spec;
    const fmt = (v: number | null | undefined) =>
      v === null || v === undefined ? '—' : `${v.toFixed(spec.decimals)} ${spec.unit}`;
    return {
      width: Math.max(240, this.el.clientWidth || 420),
      height: HEIGHT,
      cursor: { sync: { key: this.syncKey }, drag: { x: true, y: false } },
      legend: { live: true },
      scales: {
        x: { time: true },
        y: {
          range: (_u, min, max): uPlot.Range.MinMax => {
            if (spec.fixed) return spec.fixed;
            const top = Math.max(spec.minTop ?? 1, (max ?? 0) * 1.15);
            return [Math.min(0, min ?? 0), top];
          },
        },
      },
      axes: [
        { stroke: '#5b6472', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#d8dce2' } },
        {
          stroke: '#5b6472',
          label: spec.unit,
          labelSize: 18,
          size: 52,
          grid: { stroke: '#eef0f3' },
          ticks: { stroke: '#d8dce2' },
          values: (_u, vals) => vals.map((v) => (v === null ? '' : trim(v, spec.decimals))),
        },
      ],
      series: [
        { label: 'time', value: (_u, v) => (v === null ? '—' : new Date(v * 1000).toLocaleTimeString()) },
        ...spec.lines.map(
          (l): uPlot.Series => ({
            label: l.label,
            stroke: l.color,
            width: l.dash ? 1.5 : 2.25,
            dash: l.dash,
            spanGaps: false,
            points: { size: 5 },
            // Hovering: the value there; otherwise the latest value.
            value: (u, v, sidx, idx) => (idx === null || idx === undefined ? fmt(latest(u.data[sidx])) : fmt(v)),
          }),
        ),
      ],
      hooks: { drawClear: [(u) => drawBands(u, spec.bands ?? [])] },
    };
  }
}

function latest(values: ArrayLike<number | null | undefined>): number | null {
  for (let i = values.length - 1; i >= 0; i--) {
    const v = values[i];
    if (v !== null && v !== undefined) return v;
  }
  return null;
}

function trim(v: number, decimals: number): string {
  const s = v.toFixed(Math.abs(v) >= 100 ? 0 : decimals);
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** The lines on one x axis: the union of their times; `undefined` where a line has no
 * sample (joined over), `null` where it has a sample without a value (a gap). */
function align(lines: Line[]): uPlot.AlignedData {
  const xs = [...new Set(lines.flatMap((l) => l.points.map((p) => p[0])))].sort((a, b) => a - b);
  const ys = lines.map((l) => {
    const at = new Map(l.points);
    return xs.map((x) => (at.has(x) ? (at.get(x) as number | null) : undefined));
  });
  return [xs, ...ys] as uPlot.AlignedData;
}

function drawBands(u: uPlot, bands: Band[]): void {
  const { left, top, width, height } = u.bbox;
  const ctx = u.ctx;
  ctx.save();
  for (const b of bands) {
    const yTop = Math.max(top, Math.min(top + height, u.valToPos(b.to, 'y', true)));
    const yBottom = Math.max(top, Math.min(top + height, u.valToPos(b.from, 'y', true)));
    if (yBottom - yTop < 0.5) continue;
    ctx.fillStyle = b.color;
    ctx.fillRect(left, yTop, width, yBottom - yTop);
  }
  ctx.restore();
}
