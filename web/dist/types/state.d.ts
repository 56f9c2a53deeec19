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
    subscription: {
        status: 'none' | 'pending' | 'started' | 'ended';
        subscribers: number;
    } | null;
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
export declare function buildRoomState(input: {
    status: RoomStatus;
    sessionId: string;
    local: Connection | undefined;
    connections: Connection[];
    streams: StreamFacts[];
}): RoomState;
