// Room State in the style of Telnyx Video Rooms: one plain, serialisable snapshot of who is
// in the room and what they publish, re-issued (`stateChanged`) on every change.

import type { Connection, Dimensions, Stream } from './model';
import type { VideoType } from './protocol';

export type RoomStatus = 'initialized' | 'connecting' | 'connected' | 'disconnecting' | 'disconnected';

export interface ParticipantState {
  /** The connection id. */
  id: string;
  /** The connection data from the participant's token (Telnyx calls it context). */
  context: string;
  /** Same as `context`, under OpenTok's name. */
  data: string;
  isLocal: boolean;
  /** When the participant joined (ms since the epoch, server clock). */
  joinedAt: number;
  /** The participant's streams by key: `self` (camera), `presentation` (screen), `custom`. */
  streams: Record<string, string>;
}

export interface StreamState {
  id: string;
  /** `self`, `presentation` or `custom`; `self-2` etc. for further streams of one kind. */
  key: string;
  participantId: string;
  name: string;
  videoType: VideoType;
  audioActive: boolean;
  videoActive: boolean;
  videoDimensions: Dimensions | null;
  isRemote: boolean;
  /** Local streams: media is flowing to the server. */
  isPublishing: boolean;
  /** The audio level is above the speaking threshold (measured while anyone listens). */
  isSpeaking: boolean;
  /** Remote streams: this client's subscription to it. Null for local streams. */
  subscription: { status: 'none' | 'pending' | 'started' | 'ended'; subscribers: number } | null;
}

export interface RoomState {
  status: RoomStatus;
  sessionId: string;
  localParticipantId: string | null;
  participants: Record<string, ParticipantState>;
  streams: Record<string, StreamState>;
}

/** What the session knows about one stream, for the snapshot. */
export interface StreamFacts {
  stream: Stream;
  isRemote: boolean;
  isPublishing: boolean;
  isSpeaking: boolean;
  subscription: StreamState['subscription'];
}

const KEYS: Record<VideoType, string> = { camera: 'self', screen: 'presentation', custom: 'custom' };

export function buildRoomState(input: {
  status: RoomStatus;
  sessionId: string;
  local: Connection | undefined;
  connections: Connection[];
  streams: StreamFacts[];
}): RoomState {
  const participants: Record<string, ParticipantState> = {};
  const add = (c: Connection, isLocal: boolean) => {
    participants[c.connectionId] = {
      id: c.connectionId,
      context: c.data,
      data: c.data,
      isLocal,
      joinedAt: c.creationTime,
      streams: {},
    };
  };
  if (input.local) add(input.local, true);
  for (const c of input.connections) if (!participants[c.connectionId]) add(c, false);

  const streams: Record<string, StreamState> = {};
  const ordered = [...input.streams].sort((a, b) => a.stream.creationTime - b.stream.creationTime);
  for (const f of ordered) {
    const s = f.stream;
    const owner = participants[s.connection.connectionId];
    const base = KEYS[s.videoType];
    let key = base;
    for (let n = 2; owner && owner.streams[key]; n += 1) key = `${base}-${n}`;
    if (owner) owner.streams[key] = s.streamId;
    streams[s.streamId] = {
      id: s.streamId,
      key,
      participantId: s.connection.connectionId,
      name: s.name,
      videoType: s.videoType,
      audioActive: s.hasAudio,
      videoActive: s.hasVideo,
      videoDimensions: s.videoDimensions ? { ...s.videoDimensions } : null,
      isRemote: f.isRemote,
      isPublishing: f.isPublishing,
      isSpeaking: f.isSpeaking,
      subscription: f.subscription,
    };
  }
  return {
    status: input.status,
    sessionId: input.sessionId,
    localParticipantId: input.local?.connectionId ?? null,
    participants,
    streams,
  };
}
