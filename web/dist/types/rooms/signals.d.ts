import type { Message } from './types';
export declare const MESSAGE_SIGNAL = "telnyx-msg";
export interface MessageEnvelope {
    message: Message;
    recipients: string[] | null;
}
export declare function encodeMessage(message: Message, recipients: string[] | null): string;
export declare function decodeMessage(data: string): MessageEnvelope | undefined;
