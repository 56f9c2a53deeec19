// DOM and formatting helpers. Text is always set as text (never parsed as HTML): connection
// data, names and reasons come from clients.

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined | null | ((e: MouseEvent) => void)>;

/** `h('td', {class: 'x', 'data-id': id}, 'text', child…)` */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v as EventListener);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

const SVG = 'http://www.w3.org/2000/svg';
export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });

/** A time (Unix ms): the time alone when it is today, else date and time. */
export function when(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms);
  return d.toDateString() === new Date().toDateString() ? timeOnly.format(d) : dateTime.format(d);
}

export function fullTime(ms: number): string {
  return dateTime.format(new Date(ms));
}

/** A duration in ms: "42 s", "3 min 5 s", "2 h 10 min". */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** "1_MX40…fn4" — the start and the end of a long ID. */
export function shortId(id: string, keep = 8): string {
  return id.length <= keep * 2 + 1 ? id : `${id.slice(0, keep)}…${id.slice(-keep)}`;
}

export function pct(rate: number): string {
  return `${(rate * 100).toFixed(rate > 0 && rate < 0.01 ? 2 : 1)} %`;
}

/** A participant's name from its connection data: JSON `{name}`, `name=…`, or the data. */
export function nameFromData(data: string): string | null {
  const d = data.trim();
  if (!d) return null;
  try {
    const v = JSON.parse(d);
    if (v && typeof v === 'object' && typeof v.name === 'string' && v.name.trim()) return v.name.trim();
  } catch {
    // not JSON
  }
  const m = /(?:^|[&;,\s])(?:name|username|displayName)=([^&;,]+)/i.exec(d);
  if (m) {
    try {
      return decodeURIComponent(m[1].replace(/\+/g, ' ')).trim();
    } catch {
      return m[1].trim();
    }
  }
  return d.length > 32 ? `${d.slice(0, 31)}…` : d;
}

/** "Chrome 142 · Linux" from a User-Agent. */
export function browserOf(ua: string | null | undefined): string {
  if (!ua) return '—';
  const pick = (re: RegExp) => re.exec(ua)?.[1];
  const version = (name: string) => pick(new RegExp(`${name}/(\\d+)`));
  let browser: string;
  if (version('Edg')) browser = `Edge ${version('Edg')}`;
  else if (version('OPR')) browser = `Opera ${version('OPR')}`;
  else if (version('HeadlessChrome')) browser = `Headless Chrome ${version('HeadlessChrome')}`;
  else if (version('Chrome')) browser = `Chrome ${version('Chrome')}`;
  else if (version('Firefox')) browser = `Firefox ${version('Firefox')}`;
  else if (/Safari\//.test(ua) && version('Version')) browser = `Safari ${version('Version')}`;
  else browser = ua.split(/[\s/]/)[0] || ua;
  const os = /Android/.test(ua)
    ? 'Android'
    : /iPhone|iPad/.test(ua)
      ? 'iOS'
      : /Windows/.test(ua)
        ? 'Windows'
        : /Mac OS X/.test(ua)
          ? 'macOS'
          : /CrOS/.test(ua)
            ? 'ChromeOS'
            : /Linux/.test(ua)
              ? 'Linux'
              : '';
  return os ? `${browser} · ${os}` : browser;
}

/** A quality level for OpenTok's 1–5 score: good (4–5), fair (3), poor (1–2). */
export function level(score: number | null | undefined): 'good' | 'fair' | 'poor' | 'none' {
  if (score === null || score === undefined) return 'none';
  return score >= 4 ? 'good' : score >= 3 ? 'fair' : 'poor';
}

/** OpenTok's 1–5 score of a MOS (rounded, as the server does). */
export function scoreOf(mos: number | null | undefined): number | null {
  if (mos === null || mos === undefined) return null;
  return Math.min(5, Math.max(1, Math.round(mos)));
}

export function section(title: string, id: string, ...children: Child[]): HTMLElement {
  return h('section', { class: 'card', id }, h('h2', {}, title), ...children);
}

export function table(headers: string[], rows: HTMLTableRowElement[], attrs: Attrs = {}): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h('table', attrs, h('thead', {}, h('tr', {}, ...headers.map((x) => h('th', {}, x)))), h('tbody', {}, ...rows)),
  );
}

export function empty(text: string): HTMLElement {
  return h('p', { class: 'muted empty' }, text);
}
