// What the SDK tells the server of its own media (the `stats` message, docs/protocol.md):
// every `statsInterval` of `connected`, one report per kind of media of each published
// stream (what the browser sends) and each subscription (what it receives), from the
// standard RTCStatsReport. The server keeps them beside the router's own measures for the
// Inspector. Counters (freezes, concealed samples) are sent as the change since the
// previous report, so each report describes about one quality window.

import type { WireStatsReport } from './protocol';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyStats = Record<string, any>;

/** Cumulative counters of the previous report of one RTP stream, keyed by its stats id. */
export type UpstreamMemory = Map<string, { freezeCount: number; freezeSecs: number; concealed: number; samples: number }>;

const LIMITATIONS = new Set(['none', 'cpu', 'bandwidth', 'other']);
const CANDIDATE_TYPES = new Set(['host', 'srflx', 'prflx', 'relay']);

/** The client side of the selected candidate pair: its type and protocol. */
function selectedCandidate(report: RTCStatsReport): Pick<WireStatsReport, 'candidateType' | 'protocol' | 'rttMs'> {
  let pair: AnyStats | undefined;
  report.forEach((s: AnyStats) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = report.get(s.selectedCandidatePairId) as AnyStats | undefined;
  });
  if (!pair) {
    report.forEach((s: AnyStats) => {
      if (!pair && s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s;
    });
  }
  const local = pair?.localCandidateId ? (report.get(pair.localCandidateId) as AnyStats | undefined) : undefined;
  const out: Pick<WireStatsReport, 'candidateType' | 'protocol' | 'rttMs'> = {};
  if (local && CANDIDATE_TYPES.has(local.candidateType)) out.candidateType = local.candidateType;
  if (local && (local.protocol === 'udp' || local.protocol === 'tcp')) out.protocol = local.protocol;
  const rtt = rttMs(pair?.currentRoundTripTime);
  if (rtt !== undefined) out.rttMs = rtt;
  return out;
}

/** Seconds (W3C) → milliseconds within what the server accepts. */
function rttMs(seconds: unknown): number | undefined {
  const s = finite(seconds);
  return s === undefined ? undefined : Math.min(60000, Math.max(0, Math.round(s * 10000) / 10));
}

function finite(n: unknown): number | undefined {
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

/**
 * Reports of one peer connection: `outbound-rtp` for a publisher (`streamId`), `inbound-rtp`
 * for a subscriber (`subscriptionId`). `memory` carries counters between calls.
 */
export function upstreamReports(
  report: RTCStatsReport,
  owner: { streamId: string } | { subscriptionId: string },
  memory: UpstreamMemory,
): WireStatsReport[] {
  const sending = 'streamId' in owner;
  const type = sending ? 'outbound-rtp' : 'inbound-rtp';
  const candidate = selectedCandidate(report);
  const out: WireStatsReport[] = [];
  report.forEach((s: AnyStats) => {
    if (s.type !== type || (s.kind !== 'audio' && s.kind !== 'video')) return;
    // A publisher's simulcast layers would each be an outbound-rtp: the first of a kind counts.
    if (out.some((r) => r.media === s.kind)) return;
    const r: WireStatsReport = { ...owner, media: s.kind, ...candidate };
    // A sender's RTT from the server's receiver reports, better than the ICE checks'.
    if (sending) {
      const remote = s.remoteId ? (report.get(s.remoteId) as AnyStats | undefined) : undefined;
      const rtt = rttMs(remote?.roundTripTime);
      if (rtt !== undefined) r.rttMs = rtt;
    }
    const prev = memory.get(s.id);
    const now = {
      freezeCount: finite(s.freezeCount) ?? 0,
      freezeSecs: finite(s.totalFreezesDuration) ?? 0,
      concealed: finite(s.concealedSamples) ?? 0,
      samples: finite(s.totalSamplesReceived) ?? 0,
    };
    memory.set(s.id, now);
    if (s.kind === 'video') {
      const fps = finite(s.framesPerSecond);
      if (fps !== undefined) r.fps = Math.min(1000, Math.max(0, fps));
      const w = finite(s.frameWidth);
      const h = finite(s.frameHeight);
      if (w !== undefined && h !== undefined) {
        r.width = Math.min(16384, Math.round(w));
        r.height = Math.min(16384, Math.round(h));
      }
      if (sending && LIMITATIONS.has(s.qualityLimitationReason)) r.qualityLimitation = s.qualityLimitationReason;
      if (!sending && finite(s.freezeCount) !== undefined) {
        r.freezes = Math.max(0, now.freezeCount - (prev?.freezeCount ?? 0));
        r.freezeMs = Math.max(0, Math.round((now.freezeSecs - (prev?.freezeSecs ?? 0)) * 1000));
      }
    } else if (!sending && finite(s.totalSamplesReceived) !== undefined) {
      const samples = now.samples - (prev?.samples ?? 0);
      const concealed = now.concealed - (prev?.concealed ?? 0);
      if (samples > 0) r.concealed = Math.min(1, Math.max(0, concealed / samples));
    }
    out.push(r);
  });
  return out;
}
