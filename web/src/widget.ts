// The DOM side of a Publisher or Subscriber: a container inserted next to / into / instead
// of the target element per `insertMode`, holding the <video>, a name label and a poster
// shown when there is no video. Class names follow OpenTok.js (OT_root, OT_publisher, …)
// so apps' existing CSS keeps working.

import { OTError, otError } from './errors';
import { cssSize, isElement } from './util';

export type InsertMode = 'replace' | 'after' | 'before' | 'append';
export type DisplayMode = 'auto' | 'on' | 'off';

export interface WidgetStyle {
  nameDisplayMode?: DisplayMode;
  audioLevelDisplayMode?: DisplayMode;
  buttonDisplayMode?: DisplayMode;
  videoDisabledDisplayMode?: DisplayMode;
  archiveStatusDisplayMode?: 'auto' | 'off';
  backgroundImageURI?: string;
}

export interface WidgetProperties {
  insertMode?: InsertMode;
  insertDefaultUI?: boolean;
  width?: string | number;
  height?: string | number;
  fitMode?: 'cover' | 'contain';
  showControls?: boolean;
  style?: WidgetStyle;
}

const STYLE_ID = 'parlor-sdk-style';
const CSS = `
.OT_root{position:relative;display:inline-block;overflow:hidden;box-sizing:border-box;background:#000;vertical-align:top}
.OT_root .OT_video-element{position:absolute;top:0;left:0;width:100%;height:100%;object-fit:cover;background:#000}
.OT_root.OT_fit-mode-contain .OT_video-element{object-fit:contain}
.OT_root.OT_mirrored .OT_video-element{transform:scaleX(-1)}
.OT_root .OT_name{position:absolute;left:8px;bottom:8px;max-width:calc(100% - 16px);padding:2px 8px;border-radius:4px;background:rgba(0,0,0,.6);color:#fff;font:500 13px/1.5 system-ui,sans-serif;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;opacity:0;transition:opacity .2s;z-index:2}
.OT_root.OT_name-on .OT_name,.OT_root.OT_name-auto:hover .OT_name{opacity:1}
.OT_root .OT_name:empty{display:none}
.OT_root .OT_video-poster{position:absolute;top:0;left:0;width:100%;height:100%;display:none;align-items:center;justify-content:center;background:#2b2f36;z-index:1}
.OT_root .OT_video-poster span{display:flex;align-items:center;justify-content:center;width:30%;max-width:96px;aspect-ratio:1;border-radius:50%;background:#4b5563;color:#fff;font:600 clamp(14px,5vw,36px) system-ui,sans-serif}
.OT_root.OT_audio-only .OT_video-poster{display:flex}
.OT_root.OT_audio-only .OT_video-element{visibility:hidden}
`;

function injectStyle() {
  if (typeof document === 'undefined' || document.getElementById(STYLE_ID)) return;
  const style = document.createElement('style');
  style.id = STYLE_ID;
  style.textContent = CSS;
  (document.head ?? document.documentElement).appendChild(style);
}

/** The element a target names: an element, an element id, or none (→ appended to body). */
export function resolveTarget(target: HTMLElement | string | null | undefined): HTMLElement | OTError | undefined {
  if (target === undefined || target === null || target === '') return undefined;
  if (isElement(target)) return target;
  if (typeof target === 'string') {
    const el = document.getElementById(target);
    if (el) return el;
    return otError('OT_INVALID_PARAMETER', `no element with id '${target}'`, 1011);
  }
  return otError('OT_INVALID_PARAMETER', 'the target must be an element or an element id', 1011);
}

export class Widget {
  readonly root: HTMLElement;
  readonly video: HTMLVideoElement;
  private readonly nameEl: HTMLElement;
  private readonly posterEl: HTMLElement;

  constructor(kind: 'publisher' | 'subscriber', target: HTMLElement | undefined, props: WidgetProperties, id: string) {
    injectStyle();
    const root = document.createElement('div');
    root.className = `OT_root OT_${kind}`;
    root.id = id;
    root.style.width = cssSize(props.width, '264px');
    root.style.height = cssSize(props.height, '198px');
    if (props.fitMode === 'contain') root.classList.add('OT_fit-mode-contain');
    root.classList.add(`OT_name-${props.style?.nameDisplayMode ?? 'auto'}`);

    const video = document.createElement('video');
    video.className = 'OT_video-element';
    video.autoplay = true;
    video.playsInline = true;
    video.setAttribute('playsinline', '');
    if (kind === 'publisher') video.muted = true;

    const poster = document.createElement('div');
    poster.className = 'OT_video-poster';
    poster.appendChild(document.createElement('span'));

    const name = document.createElement('div');
    name.className = 'OT_name';

    root.append(video, poster, name);
    this.root = root;
    this.video = video;
    this.nameEl = name;
    this.posterEl = poster;
    insert(root, target, props.insertMode ?? 'replace');
  }

  setName(name: string): void {
    this.nameEl.textContent = name;
    const initials = name
      .split(/\s+/)
      .filter(Boolean)
      .slice(0, 2)
      .map((w) => w[0]!.toUpperCase())
      .join('');
    (this.posterEl.firstChild as HTMLElement).textContent = initials;
  }

  setAudioOnly(audioOnly: boolean): void {
    this.root.classList.toggle('OT_audio-only', audioOnly);
  }

  setMirror(mirror: boolean): void {
    this.root.classList.toggle('OT_mirrored', mirror);
  }

  attach(stream: MediaStream | null): void {
    if (this.video.srcObject !== stream) this.video.srcObject = stream;
  }

  destroy(): void {
    this.video.srcObject = null;
    this.root.remove();
  }
}

function insert(root: HTMLElement, target: HTMLElement | undefined, mode: InsertMode) {
  if (!target) {
    document.body.appendChild(root);
    return;
  }
  switch (mode) {
    case 'replace':
      if (target.id) root.id = target.id;
      target.replaceWith(root);
      break;
    case 'after':
      target.after(root);
      break;
    case 'before':
      target.before(root);
      break;
    case 'append':
      target.appendChild(root);
      break;
    default:
      throw otError('OT_INVALID_PARAMETER', `insertMode must be replace, after, before or append, not '${mode as string}'`, 1011);
  }
}
