import type { WireStatsReport } from './protocol';
/** Cumulative counters of the previous report of one RTP stream, keyed by its stats id. */
export type UpstreamMemory = Map<string, {
    freezeCount: number;
    freezeSecs: number;
    concealed: number;
    samples: number;
}>;
/**
 * Reports of one peer connection: `outbound-rtp` for a publisher (`streamId`), `inbound-rtp`
 * for a subscriber (`subscriptionId`). `memory` carries counters between calls.
 */
export declare function upstreamReports(report: RTCStatsReport, owner: {
    streamId: string;
} | {
    subscriptionId: string;
}, memory: UpstreamMemory): WireStatsReport[];
