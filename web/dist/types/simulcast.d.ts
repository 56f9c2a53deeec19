/** One layer as the publisher encodes it, and as `publish.simulcast` describes it. */
export interface Layer {
    rid: string;
    scaleResolutionDownBy: number;
    maxBitrate: number;
    maxFramerate?: number;
    width: number;
    height: number;
    /** The frames a second it runs at, when known (its cap, or the capture's rate). */
    frameRate?: number;
}
/**
 * The layers for a camera capturing `width`×`height` at `frameRate`, as libwebrtc allows
 * them (its simulcast table): three from 960×540 up (a quarter, half and full size), two
 * from 640×360 (half and full), else one — no simulcast (an empty list). The lowest layer
 * of several runs at up to 15 frames a second; bitrates follow the size.
 */
export declare function cameraLayers(width: number, height: number, frameRate?: number): Layer[];
/** The `sendEncodings` of a transceiver sending `layers`. */
export declare function sendEncodings(layers: Layer[]): RTCRtpEncodingParameters[];
/**
 * Turns a sender's encodings on or off as the server asks (`layersNeeded`): its lowest
 * `needed` layers on, the rest paused. The lowest stays on even when none is needed, so a
 * new subscriber starts at once. Whether anything changed.
 */
export declare function applyNeeded(encodings: RTCRtpEncodingParameters[], needed: number): boolean;
