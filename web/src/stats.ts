// getStats() in OpenTok.js's shape, from the standard RTCStatsReport of a peer connection.

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
  audio: IncomingTrackStats & { audioLevel: number; codec: string };
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
  video: OutgoingTrackStats & { frameRate: number; width: number; height: number; codec: string; framesEncoded: number };
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

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyStats = Record<string, any>;

function codecOf(report: RTCStatsReport, s: AnyStats): string {
  const codec = s.codecId ? (report.get(s.codecId) as AnyStats | undefined) : undefined;
  const mime: string = codec?.mimeType ?? '';
  return mime.includes('/') ? mime.split('/')[1]! : mime;
}

export function subscriberStats(report: RTCStatsReport): SubscriberStats {
  const out: SubscriberStats = {
    audio: { bytesReceived: 0, packetsLost: 0, packetsReceived: 0, audioLevel: 0, codec: '' },
    video: {
      bytesReceived: 0,
      packetsLost: 0,
      packetsReceived: 0,
      frameRate: 0,
      decodedFrameRate: 0,
      width: 0,
      height: 0,
      codec: '',
      framesDecoded: 0,
      framesReceived: 0,
    },
    timestamp: Date.now(),
  };
  report.forEach((s: AnyStats) => {
    if (s.type !== 'inbound-rtp') return;
    if (s.kind === 'audio') {
      out.audio.bytesReceived += s.bytesReceived ?? 0;
      out.audio.packetsLost += s.packetsLost ?? 0;
      out.audio.packetsReceived += s.packetsReceived ?? 0;
      out.audio.audioLevel = s.audioLevel ?? out.audio.audioLevel;
      out.audio.codec = codecOf(report, s) || out.audio.codec;
    } else if (s.kind === 'video') {
      const v = out.video;
      v.bytesReceived += s.bytesReceived ?? 0;
      v.packetsLost += s.packetsLost ?? 0;
      v.packetsReceived += s.packetsReceived ?? 0;
      v.framesDecoded += s.framesDecoded ?? 0;
      v.framesReceived += s.framesReceived ?? 0;
      v.frameRate = s.framesPerSecond ?? v.frameRate;
      v.decodedFrameRate = s.framesPerSecond ?? v.decodedFrameRate;
      v.width = s.frameWidth ?? v.width;
      v.height = s.frameHeight ?? v.height;
      v.codec = codecOf(report, s) || v.codec;
    }
  });
  return out;
}

export function publisherStats(report: RTCStatsReport): PublisherStats {
  const out: PublisherStats = {
    audio: { bytesSent: 0, packetsLost: 0, packetsSent: 0 },
    video: { bytesSent: 0, packetsLost: 0, packetsSent: 0, frameRate: 0, width: 0, height: 0, codec: '', framesEncoded: 0 },
    timestamp: Date.now(),
  };
  report.forEach((s: AnyStats) => {
    if (s.type === 'outbound-rtp') {
      const t = s.kind === 'audio' ? out.audio : s.kind === 'video' ? out.video : undefined;
      if (!t) return;
      t.bytesSent += s.bytesSent ?? 0;
      t.packetsSent += s.packetsSent ?? 0;
      if (s.kind === 'video') {
        out.video.frameRate = s.framesPerSecond ?? out.video.frameRate;
        out.video.width = s.frameWidth ?? out.video.width;
        out.video.height = s.frameHeight ?? out.video.height;
        out.video.framesEncoded += s.framesEncoded ?? 0;
        out.video.codec = codecOf(report, s) || out.video.codec;
      }
    } else if (s.type === 'remote-inbound-rtp') {
      const t = s.kind === 'audio' ? out.audio : s.kind === 'video' ? out.video : undefined;
      if (t) t.packetsLost += s.packetsLost ?? 0;
    }
  });
  return out;
}

/** The audio level (0–1) of the first audio source or inbound stream in a report. */
export function audioLevelOf(report: RTCStatsReport, type: 'media-source' | 'inbound-rtp'): number | undefined {
  let level: number | undefined;
  report.forEach((s: AnyStats) => {
    if (level === undefined && s.type === type && s.kind === 'audio' && typeof s.audioLevel === 'number') level = s.audioLevel;
  });
  return level;
}
