import { OTError } from './errors';
import type { PublisherEventMap } from './event-types';
import { EventEmitter } from './events';
import { type CaptureOptions } from './media';
import type { Dimensions, Stream } from './model';
import type { Session } from './session';
import { type PublisherRtcStatsReportContainer, type PublisherStatContainer } from './stats';
import { type WidgetProperties, type WidgetStyle } from './widget';
export interface PublisherProperties extends WidgetProperties, CaptureOptions {
    /** The stream's name, shown to the others. */
    name?: string;
    publishAudio?: boolean;
    publishVideo?: boolean;
    /** Mirror the local preview (default: true for a camera, false for a screen). */
    mirror?: boolean;
    /** Target Opus bitrate, bits per second. */
    audioBitrate?: number;
    enableDtx?: boolean;
    enableStereo?: boolean;
    videoContentHint?: '' | 'motion' | 'detail' | 'text';
    /**
     * The video codecs to prefer, in order (`'vp8'`, `'h264'`; case-insensitive), or
     * `'automatic'` (the default: the browser's order, VP8 first in Chromium). A preference,
     * not a restriction: the others stay offered. Codecs Parlor's router does not forward
     * (VP9, AV1) are ignored.
     */
    preferredVideoCodecs?: 'automatic' | string[];
    /**
     * Send a camera's video in simulcast layers (OpenTok's property; default true): up to
     * three sizes by the capture size (two from 640×360, three from 960×540), of which the
     * router forwards each subscriber the one it prefers. Screens send one layer.
     */
    scalableVideo?: boolean;
    style?: WidgetStyle;
}
type Toggle = ((value: boolean) => Publisher) & {
    promise(value: boolean): Promise<void>;
};
export declare class Publisher extends EventEmitter<PublisherEventMap> {
    private readonly onException;
    readonly id: string;
    /** The element holding the video, or undefined with `insertDefaultUI: false` or once destroyed. */
    element: HTMLElement | undefined;
    /** The published stream, once the session has announced it. */
    stream: Stream | undefined;
    /** The session this publisher publishes to. */
    session: Session | undefined;
    /** Whether the user allowed camera/microphone access. */
    accessAllowed: boolean;
    /** Starts (true) or stops (false) publishing audio; `.promise(value)` waits for the server. */
    readonly publishAudio: Toggle;
    /** Starts (true) or stops (false) publishing video; `.promise(value)` waits for the server. */
    readonly publishVideo: Toggle;
    /** Unpublishes, stops the media and removes the element. */
    readonly destroy: (() => Publisher) & {
        promise(): Promise<void>;
    };
    private readonly props;
    private widget?;
    private captured?;
    /** Resolves once media is captured. */
    private readonly ready;
    private pc?;
    /** The simulcast layers sent to the router (empty: one layer). */
    private layers;
    /** Relayed sessions: one peer connection per subscription (its subscriber's connection). */
    private readonly peers;
    private streamId?;
    private readonly upstream;
    private announced?;
    private audioOn;
    private videoOn;
    private destroyed;
    private unpublishing;
    private style;
    private readonly levels;
    private meter?;
    private lastDimensions?;
    /** Tracks the app passed in (sources, setAudioSource/setVideoSource): never stopped here. */
    private readonly appTracks;
    /** The width of the captured video, in pixels. */
    videoWidth(): number | undefined;
    videoHeight(): number | undefined;
    /**
     * OpenTok.js-style stats: in a routed session one entry (the connection to the server); in a
     * relayed session one per subscriber, with its `connectionId` and `subscriberId`.
     */
    getStats(callback?: (error?: OTError, stats?: PublisherStatContainer[]) => void): Promise<PublisherStatContainer[]>;
    /** The browser's RTCStatsReport of each of the publisher's peer connections. */
    getRtcStatsReport(): Promise<PublisherRtcStatsReportContainer[]>;
    /** The current video frame as a base64 PNG (no `data:` prefix), or null. */
    getImgData(): string | null;
    getStyle(): WidgetStyle;
    setStyle(style: keyof WidgetStyle | WidgetStyle, value?: string): this;
    getVideoSource(): {
        deviceId: string | null;
        type: 'camera' | 'screen' | 'custom' | null;
        track: MediaStreamTrack | null;
    };
    getAudioSource(): MediaStreamTrack | null;
    /** Switches to the next camera. */
    cycleVideo(): Promise<{
        deviceId: string;
    }>;
    /**
     * Switches the camera to the device with this id, or the video to a track the app brings
     * (which stays the app's to stop).
     */
    setVideoSource(source: string | MediaStreamTrack): Promise<void>;
    /** Switches the microphone to a device id or a track. */
    setAudioSource(source: string | MediaStreamTrack): Promise<void>;
    /** Parlor does not use simulcast; accepted for compatibility. */
    setPreferredResolution(_resolution: Dimensions): Promise<void>;
    setPreferredFrameRate(_frameRate: number): Promise<void>;
    private negotiate;
    /** Relayed: the stream is registered and announced at once; media goes to each subscriber
     *  over its own peer connection, set up when its offer comes ({@link _onP2pSignal}). */
    private negotiateRelayed;
    /** Asks the server to publish (with the SDP offer, or none in a relayed session) and
     *  registers the stream it names. `neither`: announced with a track it turns off next. */
    private requestPublish;
    /** Waits for the server's `streamCreated` of our stream, then tells the app. */
    private awaitAnnounced;
    private answerSubscriber;
    /** The simulcast layers for the captured camera (none for a screen, with
     *  `scalableVideo: false`, or below 640×360). */
    private simulcastLayers;
    private acquire;
    private videoType;
    private dimensions;
    private setAudio;
    private setVideo;
    private sendProperty;
    private onResize;
    private onTrackEnded;
    private replaceTrack;
    private applyBitrate;
    private sampleLevel;
    /** The publisher's peer connections: the one to the server, or (relayed) one per subscriber. */
    private peerConnections;
    private reports;
    /** Undoes a failed publish attempt. */
    private abandon;
    private closePeer;
    private closeRelayedPeers;
    private stopTracks;
    private teardown;
}
/** A video element's current frame as base64 PNG. */
export declare function snapshot(video: HTMLVideoElement | undefined): string | null;
export {};
