// Capturing media for a Publisher (camera, microphone, screen, or tracks the app brings)
// and the device helpers of OT (getDevices, getUserMedia, screen-sharing capability).

import { ExceptionCodes, fromMediaError, otError } from './errors';

export type SourceOption = string | boolean | null | MediaStreamTrack | undefined;

export interface CaptureOptions {
  audioSource?: SourceOption;
  videoSource?: SourceOption;
  /** `'WIDTHxHEIGHT'`, e.g. `'1280x720'`, `'640x480'`, `'320x240'`. */
  resolution?: string;
  frameRate?: number;
  maxResolution?: { width: number; height: number };
  facingMode?: 'user' | 'environment' | 'left' | 'right';
  echoCancellation?: boolean;
  noiseSuppression?: boolean;
  autoGainControl?: boolean;
  disableAudioProcessing?: boolean;
}

/** Screen-sharing video sources, as OpenTok.js names them. */
const SCREEN_SOURCES = new Set(['screen', 'window', 'application', 'browser']);

export function isScreenSource(v: SourceOption): boolean {
  return typeof v === 'string' && SCREEN_SOURCES.has(v);
}

export interface Captured {
  stream: MediaStream;
  audioTrack?: MediaStreamTrack;
  videoTrack?: MediaStreamTrack;
  screen: boolean;
}

function wants(source: SourceOption): boolean {
  return source !== null && source !== false;
}

function parseResolution(res: string | undefined): { width: number; height: number } | undefined {
  if (!res) return undefined;
  const m = /^(\d+)x(\d+)$/.exec(res.trim());
  if (!m) throw otError('OT_INVALID_PARAMETER', `resolution must look like '640x480', not '${res}'`, ExceptionCodes.INVALID_PARAMETER);
  return { width: Number(m[1]), height: Number(m[2]) };
}

function videoConstraints(o: CaptureOptions): MediaTrackConstraints {
  const c: MediaTrackConstraints = {};
  const res = parseResolution(o.resolution) ?? { width: 640, height: 480 };
  c.width = { ideal: res.width };
  c.height = { ideal: res.height };
  if (o.maxResolution) {
    c.width = { ...c.width, max: o.maxResolution.width };
    c.height = { ...c.height, max: o.maxResolution.height };
  }
  if (o.frameRate) c.frameRate = { ideal: o.frameRate, max: o.frameRate };
  if (o.facingMode) c.facingMode = o.facingMode;
  if (typeof o.videoSource === 'string') c.deviceId = { exact: o.videoSource };
  return c;
}

function audioConstraints(o: CaptureOptions): MediaTrackConstraints | true {
  const c: MediaTrackConstraints = {};
  if (typeof o.audioSource === 'string') c.deviceId = { exact: o.audioSource };
  const off = o.disableAudioProcessing === true;
  if (off || o.echoCancellation !== undefined) c.echoCancellation = off ? false : o.echoCancellation;
  if (off || o.noiseSuppression !== undefined) c.noiseSuppression = off ? false : o.noiseSuppression;
  if (off || o.autoGainControl !== undefined) c.autoGainControl = off ? false : o.autoGainControl;
  return Object.keys(c).length ? c : true;
}

/**
 * Captures what the options ask for: tracks passed in are used as they are, a screen source
 * goes through getDisplayMedia, devices through getUserMedia.
 */
export async function capture(o: CaptureOptions): Promise<Captured> {
  const wantAudio = wants(o.audioSource);
  const wantVideo = wants(o.videoSource);
  if (!wantAudio && !wantVideo) {
    throw otError('OT_NO_VALID_CONSTRAINTS', 'audioSource and videoSource are both off; a publisher needs at least one', ExceptionCodes.UNABLE_TO_PUBLISH);
  }
  const screen = isScreenSource(o.videoSource);
  let videoTrack: MediaStreamTrack | undefined;
  let audioTrack: MediaStreamTrack | undefined;
  const acquired: MediaStreamTrack[] = [];
  try {
    if (o.videoSource instanceof MediaStreamTrack) {
      videoTrack = o.videoSource;
    } else if (screen) {
      if (!navigator.mediaDevices?.getDisplayMedia) {
        throw otError('OT_SCREEN_SHARING_NOT_SUPPORTED', 'this browser cannot share the screen', ExceptionCodes.UNABLE_TO_PUBLISH);
      }
      const video: MediaTrackConstraints = {};
      if (o.frameRate) video.frameRate = { max: o.frameRate };
      const res = parseResolution(o.resolution) ?? o.maxResolution;
      if (res) {
        video.width = { max: res.width };
        video.height = { max: res.height };
      }
      const display = await navigator.mediaDevices.getDisplayMedia({ video, audio: false });
      videoTrack = display.getVideoTracks()[0];
      if (videoTrack) acquired.push(videoTrack);
    }
    if (o.audioSource instanceof MediaStreamTrack) audioTrack = o.audioSource;
    const needDevices = {
      audio: wantAudio && !audioTrack,
      video: wantVideo && !videoTrack && !screen,
    };
    if (needDevices.audio || needDevices.video) {
      if (!navigator.mediaDevices?.getUserMedia) {
        throw otError('OT_NOT_SUPPORTED', 'this browser cannot capture media (is the page served over https or from localhost?)', ExceptionCodes.UNABLE_TO_PUBLISH);
      }
      const gum = await navigator.mediaDevices.getUserMedia({
        audio: needDevices.audio ? audioConstraints(o) : false,
        video: needDevices.video ? videoConstraints(o) : false,
      });
      for (const t of gum.getTracks()) acquired.push(t);
      audioTrack ??= gum.getAudioTracks()[0];
      videoTrack ??= gum.getVideoTracks()[0];
    }
  } catch (e) {
    for (const t of acquired) t.stop();
    if (e && (e as { name?: string }).name?.startsWith('OT_')) throw e;
    throw fromMediaError(e, screen);
  }
  const stream = new MediaStream();
  if (audioTrack) stream.addTrack(audioTrack);
  if (videoTrack) stream.addTrack(videoTrack);
  return { stream, audioTrack, videoTrack, screen };
}

export interface Device {
  kind: 'audioInput' | 'videoInput';
  deviceId: string;
  label: string;
}

export interface AudioOutputDevice {
  deviceId: string | null;
  label: string | null;
}

export async function listDevices(): Promise<Device[]> {
  if (!navigator.mediaDevices?.enumerateDevices) {
    throw otError('OT_NOT_SUPPORTED', 'this browser cannot list media devices', ExceptionCodes.INVALID_PARAMETER);
  }
  const all = await navigator.mediaDevices.enumerateDevices();
  const out: Device[] = [];
  for (const d of all) {
    if (d.kind === 'audioinput') out.push({ kind: 'audioInput', deviceId: d.deviceId, label: d.label });
    if (d.kind === 'videoinput') out.push({ kind: 'videoInput', deviceId: d.deviceId, label: d.label });
  }
  return out;
}

export async function listAudioOutputs(): Promise<AudioOutputDevice[]> {
  const all = (await navigator.mediaDevices?.enumerateDevices?.()) ?? [];
  return all.filter((d) => d.kind === 'audiooutput').map((d) => ({ deviceId: d.deviceId, label: d.label }));
}

export interface ScreenSharingCapabilityResponse {
  supported: boolean;
  supportedSources: { screen: boolean; window: boolean; application: boolean; browser: boolean };
  extensionRequired?: string;
  extensionInstalled?: boolean;
  extensionRegistered?: boolean;
}

export function screenSharingCapability(): ScreenSharingCapabilityResponse {
  const supported = typeof navigator !== 'undefined' && !!navigator.mediaDevices?.getDisplayMedia;
  return {
    supported,
    supportedSources: { screen: supported, window: supported, application: supported, browser: supported },
  };
}
