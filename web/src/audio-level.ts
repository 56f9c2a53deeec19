// audioLevelUpdated: a sampler polled ten times a second while anyone listens (an
// audioLevelUpdated handler, or the Room State's isSpeaking via stateChanged).

const INTERVAL_MS = 100;
/** Above this level a participant counts as speaking; it must stay below for HOLD_MS to stop. */
const SPEAKING_LEVEL = 0.05;
const HOLD_MS = 600;

export type Sampler = () => Promise<number | undefined>;

export class LevelMonitor {
  private timer?: ReturnType<typeof setInterval>;
  private busy = false;
  private lastLoud = 0;
  speaking = false;

  constructor(
    private readonly sample: Sampler,
    private readonly active: () => boolean,
    private readonly onLevel: (level: number) => void,
    private readonly onSpeaking: (speaking: boolean) => void,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), INTERVAL_MS);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async tick() {
    if (this.busy || !this.active()) return;
    this.busy = true;
    try {
      const level = await this.sample();
      if (level === undefined) return;
      this.onLevel(level);
      const now = Date.now();
      if (level >= SPEAKING_LEVEL) this.lastLoud = now;
      const speaking = now - this.lastLoud < HOLD_MS;
      if (speaking !== this.speaking) {
        this.speaking = speaking;
        this.onSpeaking(speaking);
      }
    } catch {
      /* a closed peer connection or audio context: no level this time */
    } finally {
      this.busy = false;
    }
  }
}

/** The peak level (0–1) of a local track, through Web Audio. */
export class LocalAudioMeter {
  private ctx?: AudioContext;
  private analyser?: AnalyserNode;
  private buf?: Float32Array<ArrayBuffer>;

  constructor(private readonly track: MediaStreamTrack) {}

  level(): number | undefined {
    if (!this.ctx) {
      if (typeof AudioContext === 'undefined') return undefined;
      this.ctx = new AudioContext();
      const source = this.ctx.createMediaStreamSource(new MediaStream([this.track]));
      this.analyser = this.ctx.createAnalyser();
      this.analyser.fftSize = 512;
      this.buf = new Float32Array(this.analyser.fftSize);
      source.connect(this.analyser);
      void this.ctx.resume().catch(() => undefined);
    }
    if (this.ctx.state !== 'running' || !this.analyser || !this.buf) return undefined;
    this.analyser.getFloatTimeDomainData(this.buf);
    let peak = 0;
    for (const v of this.buf) peak = Math.max(peak, Math.abs(v));
    return Math.min(1, peak);
  }

  close(): void {
    void this.ctx?.close().catch(() => undefined);
    this.ctx = undefined;
  }
}
