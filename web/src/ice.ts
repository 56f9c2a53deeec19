// The ICE servers of a session's peer connections: the server's STUN/TURN servers (handed
// over in `connected.iceServers`, with TURN credentials minted for this connection) and the
// app's own, from OT.initSession's `iceConfig`, combined as OpenTok.js does:
//   includeServers  'all' (default): the server's and the custom ones; 'custom': only the custom ones
//   transportPolicy 'all' (default): every candidate; 'relay': only through TURN (RTCConfiguration.iceTransportPolicy)
//   customServers   [{ urls, username?, credential? }]

import { ExceptionCodes, OTError, otError } from './errors';

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

const SCHEMES = ['stun:', 'stuns:', 'turn:', 'turns:'];

function invalid(message: string): OTError {
  return otError('OT_INVALID_PARAMETER', `iceConfig: ${message}`, ExceptionCodes.INVALID_PARAMETER);
}

const show = (v: unknown) => (typeof v === 'string' ? `'${v}'` : JSON.stringify(v) ?? String(v));

/** Checks an `iceConfig` option; a copy of it (later changes to the app's object do not count). Throws OT_INVALID_PARAMETER. */
export function checkIceConfig(value: unknown): IceConfig | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(`it must be an object, not ${show(value)}`);
  const { includeServers, transportPolicy, customServers } = value as Record<string, unknown>;
  if (includeServers !== undefined && includeServers !== 'all' && includeServers !== 'custom') {
    throw invalid(`includeServers must be 'all' or 'custom', not ${show(includeServers)}`);
  }
  if (transportPolicy !== undefined && transportPolicy !== 'all' && transportPolicy !== 'relay') {
    throw invalid(`transportPolicy must be 'all' or 'relay', not ${show(transportPolicy)}`);
  }
  if (customServers !== undefined && !Array.isArray(customServers)) {
    throw invalid(`customServers must be an array of {urls, username, credential}, not ${show(customServers)}`);
  }
  const servers = (customServers ?? []).map((s: unknown, i) => checkServer(s, `customServers[${i}]`));
  const out: IceConfig = {};
  if (includeServers) out.includeServers = includeServers;
  if (transportPolicy) out.transportPolicy = transportPolicy;
  if (customServers) out.customServers = servers;
  return out;
}

function checkServer(value: unknown, where: string): IceServer {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw invalid(`${where} must be an object {urls, username, credential}`);
  const { urls, username, credential } = value as Record<string, unknown>;
  const list = typeof urls === 'string' ? [urls] : urls;
  if (!Array.isArray(list) || list.length === 0 || !list.every((u) => typeof u === 'string')) {
    throw invalid(`${where}.urls must be a URL or a non-empty array of URLs`);
  }
  for (const u of list as string[]) {
    if (!SCHEMES.some((s) => u.startsWith(s)) || u.length <= u.indexOf(':') + 1) {
      throw invalid(`${where}.urls: ${show(u)} is not a stun:, stuns:, turn: or turns: URL`);
    }
  }
  for (const [name, v] of [['username', username], ['credential', credential]] as const) {
    if (v !== undefined && typeof v !== 'string') throw invalid(`${where}.${name} must be a string`);
  }
  const turn = (list as string[]).some((u) => u.startsWith('turn'));
  if (turn && (username === undefined || credential === undefined)) {
    throw invalid(`${where} has TURN URLs: it needs a username and a credential`);
  }
  const server: IceServer = { urls: typeof urls === 'string' ? urls : [...(urls as string[])] };
  if (username !== undefined) server.username = username as string;
  if (credential !== undefined) server.credential = credential as string;
  return server;
}

/** The ICE part of an RTCConfiguration: the server's servers unless `includeServers` is 'custom', then the custom ones. */
export function iceSettings(config: IceConfig | undefined, serverServers: readonly IceServer[]): Pick<RTCConfiguration, 'iceServers' | 'iceTransportPolicy'> {
  const own = config?.customServers ?? [];
  const iceServers = config?.includeServers === 'custom' ? [...own] : [...serverServers, ...own];
  return { iceServers: iceServers.map((s) => ({ ...s })), iceTransportPolicy: config?.transportPolicy === 'relay' ? 'relay' : 'all' };
}
