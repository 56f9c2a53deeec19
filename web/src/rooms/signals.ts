// The Telnyx-style face's conventions over Parlor's signals (docs: web/README.md,
// "Telnyx-style API"). Both are ordinary `signal`s, so OpenTok-face apps in the same session
// see them as `signal:telnyx-msg` / `signal:telnyx-track` events.
//
// telnyx-msg    a message (`sendMessage`): data `{"message":{type,payload,meta?},
//               "recipients":[ids]|null}`; to everyone, or one signal to each recipient.
// telnyx-track  sent by a participant just before it turns its own audio off
//               (`setStreamProperty` hasAudio false): data `{"streamId","kind":"audio",
//               "enabled":false}`. It tells the others that the `streamPropertyChanged`
//               that follows is the participant's own doing (`track_disabled`), not a
//               moderator's mute (`track_censored`), which the wire does not tell apart.

import type { Message } from './types';

export const MESSAGE_SIGNAL = 'telnyx-msg';
export const TRACK_SIGNAL = 'telnyx-track';

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

export interface TrackNotice {
  streamId: string;
  kind: 'audio';
  enabled: false;
}

export function encodeTrackNotice(streamId: string): string {
  return JSON.stringify({ streamId, kind: 'audio', enabled: false });
}

export function decodeTrackNotice(data: string): TrackNotice | undefined {
  try {
    const v = JSON.parse(data) as Partial<TrackNotice>;
    if (typeof v?.streamId === 'string' && v.kind === 'audio' && v.enabled === false) return v as TrackNotice;
  } catch {
    /* fall through */
  }
  return undefined;
}
