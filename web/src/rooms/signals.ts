// The Telnyx-style face's messages over Parlor's signals (docs: web/README.md,
// "Telnyx-style API"). They are ordinary `signal`s, so OpenTok-face apps in the same session
// see them as `signal:telnyx-msg` events.
//
// telnyx-msg    a message (`sendMessage`): data `{"message":{type,payload,meta?},
//               "recipients":[ids]|null}`; to everyone, or one signal to each recipient.

import type { Message } from './types';

export const MESSAGE_SIGNAL = 'telnyx-msg';

export interface MessageEnvelope {
  message: Message;
  recipients: string[] | null;
}

export function encodeMessage(message: Message, recipients: string[] | null): string {
  const m: Message = { type: message.type, payload: message.payload };
  if (message.meta !== undefined) m.meta = message.meta;
  return JSON.stringify({ message: m, recipients });
}

export function decodeMessage(data: string): MessageEnvelope | undefined {
  try {
    const v = JSON.parse(data) as { message?: Partial<Message>; recipients?: unknown };
    const m = v?.message;
    if (!m || typeof m !== 'object' || typeof m.type !== 'string' || typeof m.payload !== 'string') return undefined;
    const recipients = Array.isArray(v.recipients) ? v.recipients.filter((r): r is string => typeof r === 'string') : null;
    const message: Message = { type: m.type as Message['type'], payload: m.payload };
    if (m.meta !== undefined) message.meta = m.meta;
    return { message, recipients };
  } catch {
    return undefined;
  }
}
