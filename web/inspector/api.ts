// The page's data: the Inspector API (docs/inspector-openapi.yaml) under /inspector/api,
// authenticated by the login cookie. A 401 means the login expired: back to the form.

export interface SessionSummary {
  sessionId: string;
  live: boolean;
  firstStartedAt: number;
  lastStartedAt: number;
  lastEndedAt: number | null;
  meetings: number;
  connections: number;
  streams: number;
}

export interface Meeting {
  id: string;
  startedAt: number;
  endedAt: number | null;
  endReason: string | null;
}

export interface Connection {
  id: string;
  meetingId: string;
  role: string;
  data: string;
  sdk?: string | null;
  sdkVersion?: string | null;
  userAgent?: string | null;
  remoteAddr?: string | null;
  joinedAt: number;
  leftAt: number | null;
  leaveReason: string | null;
  signalsSent: number;
}

export interface Stream {
  id: string;
  meetingId: string;
  connectionId: string;
  name: string;
  videoType: string;
  hasAudio: boolean;
  hasVideo: boolean;
  createdAt: number;
  destroyedAt: number | null;
  destroyReason: string | null;
}

export interface Subscription {
  id: string;
  meetingId: string;
  streamId: string;
  connectionId: string;
  createdAt: number;
  destroyedAt: number | null;
  destroyReason: string | null;
  /** A pre-call network test's subscription. */
  testNetwork?: boolean;
}

export interface FailureRate {
  attempts: number;
  failures: number;
  rate: number;
}

export interface Session {
  sessionId: string;
  live: boolean;
  meetings: Meeting[];
  connections: Connection[];
  streams: Stream[];
  subscriptions: Subscription[];
  eventCounts: Record<string, number>;
  failureRates: { connect: FailureRate; publish: FailureRate; subscribe: FailureRate };
}

export interface Event {
  id: number;
  at: number;
  kind: string;
  meetingId: string | null;
  connectionId: string | null;
  streamId: string | null;
  subscriptionId: string | null;
  reason: string | null;
  detail: Record<string, unknown> | null;
}

/** One window. The W3C-stats fields (fps …) are newer and may be absent or null. */
export interface Sample {
  at: number;
  windowMs: number;
  bitrateBps: number;
  packets: number;
  nacks: number;
  plis: number;
  loss: number | null;
  jitterMs: number | null;
  rttMs: number | null;
  mos: number | null;
  fps?: number | null;
  width?: number | null;
  height?: number | null;
  freezes?: number | null;
  qualityLimitation?: string | null;
  qualityLimitationReason?: string | null;
}

export interface Series {
  streamId: string;
  subscriptionId: string | null;
  side: 'publisher' | 'subscriber';
  connectionId: string;
  media: 'audio' | 'video';
  summary: {
    samples: number;
    meanMos: number | null;
    lastMos: number | null;
    score: number | null;
    meanLoss: number | null;
    maxLoss: number | null;
    meanRttMs: number | null;
  };
  samples: Sample[];
}

/** The event kinds (the API's EventKind). */
export const KINDS = [
  'meetingStarted',
  'meetingEnded',
  'connectionCreated',
  'connectionFailed',
  'connectionDestroyed',
  'streamCreated',
  'streamDestroyed',
  'publishFailed',
  'subscriptionCreated',
  'subscriptionDestroyed',
  'subscribeFailed',
  'precallTest',
  'moderation',
  'archiveStarted',
  'archiveStopped',
  'connectionLost',
  'connectionResumed',
  'videoQuality',
];

export const FAILURE_KINDS = ['connectionFailed', 'publishFailed', 'subscribeFailed'];

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function get<T>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T> {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
  const qs = params.toString();
  const res = await fetch(`/inspector/api${path}${qs ? `?${qs}` : ''}`, {
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
    cache: 'no-store',
  });
  if (res.status === 401) {
    // The login expired (or was cleared): the page itself answers with the form.
    location.reload();
    throw new ApiFailure(401, 'not logged in');
  }
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      message = (await res.json()).message ?? message;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiFailure(res.status, message);
  }
  return (await res.json()) as T;
}

const enc = encodeURIComponent;

export const api = {
  sessions: (offset: number, count: number) =>
    get<{ count: number; items: SessionSummary[] }>('/sessions', { offset, count }),
  session: (id: string) => get<Session>(`/sessions/${enc(id)}`),
  events: (id: string, after: number, count: number, kind?: string) =>
    get<{ items: Event[]; next: number | null }>(`/sessions/${enc(id)}/events`, { after, count, kind }),
  quality: (id: string, since?: number) => get<{ items: Series[] }>(`/sessions/${enc(id)}/quality`, { since }),
};
