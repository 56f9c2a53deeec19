export type Sampler = () => Promise<number | undefined>;
export declare class LevelMonitor {
    private readonly sample;
    private readonly active;
    private readonly onLevel;
    private readonly onSpeaking;
    private timer?;
    private busy;
    private lastLoud;
    speaking: boolean;
    constructor(sample: Sampler, active: () => boolean, onLevel: (level: number) => void, onSpeaking: (speaking: boolean) => void);
    start(): void;
    stop(): void;
    private tick;
}
/** The peak level (0–1) of a local track, through Web Audio. */
export declare class LocalAudioMeter {
    private readonly track;
    private ctx?;
    private analyser?;
    private buf?;
    constructor(track: MediaStreamTrack);
    level(): number | undefined;
    close(): void;
}
