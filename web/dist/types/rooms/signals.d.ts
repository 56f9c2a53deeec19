import type { Message } from './types';
export declare const MESSAGE_SIGNAL = "telnyx-msg";
export declare const TRACK_SIGNAL = "telnyx-track";
export interface MessageEnvelope {
    message: Message;
    recipients: string[] | null;
}
export declare function encodeMessage(message: Message, recipients: string[] | null): string;
export declare function decodeMessage(data: string): MessageEnvelope | undefined;
export interface TrackNotice {
    streamId: string;
    kind: 'audio';
    enabled: false;
}
export declare function encodeTrackNotice(streamId: string): string;
export declare function decodeTrackNotice(data: string): TrackNotice | undefined;
