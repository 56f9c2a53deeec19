// What a Room knows (participants, streams, subscriptions) and the State snapshot it makes of
// it: a new object, with new Maps, after every change; the same object until the next one.

import type { Stream as OTStream } from '../model';
import type { Publisher } from '../publisher';
import type { Subscriber } from '../subscriber';
import type { Participant, RoomStatus, State, Stream, SubscriptionConfig } from './types';

export interface ParticipantRecord {
  id: string;
  context: string;
  origin: 'local' | 'remote';
}

/** One of this client's streams (addStream). */
export interface LocalStreamRecord {
  key: string;
  /** `local:<key>` until published, then Parlor's stream id. */
  id: string;
  publisher: Publisher;
  /** The app's tracks (undefined: none; a placeholder is sent, turned off). */
  audioTrack?: MediaStreamTrack;
  videoTrack?: MediaStreamTrack;
  /** Silent audio / black video sent in place of a missing track (stopped with the stream). */
  placeholders: { audio?: MediaStreamTrack; video?: MediaStreamTrack };
  isConfigured: boolean;
  /** The audio is censored: by the app server (REST mute), or muted by an OpenTok-face moderator. */
  audioCensored: boolean;
  /** Censored by the app server: the server refuses to turn the audio on until it uncensors it. */
  censoredByServer: boolean;
  /** The published stream, once announced. */
  stream?: OTStream;
  /** Set once removeStream was called or the stream ended. */
  removed: boolean;
}

/** Another participant's stream. */
export interface RemoteStreamRecord {
  stream: OTStream;
  key: string;
  participantId: string;
  /** The app server censored its audio (`audioCensored`). */
  audioCensored: boolean;
}

/** This client's subscription to a remote stream. */
export interface SubscriptionRecord {
  participantId: string;
  key: string;
  streamId: string;
  config: SubscriptionConfig;
  subscriber?: Subscriber;
  mediaStream?: MediaStream;
  started: boolean;
  quality: { audio?: number; video?: number };
}

export interface RoomModel {
  status: RoomStatus;
  localParticipantId: string;
  localContext: string;
  enableMessages: boolean;
  participants: Map<string, ParticipantRecord>;
  localStreams: Map<string, LocalStreamRecord>;
  remoteStreams: Map<string, RemoteStreamRecord>;
  subscriptions: Map<string, SubscriptionRecord>;
}

export function subscriptionKey(participantId: string, key: string): string {
  return `${participantId}\u0000${key}`;
}

export function localStreamState(r: LocalStreamRecord, participantId: string): Stream {
  return {
    id: r.id,
    key: r.key,
    participantId,
    isAudioEnabled: !!r.audioTrack && !r.audioCensored,
    isVideoEnabled: !!r.videoTrack,
    isAudioCensored: r.audioCensored,
    isVideoCensored: false,
    audioTrack: r.audioTrack,
    videoTrack: r.videoTrack,
    isConfigured: r.isConfigured,
  };
}

export function remoteStreamState(r: RemoteStreamRecord, sub: SubscriptionRecord | undefined): Stream {
  const media = sub?.mediaStream;
  return {
    id: r.stream.streamId,
    key: r.key,
    participantId: r.participantId,
    isAudioEnabled: r.stream.hasAudio && !r.audioCensored,
    isVideoEnabled: r.stream.hasVideo,
    isAudioCensored: r.audioCensored,
    isVideoCensored: false,
    audioTrack: media?.getAudioTracks()[0],
    videoTrack: media?.getVideoTracks()[0],
    isConfigured: true,
  };
}

export function buildState(m: RoomModel): State {
  const participants = new Map<string, Participant>();
  for (const p of m.participants.values()) {
    participants.set(p.id, {
      id: p.id,
      context: p.context,
      streams: {},
      canReceiveMessages: p.origin === 'local' ? m.enableMessages : true,
      origin: p.origin,
    });
  }
  const streams = new Map<string, Stream>();
  const local = participants.get(m.localParticipantId);
  for (const r of m.localStreams.values()) {
    const s = localStreamState(r, m.localParticipantId);
    streams.set(s.id, s);
    if (local) local.streams[r.key] = s.id;
  }
  for (const r of m.remoteStreams.values()) {
    const s = remoteStreamState(r, m.subscriptions.get(subscriptionKey(r.participantId, r.key)));
    streams.set(s.id, s);
    const owner = participants.get(r.participantId);
    if (owner) owner.streams[r.key] = s.id;
  }
  const subscriptions = new Map<string, Map<string, SubscriptionConfig>>();
  for (const sub of m.subscriptions.values()) {
    let byKey = subscriptions.get(sub.participantId);
    if (!byKey) subscriptions.set(sub.participantId, (byKey = new Map()));
    byKey.set(sub.key, { ...sub.config });
  }
  return {
    status: m.status,
    localParticipantId: m.localParticipantId,
    participants,
    streams,
    subscriptions,
  };
}
