// The OT namespace: OpenTok.js's global API (OT.initSession, OT.initPublisher, …), over
// Parlor. `Parlor` is the same object.

import { ExceptionCodes, OTError, asOTError } from './errors';
import type { OTEventMap } from './event-types';
import { Event, EventEmitter, makeEvent } from './events';
import { LogLevel, logger } from './log';
import { type Device, type ScreenSharingCapabilityResponse, capture, listAudioOutputs, listDevices, screenSharingCapability, type CaptureOptions } from './media';
import { Connection, Stream } from './model';
import { Publisher, type PublisherProperties } from './publisher';
import { Session, type SessionOptions } from './session';
import { Subscriber, liveSubscribers } from './subscriber';
import { type Callback, complete, isElement } from './util';

import { VERSION } from './version';

export { VERSION };

let defaultServer: string | undefined;

/** Sets the server used when `initSession` gets no `serverUrl` (done by the bundles at load). */
export function setDefaultServerUrl(url: string | undefined): void {
  defaultServer = url;
}

function defaultServerUrl(): string {
  if (defaultServer) return defaultServer;
  if (typeof location !== 'undefined' && /^https?:$/.test(location.protocol)) return location.origin;
  throw new OTError('OT_INVALID_PARAMETER', 'no Parlor server known: pass { serverUrl } to OT.initSession', ExceptionCodes.INVALID_PARAMETER);
}

type InitPublisher = {
  (target?: HTMLElement | string | PublisherProperties | Callback | null, properties?: PublisherProperties | Callback, callback?: Callback): Publisher;
  promise(target?: HTMLElement | string | PublisherProperties | null, properties?: PublisherProperties): Promise<Publisher>;
};

class OTNamespace extends EventEmitter<OTEventMap> {
  readonly version = VERSION;
  readonly properties = { version: VERSION };
  readonly ExceptionCodes = ExceptionCodes;
  readonly NONE = LogLevel.NONE;
  readonly ERROR = LogLevel.ERROR;
  readonly WARN = LogLevel.WARN;
  readonly INFO = LogLevel.INFO;
  readonly LOG = LogLevel.LOG;
  readonly DEBUG = LogLevel.DEBUG;

  readonly Session = Session;
  readonly Publisher = Publisher;
  readonly Subscriber = Subscriber;
  readonly Stream = Stream;
  readonly Connection = Connection;
  readonly Event = Event;
  readonly Error = OTError;

  /** Creates a Publisher: captures media (callback `(error)` when done) and shows it in `target`. */
  readonly initPublisher: InitPublisher;

  constructor() {
    super();
    const init = (
      target?: HTMLElement | string | PublisherProperties | Callback | null,
      properties?: PublisherProperties | Callback,
      callback?: Callback,
    ) => {
      const a = publisherArgs(target, properties, callback);
      return new Publisher(a.target, a.properties, a.callback, (e, t) => this.exception(e, t));
    };
    this.initPublisher = Object.assign(init, {
      promise: (target?: HTMLElement | string | PublisherProperties | null, properties?: PublisherProperties) =>
        new Promise<Publisher>((resolve, reject) => {
          const publisher: Publisher = init(target, properties, (error) => (error ? reject(error) : resolve(publisher)));
        }),
    });
  }

  /**
   * A Session object for `sessionId`; `options.serverUrl` picks the Parlor server,
   * `options.iceConfig` the TURN servers and transport policy (throws OT_INVALID_PARAMETER
   * when it is malformed).
   */
  initSession(apiKey: string, sessionId: string, options?: SessionOptions): Session {
    return new Session(apiKey, sessionId, options, {
      defaultServerUrl,
      exception: (e, t) => this.exception(e, t),
      initPublisher: (target, props, cb) => this.initPublisher(target, props, cb),
    });
  }

  /** 1 if this browser can use Parlor (WebRTC and WebSocket), else 0. */
  checkSystemRequirements(): 0 | 1 {
    const ok =
      typeof RTCPeerConnection !== 'undefined' && typeof WebSocket !== 'undefined' && typeof navigator !== 'undefined' && !!navigator.mediaDevices;
    return ok ? 1 : 0;
  }

  upgradeSystemRequirements(): void {}

  /** Calls back (no error argument, as OpenTok.js) with whether screen sharing works here. */
  checkScreenSharingCapability(callback?: (response: ScreenSharingCapabilityResponse) => void): Promise<ScreenSharingCapabilityResponse> {
    const response = screenSharingCapability();
    if (callback) callback(response);
    return Promise.resolve(response);
  }

  /** The audio and video input devices (labels need a granted permission). */
  getDevices(callback?: (error?: OTError, devices?: Device[]) => void): Promise<Device[]> {
    const work = listDevices().catch((e) => {
      throw asOTError(e, 'OT_NOT_SUPPORTED', ExceptionCodes.INVALID_PARAMETER);
    });
    return complete(work, callback);
  }

  getAudioOutputDevices(): Promise<Array<{ deviceId: string | null; label: string | null }>> {
    return listAudioOutputs();
  }

  private audioOutput: string | undefined;

  /** Plays every subscriber through this output device (where the browser supports it). */
  async setAudioOutputDevice(deviceId: string): Promise<void> {
    this.audioOutput = deviceId;
    await Promise.all(liveSubscribers().map((s) => s._setSinkId(deviceId)));
  }

  async getActiveAudioOutputDevice(): Promise<{ deviceId: string | null; label: string | null }> {
    const outputs = await listAudioOutputs();
    return outputs.find((o) => o.deviceId === (this.audioOutput ?? 'default')) ?? { deviceId: this.audioOutput ?? null, label: null };
  }

  /** A MediaStream from the camera/microphone/screen, with the Publisher's source options. */
  async getUserMedia(options?: CaptureOptions): Promise<MediaStream> {
    return (await capture(options ?? {})).stream;
  }

  /** The video codecs this browser can send and receive that Parlor's router forwards. */
  async getSupportedCodecs(): Promise<{ videoEncoders: string[]; videoDecoders: string[] }> {
    const names = (caps: RTCRtpCapabilities | null) =>
      [...new Set((caps?.codecs ?? []).map((c) => c.mimeType.split('/')[1]!.toUpperCase()))].filter((n) => n === 'VP8' || n === 'H264');
    return {
      videoEncoders: names(RTCRtpSender.getCapabilities?.('video') ?? null),
      videoDecoders: names(RTCRtpReceiver.getCapabilities?.('video') ?? null),
    };
  }

  /** Starts audio the browser's autoplay policy blocked; call it from a click handler. */
  async unblockAudio(): Promise<void> {
    await Promise.all(liveSubscribers().map((s) => s._unblockAudio()));
  }

  setLogLevel(level: number): void {
    logger.setLevel(level);
  }

  getLogLevel(): number {
    return logger.getLevel();
  }

  log(...args: unknown[]): void {
    logger.log(...args);
  }

  /** @internal Dispatches OT's `exception` event. */
  exception(error: OTError, target: unknown): void {
    logger.warn(`${error.name} (${error.code}): ${error.message}`);
    this.dispatchEvent(makeEvent('exception', this, { code: error.code, message: error.message, title: error.name, name: error.name, target }));
  }
}

function publisherArgs(
  target: HTMLElement | string | PublisherProperties | Callback | null | undefined,
  properties: PublisherProperties | Callback | undefined,
  callback: Callback | undefined,
): { target?: HTMLElement | string | null; properties?: PublisherProperties; callback?: Callback } {
  if (typeof target === 'function') return { callback: target };
  if (target && typeof target === 'object' && !isElement(target)) {
    return { properties: target as PublisherProperties, callback: typeof properties === 'function' ? properties : callback };
  }
  if (typeof properties === 'function') return { target, callback: properties };
  return { target, properties, callback };
}

export type OT = OTNamespace;

/** The OT namespace (OpenTok.js's global), also exported as `Parlor`. */
export const OT: OTNamespace = new OTNamespace();
