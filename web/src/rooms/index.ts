// The Telnyx-style face of the SDK: `@telnyx/video`'s programming model (initialize → Room,
// addStream / addSubscription, events with the State) over a Parlor server's Rooms. The ES
// module exports it as `Video` (`import { Video } from '@parlor/client'`); the classic
// script defines it as the global `ParlorVideo`. See web/README.md, "Telnyx-style API".

import { LogLevel, logger } from '../log';
import { VERSION } from '../version';
import { type Room, createRoom } from './room';
import type { InitializeOptions, LogLevel as RoomLogLevel } from './types';

export { VERSION };
export { Room, disconnectReason } from './room';
export { MESSAGE_SIGNAL } from './signals';
export type {
  DisconnectReason,
  EventName,
  Events,
  InitializeOptions,
  LogLevel,
  Message,
  NetworkMetrics,
  Participant,
  RoomStatus,
  State,
  Stream,
  StreamOptions,
  SubscriptionConfig,
  TrackKind,
  TrackOption,
  WebRTCStats,
} from './types';

const LEVELS: Record<RoomLogLevel, number> = {
  DEBUG: LogLevel.DEBUG,
  INFO: LogLevel.INFO,
  WARN: LogLevel.WARN,
  ERROR: LogLevel.ERROR,
  NONE: LogLevel.NONE,
};

/**
 * A Room for `roomId`, to join with `room.connect()`. `clientToken` is a join token from the
 * app server (`generate_join_client_token`); `context` is what the others see of this
 * participant; `serverUrl` (Parlor) picks the server, by default the one the SDK came from.
 */
export async function initialize(options: InitializeOptions): Promise<Room> {
  const room = createRoom(options);
  if (options.logLevel && options.logLevel in LEVELS) logger.setLevel(LEVELS[options.logLevel]);
  return room;
}
