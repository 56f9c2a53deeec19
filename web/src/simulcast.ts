// Simulcast: a camera's video sent in up to three spatial layers (lowest first, each its own
// RTP stream named by its rid), of which the router forwards one per subscriber. Pure
// functions: the layers for a capture size, and the encodings the publisher sends.

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

/** The rids, lowest layer first (libwebrtc's names: quarter, half, full). */
const RIDS = ['q', 'h', 'f'];

/**
 * The layers for a camera capturing `width`×`height` at `frameRate`, as libwebrtc allows
 * them (its simulcast table): three from 960×540 up (a quarter, half and full size), two
 * from 640×360 (half and full), else one — no simulcast (an empty list). The lowest layer
 * of several runs at up to 15 frames a second; bitrates follow the size.
 */
export function cameraLayers(width: number, height: number, frameRate?: number): Layer[] {
  const pixels = width * height;
  const count = pixels >= 960 * 540 ? 3 : pixels >= 640 * 360 ? 2 : 1;
  if (count < 2) return [];
  const layers: Layer[] = [];
  for (let i = 0; i < count; i++) {
    const scale = 2 ** (count - 1 - i);
    const w = Math.round(width / scale);
    const h = Math.round(height / scale);
    const layer: Layer = { rid: RIDS[3 - count + i]!, scaleResolutionDownBy: scale, maxBitrate: bitrateFor(w * h), width: w, height: h };
    if (i === 0) layer.maxFramerate = Math.min(15, frameRate ?? 15);
    const rate = layer.maxFramerate ?? frameRate;
    if (rate) layer.frameRate = rate;
    layers.push(layer);
  }
  return layers;
}

/** A layer's bitrate cap by its size (close to libwebrtc's simulcast table). */
function bitrateFor(pixels: number): number {
  if (pixels <= 320 * 180) return 150_000;
  if (pixels <= 320 * 240) return 200_000;
  if (pixels <= 640 * 360) return 500_000;
  if (pixels <= 640 * 480) return 700_000;
  if (pixels <= 960 * 540) return 1_200_000;
  if (pixels <= 1280 * 720) return 1_700_000;
  return 2_500_000;
}

/** The `sendEncodings` of a transceiver sending `layers`. */
export function sendEncodings(layers: Layer[]): RTCRtpEncodingParameters[] {
  return layers.map((l) => ({
    rid: l.rid,
    active: true,
    scaleResolutionDownBy: l.scaleResolutionDownBy,
    maxBitrate: l.maxBitrate,
    ...(l.maxFramerate ? { maxFramerate: l.maxFramerate } : {}),
  }));
}

/**
 * Turns a sender's encodings on or off as the server asks (`layersNeeded`): its lowest
 * `needed` layers on, the rest paused. The lowest stays on even when none is needed, so a
 * new subscriber starts at once. Whether anything changed.
 */
export function applyNeeded(encodings: RTCRtpEncodingParameters[], needed: number): boolean {
  let changed = false;
  encodings.forEach((e, i) => {
    const active = i < Math.max(1, needed);
    if (e.active !== active) {
      e.active = active;
      changed = true;
    }
  });
  return changed;
}
