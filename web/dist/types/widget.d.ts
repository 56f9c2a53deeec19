import { OTError } from './errors';
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
/** The element a target names: an element, an element id, or none (→ appended to body). */
export declare function resolveTarget(target: HTMLElement | string | null | undefined): HTMLElement | OTError | undefined;
export declare class Widget {
    readonly root: HTMLElement;
    readonly video: HTMLVideoElement;
    private readonly nameEl;
    private readonly posterEl;
    constructor(kind: 'publisher' | 'subscriber', target: HTMLElement | undefined, props: WidgetProperties, id: string);
    setName(name: string): void;
    setAudioOnly(audioOnly: boolean): void;
    setMirror(mirror: boolean): void;
    attach(stream: MediaStream | null): void;
    destroy(): void;
}
