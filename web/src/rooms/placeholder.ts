// Stand-in tracks for a stream published without audio or video (`addStream(key, {})`, or
// a track removed with updateStream): the stream keeps both kinds of media, so a track can
// be added later without publishing again. They are sent turned off (hasAudio/hasVideo
// false); the app never sees them.

let audioContext: AudioContext | undefined;

/** A silent audio track, or undefined where Web Audio is missing. */
export function silentAudioTrack(): MediaStreamTrack | undefined {
  try {
    const Ctx = (globalThis as { AudioContext?: typeof AudioContext }).AudioContext;
    if (!Ctx) return undefined;
    audioContext ??= new Ctx();
    return audioContext.createMediaStreamDestination().stream.getAudioTracks()[0];
  } catch {
    return undefined;
  }
}

/** A black 320×240 video track, or undefined where canvas capture is missing. */
export function blackVideoTrack(): MediaStreamTrack | undefined {
  try {
    if (typeof document === 'undefined') return undefined;
    const canvas = document.createElement('canvas');
    canvas.width = 320;
    canvas.height = 240;
    const ctx = canvas.getContext('2d');
    if (!ctx || typeof canvas.captureStream !== 'function') return undefined;
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    return canvas.captureStream(1).getVideoTracks()[0];
  } catch {
    return undefined;
  }
}
