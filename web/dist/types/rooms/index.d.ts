import { VERSION } from '../version';
import { type Room } from './room';
import type { InitializeOptions } from './types';
export { VERSION };
export { Room, disconnectReason } from './room';
export { MESSAGE_SIGNAL } from './signals';
export type { DisconnectReason, EventName, Events, InitializeOptions, LogLevel, Message, NetworkMetrics, Participant, RoomStatus, State, Stream, StreamOptions, SubscriptionConfig, TrackKind, TrackOption, WebRTCStats, } from './types';
/**
 * A Room for `roomId`, to join with `room.connect()`. `clientToken` is a join token from the
 * app server (`generate_join_client_token`); `context` is what the others see of this
 * participant; `serverUrl` (Parlor) picks the server, by default the one the SDK came from.
 */
export declare function initialize(options: InitializeOptions): Promise<Room>;
