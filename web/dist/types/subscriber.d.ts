import { OTError } from './errors';
import type { SubscriberEventMap } from './event-types';
import { EventEmitter } from './events';
import type { Dimensions, Stream } from './model';
import type { Session } from './session';
import { type SubscriberStats } from './stats';
import { type WidgetProperties, type WidgetStyle } from './widget';
export interface SubscriberProperties extends WidgetProperties {
    subscribeToAudio?: boolean;
    subscribeToVideo?: boolean;
    /** Playback volume, 0–100 (default 100). */
    audioVolume?: number;
    /**
     * The video size to receive of a simulcast stream: the router forwards the smallest
     * layer that covers it. `'auto'`: the size this subscriber's element is shown at (times
     * the device pixel ratio), followed as it changes. Default: the largest layer.
     */
    preferredResolution?: 'auto' | Dimensions;
    /** The frame rate to receive of a simulcast stream: a layer at most this fast. */
    preferredFrameRate?: number;
    style?: WidgetStyle & {
        audioBlockedDisplayMode?: 'auto' | 'on' | 'off';
    };
    /**
     * A pre-call network test's subscriber (what `opentok-network-test-js` sets). Parlor
     * always routes, so the media path is the same; the Inspector shows its numbers as the
     * session's pre-call test.
     */
    testNetwork?: boolean;
}
export type SubscriptionStatus = 'pending' | 'started' | 'ended';
type Toggle = ((value: boolean) => Subscriber) & {
    promise(value: boolean): Promise<void>;
};
export declare class Subscriber extends EventEmitter<SubscriberEventMap> {
    readonly id: string;
    /** The element holding the video, or undefined with `insertDefaultUI: false` or once destroyed. */
    element: HTMLElement | undefined;
    readonly stream: Stream;
    readonly session: Session;
    /** Starts or stops receiving the stream's audio. */
    readonly subscribeToAudio: Toggle;
    /** Starts or stops receiving the stream's video. */
    readonly subscribeToVideo: Toggle;
    /** Sets the playback volume, 0–100. */
    readonly setAudioVolume: ((value: number) => Subscriber) & {
        promise(value: number): Promise<void>;
    };
    private readonly props;
    private widget?;
    private pc?;
    /** Relayed sessions: the signaling of the peer connection to the stream's publisher. */
    private link?;
    private subscriptionId?;
    private readonly upstream;
    private connected?;
    private mediaStream;
    private audioOn;
    private videoOn;
    /** The router turned this subscription's video off: its downlink is too narrow (`videoQuality`). */
    private qualityOff;
    private volume;
    private destroyed;
    private audioBlocked;
    private resubscribes;
    private lastDimensions?;
    /** `preferredResolution: 'auto'`: watches the element's size. */
    private sizeWatch?;
    /** The last scores the server sent (qualityScoreChanged). */
    private qualityScore;
    private readonly levels;
    getAudioVolume(): number;
    isAudioBlocked(): boolean;
    /** The width of the received video, in pixels. */
    videoWidth(): number | undefined;
    videoHeight(): number | undefined;
    /** OpenTok.js-style stats: `{audio, video, timestamp}` with bytes, packets and frame rate. */
    getStats(callback?: (error?: OTError, stats?: SubscriberStats) => void): Promise<SubscriberStats>;
    /** The browser's RTCStatsReport for this subscription's peer connection. */
    getRtcStatsReport(): Promise<RTCStatsReport>;
    getImgData(): string | null;
    getStyle(): WidgetStyle;
    setStyle(style: keyof WidgetStyle | WidgetStyle, value?: string): this;
    /**
     * Sets the video size to receive (see `preferredResolution`); `null` clears it. Of a
     * simulcast stream the router switches to the smallest layer that covers it, on that
     * layer's next keyframe.
     */
    setPreferredResolution(resolution: Dimensions | 'auto' | null): Promise<void>;
    /** Sets the frame rate to receive (see `preferredFrameRate`); `null` clears it. */
    setPreferredFrameRate(frameRate: number | null): Promise<void>;
    private connect;
    /** The size to ask for: the preferred one, or (`'auto'`) the element's on screen. */
    private wantedResolution;
    /** Tells the server the preferences (routed sessions; a relayed stream has one layer). */
    private sendPreferences;
    /** `'auto'`: follows the element's size (debounced); otherwise stops following it. */
    private watchSize;
    private stopWatchingSize;
    private onTrack;
    private play;
    private onResize;
    private setAudio;
    private setVideo;
    /** Relayed: the publisher keeps sending; what is not wanted is not played. */
    private applyRelayedVideo;
    private sendSubscription;
    private applyVolume;
    private report;
    private closePeer;
}
export {};
