export type SourceOption = string | boolean | null | MediaStreamTrack | undefined;
export interface CaptureOptions {
    audioSource?: SourceOption;
    videoSource?: SourceOption;
    /** `'WIDTHxHEIGHT'`, e.g. `'1280x720'`, `'640x480'`, `'320x240'`. */
    resolution?: string;
    frameRate?: number;
    maxResolution?: {
        width: number;
        height: number;
    };
    facingMode?: 'user' | 'environment' | 'left' | 'right';
    echoCancellation?: boolean;
    noiseSuppression?: boolean;
    autoGainControl?: boolean;
    disableAudioProcessing?: boolean;
}
export declare function isScreenSource(v: SourceOption): boolean;
export interface Captured {
    stream: MediaStream;
    audioTrack?: MediaStreamTrack;
    videoTrack?: MediaStreamTrack;
    screen: boolean;
}
/**
 * Captures what the options ask for: tracks passed in are used as they are, a screen source
 * goes through getDisplayMedia, devices through getUserMedia.
 */
export declare function capture(o: CaptureOptions): Promise<Captured>;
export interface Device {
    kind: 'audioInput' | 'videoInput';
    deviceId: string;
    label: string;
}
export interface AudioOutputDevice {
    deviceId: string | null;
    label: string | null;
}
export declare function listDevices(): Promise<Device[]>;
export declare function listAudioOutputs(): Promise<AudioOutputDevice[]>;
export interface ScreenSharingCapabilityResponse {
    supported: boolean;
    supportedSources: {
        screen: boolean;
        window: boolean;
        application: boolean;
        browser: boolean;
    };
    extensionRequired?: string;
    extensionInstalled?: boolean;
    extensionRegistered?: boolean;
}
export declare function screenSharingCapability(): ScreenSharingCapabilityResponse;
