/** A silent audio track, or undefined where Web Audio is missing. */
export declare function silentAudioTrack(): MediaStreamTrack | undefined;
/** A black 320×240 video track, or undefined where canvas capture is missing. */
export declare function blackVideoTrack(): MediaStreamTrack | undefined;
