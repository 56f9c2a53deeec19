/** A STUN or TURN server, as RTCIceServer. */
export interface IceServer {
    urls: string | string[];
    username?: string;
    credential?: string;
}
/** OT.initSession's `iceConfig` option (and Session.setIceConfig's argument). */
export interface IceConfig {
    /** `'all'` (default): the Parlor server's TURN servers and `customServers`; `'custom'`: only `customServers`. */
    includeServers?: 'all' | 'custom';
    /** `'all'` (default): any candidate; `'relay'`: media only through a TURN server. */
    transportPolicy?: 'all' | 'relay';
    /** The app's own STUN/TURN servers. */
    customServers?: IceServer[];
}
/** Checks an `iceConfig` option; a copy of it (later changes to the app's object do not count). Throws OT_INVALID_PARAMETER. */
export declare function checkIceConfig(value: unknown): IceConfig | undefined;
/** The ICE part of an RTCConfiguration: the server's servers unless `includeServers` is 'custom', then the custom ones. */
export declare function iceSettings(config: IceConfig | undefined, serverServers: readonly IceServer[]): Pick<RTCConfiguration, 'iceServers' | 'iceTransportPolicy'>;
