export interface IncomingTrackStats {
    bytesReceived: number;
    packetsLost: number;
    packetsReceived: number;
}
export interface SubscriberVideoStats extends IncomingTrackStats {
    /** Frames per second being decoded. */
    frameRate: number;
    decodedFrameRate: number;
    width: number;
    height: number;
    codec: string;
    /** Parlor addition: total frames decoded so far. */
    framesDecoded: number;
    /** Parlor addition: total frames received so far. */
    framesReceived: number;
}
export interface SubscriberStats {
    audio: IncomingTrackStats & {
        audioLevel: number;
        codec: string;
    };
    video: SubscriberVideoStats;
    timestamp: number;
}
export interface OutgoingTrackStats {
    bytesSent: number;
    packetsLost: number;
    packetsSent: number;
}
export interface PublisherStats {
    audio: OutgoingTrackStats;
    video: OutgoingTrackStats & {
        frameRate: number;
        width: number;
        height: number;
        codec: string;
        framesEncoded: number;
    };
    timestamp: number;
}
/** One entry per peer connection of the publisher; Parlor routes, so there is one, with no subscriber. */
export interface PublisherStatContainer {
    subscriberId?: string;
    connectionId?: string;
    stats: PublisherStats;
}
export interface PublisherRtcStatsReportContainer {
    subscriberId?: string;
    connectionId?: string;
    rtcStatsReport: RTCStatsReport;
}
export declare function subscriberStats(report: RTCStatsReport): SubscriberStats;
export declare function publisherStats(report: RTCStatsReport): PublisherStats;
/** The audio level (0–1) of the first audio source or inbound stream in a report. */
export declare function audioLevelOf(report: RTCStatsReport, type: 'media-source' | 'inbound-rtp'): number | undefined;
