// Who is who in a session: participants' names (from their connection data), streams'
// labels, and the latest quality score of each stream side.
import type { Connection, Series, Session, Stream } from './api';
import { nameFromData, scoreOf, shortId } from './util';

export class Names {
  private readonly connections = new Map<string, Connection>();
  private readonly streams = new Map<string, Stream>();

  constructor(session: Session) {
    for (const c of session.connections) this.connections.set(c.id, c);
    for (const s of session.streams) this.streams.set(s.id, s);
  }

  /** A participant's name: its connection data's name, else a short connection ID. */
  person(connectionId: string | null | undefined): string {
    if (!connectionId) return '—';
    const c = this.connections.get(connectionId);
    return (c && nameFromData(c.data)) || `#${shortId(connectionId, 4)}`;
  }

  stream(streamId: string | null | undefined): string {
    if (!streamId) return '—';
    const s = this.streams.get(streamId);
    if (!s) return `stream ${shortId(streamId, 4)}`;
    const owner = this.person(s.connectionId);
    const kind = s.videoType === 'screen' ? 'screen' : s.videoType === 'custom' ? 'custom video' : 'camera';
    return s.name && s.name !== owner ? `${owner} · ${s.name} (${kind})` : `${owner} (${kind})`;
  }

  publisherOf(streamId: string): string | null {
    return this.streams.get(streamId)?.connectionId ?? null;
  }

  /** A series' line label: "Ann → router" (what the router receives) or "router → Bob". */
  side(s: Series): string {
    return s.side === 'publisher' ? `${this.person(s.connectionId)} → router` : `router → ${this.person(s.connectionId)}`;
  }
}

/** The last MOS of a series (its newest sample that has one). */
export function lastMos(s: Series): number | null {
  for (let i = s.samples.length - 1; i >= 0; i--) {
    const m = s.samples[i].mos;
    if (m !== null && m !== undefined) return m;
  }
  return null;
}

/** The health of a stream side over its media: the lower latest score. */
export function health(series: Series[]): number | null {
  const scores = series.map((s) => scoreOf(lastMos(s))).filter((x): x is number => x !== null);
  return scores.length ? Math.min(...scores) : null;
}
