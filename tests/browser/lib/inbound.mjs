// A page's first subscriber's inbound media, from its own getStats(): what the simulcast and
// downlink tests and measurements watch.
import assert from 'node:assert/strict';

/**
 * The page's first subscriber's inbound video (size, frames decoded, freezes, keyframes)
 * and audio packets received, with the page's clock; null before it subscribes.
 */
export async function inboundStats(page) {
  return page.evaluate(async () => {
    const sub = [...T.subscribers.values()][0];
    if (!sub) return null;
    const out = {
      width: 0,
      height: 0,
      framesDecoded: 0,
      freezeCount: 0,
      totalFreezesDuration: 0,
      keyFramesDecoded: 0,
      audioPackets: 0,
      t: performance.now(),
    };
    for (const s of (await sub.getRtcStatsReport()).values()) {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        out.width = s.frameWidth ?? 0;
        out.height = s.frameHeight ?? 0;
        out.framesDecoded = s.framesDecoded ?? 0;
        out.freezeCount = s.freezeCount ?? 0;
        out.totalFreezesDuration = s.totalFreezesDuration ?? 0;
        out.keyFramesDecoded = s.keyFramesDecoded ?? 0;
      } else if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        out.audioPackets = s.packetsReceived ?? 0;
      }
    }
    return out;
  });
}

/**
 * Polls `inboundStats` every `every` ms until `ok(stats)`; returns `{stats, ms}` (how long it
 * took), or fails the test naming `what`.
 */
export async function waitForInbound(page, what, ok, timeout, every = 100) {
  const t0 = Date.now();
  let last;
  while (Date.now() - t0 < timeout) {
    last = await inboundStats(page);
    if (last && ok(last)) return { stats: last, ms: Date.now() - t0 };
    await new Promise((r) => setTimeout(r, every));
  }
  assert.fail(`${what} not within ${timeout} ms: ${JSON.stringify(last)}`);
}
