import { OTError } from './errors';
import type { OTEventMap } from './event-types';
import { Event, EventEmitter } from './events';
import { type Device, type ScreenSharingCapabilityResponse, type CaptureOptions } from './media';
import { Connection, Stream } from './model';
import { Publisher, type PublisherProperties } from './publisher';
import { Session, type SessionOptions } from './session';
import { Subscriber } from './subscriber';
import { type Callback } from './util';
import { VERSION } from './version';
export { VERSION };
/** Sets the server used when `initSession` gets no `serverUrl` (done by the bundles at load). */
export declare function setDefaultServerUrl(url: string | undefined): void;
type InitPublisher = {
    (target?: HTMLElement | string | PublisherProperties | Callback | null, properties?: PublisherProperties | Callback, callback?: Callback): Publisher;
    promise(target?: HTMLElement | string | PublisherProperties | null, properties?: PublisherProperties): Promise<Publisher>;
};
declare class OTNamespace extends EventEmitter<OTEventMap> {
    readonly version = "0.1.0";
    readonly properties: {
        version: string;
    };
    readonly ExceptionCodes: {
        readonly JS_EXCEPTION: 2000;
        readonly AUTHENTICATION_ERROR: 1004;
        readonly INVALID_SESSION_ID: 1005;
        readonly CONNECT_FAILED: 1006;
        readonly CONNECT_REJECTED: 1007;
        readonly CONNECTION_TIMEOUT: 1008;
        readonly NOT_CONNECTED: 1010;
        readonly INVALID_PARAMETER: 1011;
        readonly P2P_CONNECTION_FAILED: 1013;
        readonly API_RESPONSE_FAILURE: 1014;
        readonly PEER_CONNECTION_NOT_CONNECTED: 1015;
        readonly TERMS_OF_SERVICE_FAILURE: 1026;
        readonly CONNECTION_LIMIT_EXCEEDED: 1027;
        readonly UNABLE_TO_PUBLISH: 1500;
        readonly UNABLE_TO_SUBSCRIBE: 1501;
        readonly UNSUPPORTED_VIDEO_CODEC: 1502;
        readonly UNABLE_TO_FORCE_DISCONNECT: 1520;
        readonly UNABLE_TO_FORCE_UNPUBLISH: 1530;
        readonly UNABLE_TO_FORCE_MUTE: 1540;
        readonly PUBLISHER_ICE_WORKFLOW_FAILED: 1553;
        readonly SUBSCRIBER_ICE_WORKFLOW_FAILED: 1554;
        readonly STREAM_LIMIT_EXCEEDED: 1605;
        readonly UNEXPECTED_SERVER_RESPONSE: 2001;
        readonly GET_RTC_STATS_REPORT_NOT_SUPPORTED: 2031;
    };
    readonly NONE: 0;
    readonly ERROR: 1;
    readonly WARN: 2;
    readonly INFO: 3;
    readonly LOG: 4;
    readonly DEBUG: 5;
    readonly Session: typeof Session;
    readonly Publisher: typeof Publisher;
    readonly Subscriber: typeof Subscriber;
    readonly Stream: typeof Stream;
    readonly Connection: typeof Connection;
    readonly Event: typeof Event;
    readonly Error: typeof OTError;
    /** Creates a Publisher: captures media (callback `(error)` when done) and shows it in `target`. */
    readonly initPublisher: InitPublisher;
    constructor();
    /**
     * A Session object for `sessionId`; `options.serverUrl` picks the Parlor server,
     * `options.iceConfig` the TURN servers and transport policy (throws OT_INVALID_PARAMETER
     * when it is malformed).
     */
    initSession(apiKey: string, sessionId: string, options?: SessionOptions): Session;
    /** 1 if this browser can use Parlor (WebRTC and WebSocket), else 0. */
    checkSystemRequirements(): 0 | 1;
    upgradeSystemRequirements(): void;
    /** Calls back (no error argument, as OpenTok.js) with whether screen sharing works here. */
    checkScreenSharingCapability(callback?: (response: ScreenSharingCapabilityResponse) => void): Promise<ScreenSharingCapabilityResponse>;
    /** The audio and video input devices (labels need a granted permission). */
    getDevices(callback?: (error?: OTError, devices?: Device[]) => void): Promise<Device[]>;
    getAudioOutputDevices(): Promise<Array<{
        deviceId: string | null;
        label: string | null;
    }>>;
    private audioOutput;
    /** Plays every subscriber through this output device (where the browser supports it). */
    setAudioOutputDevice(deviceId: string): Promise<void>;
    getActiveAudioOutputDevice(): Promise<{
        deviceId: string | null;
        label: string | null;
    }>;
    /** A MediaStream from the camera/microphone/screen, with the Publisher's source options. */
    getUserMedia(options?: CaptureOptions): Promise<MediaStream>;
    /** The video codecs this browser can send and receive that Parlor's router forwards. */
    getSupportedCodecs(): Promise<{
        videoEncoders: string[];
        videoDecoders: string[];
    }>;
    /** Starts audio the browser's autoplay policy blocked; call it from a click handler. */
    unblockAudio(): Promise<void>;
    setLogLevel(level: number): void;
    getLogLevel(): number;
    log(...args: unknown[]): void;
}
export type OT = OTNamespace;
/** The OT namespace (OpenTok.js's global), also exported as `Parlor`. */
export declare const OT: OTNamespace;
