// @parlor/client — the ES module. Imported from a Parlor server (`/sdk/parlor.mjs`) it talks
// to that server; bundled into an app, pass `{ serverUrl }` to OT.initSession (or to
// Video.initialize, the Telnyx-style face).

import { OT, setDefaultServerUrl } from './ot';
import { serverUrlFromScript } from './util';

setDefaultServerUrl(serverUrlFromScript(import.meta.url));

export { OT, OT as Parlor, VERSION, setDefaultServerUrl } from './ot';
export { Session } from './session';
export type { Capabilities, IceConfig, IceServer, SessionOptions, SignalOptions } from './session';
export { Publisher } from './publisher';
export type { PublisherProperties } from './publisher';
export { Subscriber } from './subscriber';
export type { SubscriberProperties, SubscriptionStatus } from './subscriber';
export { Connection, Stream, Collection } from './model';
export type { Dimensions } from './model';
export { Event, EventEmitter } from './events';
export type {
  SessionEventMap,
  PublisherEventMap,
  SubscriberEventMap,
  OTEventMap,
  SignalEvent,
  SessionEvent,
  PublisherEvent,
  SubscriberEvent,
  QualityScore,
} from './event-types';
export { OTError, ExceptionCodes } from './errors';
export type { OTErrorName } from './errors';
export type { RoomState, RoomStatus, ParticipantState, StreamState } from './state';
export type { Device, ScreenSharingCapabilityResponse, CaptureOptions } from './media';
export type {
  SubscriberStats,
  PublisherStats,
  PublisherStatContainer,
  PublisherRtcStatsReportContainer,
} from './stats';
export type { InsertMode, WidgetProperties, WidgetStyle } from './widget';
export type { VideoType } from './protocol';
/** The Telnyx-style face (`@telnyx/video`'s API): `Video.initialize({ roomId, clientToken })`. */
export * as Video from './rooms/index';

export default OT;
