/*! @parlor/client 0.1.0 — Parlor's browser SDK (OpenTok.js programming model). Apache-2.0. */
var __defProp = Object.defineProperty;
var __export = (target, all) => {
  for (var name in all)
    __defProp(target, name, { get: all[name], enumerable: true });
};

// src/errors.ts
var ExceptionCodes = {
  JS_EXCEPTION: 2e3,
  AUTHENTICATION_ERROR: 1004,
  INVALID_SESSION_ID: 1005,
  CONNECT_FAILED: 1006,
  CONNECT_REJECTED: 1007,
  CONNECTION_TIMEOUT: 1008,
  NOT_CONNECTED: 1010,
  INVALID_PARAMETER: 1011,
  P2P_CONNECTION_FAILED: 1013,
  API_RESPONSE_FAILURE: 1014,
  PEER_CONNECTION_NOT_CONNECTED: 1015,
  TERMS_OF_SERVICE_FAILURE: 1026,
  CONNECTION_LIMIT_EXCEEDED: 1027,
  UNABLE_TO_PUBLISH: 1500,
  UNABLE_TO_SUBSCRIBE: 1501,
  UNSUPPORTED_VIDEO_CODEC: 1502,
  UNABLE_TO_FORCE_DISCONNECT: 1520,
  UNABLE_TO_FORCE_UNPUBLISH: 1530,
  UNABLE_TO_FORCE_MUTE: 1540,
  PUBLISHER_ICE_WORKFLOW_FAILED: 1553,
  SUBSCRIBER_ICE_WORKFLOW_FAILED: 1554,
  STREAM_LIMIT_EXCEEDED: 1605,
  UNEXPECTED_SERVER_RESPONSE: 2001,
  GET_RTC_STATS_REPORT_NOT_SUPPORTED: 2031
};
var OTError = class extends Error {
  constructor(name, message, code, detail = {}) {
    super(message);
    this.name = name;
    this.code = code;
    if (detail.serverCode) this.serverCode = detail.serverCode;
    if (detail.reason) this.reason = detail.reason;
  }
};
function otError(name, message, code) {
  return new OTError(name, message, code);
}
var OPERATION_CODE = {
  connect: ExceptionCodes.CONNECT_FAILED,
  publish: ExceptionCodes.UNABLE_TO_PUBLISH,
  subscribe: ExceptionCodes.UNABLE_TO_SUBSCRIBE,
  signal: 500,
  forceDisconnect: ExceptionCodes.UNABLE_TO_FORCE_DISCONNECT,
  forceUnpublish: ExceptionCodes.UNABLE_TO_FORCE_UNPUBLISH,
  forceMute: ExceptionCodes.UNABLE_TO_FORCE_MUTE,
  other: ExceptionCodes.UNEXPECTED_SERVER_RESPONSE
};
var SESSION_REASONS = /* @__PURE__ */ new Set(["unknown_session"]);
function fromServerError(op, e) {
  const detail = { serverCode: e.code, reason: e.reason };
  const make = (name, code) => new OTError(name, e.message, code, detail);
  if (op === "signal") {
    switch (e.code) {
      case "badRequest":
        return make("OT_INVALID_PARAMETER", 400);
      case "limitExceeded":
        if (e.reason === "rate_limited") return make("OT_RATE_LIMIT_EXCEEDED", 429);
        return make("OT_INVALID_PARAMETER", 413);
      case "notFound":
        return make("OT_NOT_FOUND", 404);
      case "permissionDenied":
        return make("OT_PERMISSION_DENIED", 403);
      default:
        return make("OT_UNEXPECTED_SERVER_RESPONSE", ExceptionCodes.UNEXPECTED_SERVER_RESPONSE);
    }
  }
  switch (e.code) {
    case "authFailed":
      return SESSION_REASONS.has(e.reason ?? "") ? make("OT_INVALID_SESSION_ID", ExceptionCodes.INVALID_SESSION_ID) : make("OT_AUTHENTICATION_ERROR", ExceptionCodes.AUTHENTICATION_ERROR);
    case "permissionDenied":
      return make("OT_PERMISSION_DENIED", OPERATION_CODE[op]);
    case "notFound":
      if (op === "subscribe") return make("OT_STREAM_NOT_FOUND", OPERATION_CODE[op]);
      return make("OT_NOT_FOUND", OPERATION_CODE[op]);
    case "limitExceeded":
      if (e.reason === "session_full") {
        return make("OT_CONNECTION_LIMIT_EXCEEDED", ExceptionCodes.CONNECTION_LIMIT_EXCEEDED);
      }
      if (e.reason === "stream_limit") {
        return make("OT_STREAM_LIMIT_EXCEEDED", ExceptionCodes.STREAM_LIMIT_EXCEEDED);
      }
      if (e.reason === "subscription_limit") {
        return make("OT_UNABLE_TO_SUBSCRIBE", ExceptionCodes.UNABLE_TO_SUBSCRIBE);
      }
      return make("OT_INVALID_PARAMETER", ExceptionCodes.INVALID_PARAMETER);
    case "badRequest":
      return make("OT_INVALID_PARAMETER", ExceptionCodes.INVALID_PARAMETER);
    case "mediaError":
      return op === "publish" ? make("OT_STREAM_CREATE_FAILED", OPERATION_CODE[op]) : make("OT_CREATE_PEER_CONNECTION_FAILED", OPERATION_CODE[op]);
    case "notConnected":
      return make("OT_NOT_CONNECTED", ExceptionCodes.NOT_CONNECTED);
    default:
      return make("OT_UNEXPECTED_SERVER_RESPONSE", ExceptionCodes.UNEXPECTED_SERVER_RESPONSE);
  }
}
function fromMediaError(e, screen) {
  const err = e instanceof Error ? e : new Error(String(e));
  const code = ExceptionCodes.UNABLE_TO_PUBLISH;
  switch (err.name) {
    case "NotAllowedError":
    case "PermissionDeniedError":
    case "SecurityError":
      return otError("OT_USER_MEDIA_ACCESS_DENIED", `access to ${screen ? "the screen" : "camera or microphone"} was denied: ${err.message}`, code);
    case "NotFoundError":
    case "DevicesNotFoundError":
      return otError("OT_NO_DEVICES_FOUND", `no device found: ${err.message}`, code);
    case "NotReadableError":
    case "TrackStartError":
    case "AbortError":
      return otError("OT_HARDWARE_UNAVAILABLE", `the device could not be started: ${err.message}`, code);
    case "OverconstrainedError":
    case "ConstraintNotSatisfiedError":
      return otError("OT_CONSTRAINTS_NOT_SATISFIED", `the media constraints could not be satisfied: ${err.message}`, code);
    case "TypeError":
    case "NotSupportedError":
      return screen ? otError("OT_SCREEN_SHARING_NOT_SUPPORTED", `screen sharing is not supported: ${err.message}`, code) : otError("OT_NOT_SUPPORTED", err.message, code);
    default:
      return screen ? otError("OT_UNABLE_TO_CAPTURE_SCREEN", err.message, code) : otError("OT_UNABLE_TO_CAPTURE_MEDIA", err.message, code);
  }
}
function asOTError(e, fallback, code) {
  if (e instanceof OTError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return otError(fallback, message, code);
}

// src/log.ts
var LogLevel = { NONE: 0, ERROR: 1, WARN: 2, INFO: 3, LOG: 4, DEBUG: 5 };
var level = LogLevel.WARN;
var logger = {
  setLevel(l) {
    level = l;
  },
  getLevel() {
    return level;
  },
  error(...args) {
    if (level >= LogLevel.ERROR) console.error("Parlor:", ...args);
  },
  warn(...args) {
    if (level >= LogLevel.WARN) console.warn("Parlor:", ...args);
  },
  info(...args) {
    if (level >= LogLevel.INFO) console.info("Parlor:", ...args);
  },
  log(...args) {
    if (level >= LogLevel.LOG) console.log("Parlor:", ...args);
  },
  debug(...args) {
    if (level >= LogLevel.DEBUG) console.debug("Parlor:", ...args);
  }
};

// src/events.ts
var Event = class {
  constructor(type, target, cancelable = false) {
    this.defaultPrevented = false;
    this.type = type;
    this.target = target;
    this.cancelable = cancelable;
  }
  /** Cancels the default action (e.g. removing a Subscriber's element on streamDestroyed). */
  preventDefault() {
    if (this.cancelable) this.defaultPrevented = true;
  }
  isDefaultPrevented() {
    return this.defaultPrevented;
  }
};
function makeEvent(type, target, fields, cancelable = false) {
  return Object.assign(new Event(type, target, cancelable), fields);
}
var EventEmitter = class {
  constructor() {
    this.listeners = /* @__PURE__ */ new Map();
  }
  on(a, b, c) {
    this.add(a, b, c, false);
    return this;
  }
  once(a, b, c) {
    this.add(a, b, c, true);
    return this;
  }
  off(a, b, c) {
    if (a === void 0) {
      this.listeners.clear();
    } else if (typeof a === "string") {
      for (const type of splitTypes(a)) this.remove(type, b, c);
    } else {
      for (const [type, handler] of Object.entries(a)) this.off(type, handler, b);
    }
    return this;
  }
  /** The DOM-style names OpenTok.js also accepts. */
  addEventListener(type, handler, context) {
    return this.on(type, handler, context);
  }
  removeEventListener(type, handler, context) {
    return this.off(type, handler, context);
  }
  /** Whether anyone listens for `type`. */
  hasListeners(type) {
    return (this.listeners.get(type)?.length ?? 0) > 0;
  }
  /**
   * Dispatches `event` to the handlers of `as` (by default its own type), in the order they
   * were added. A `signal:chat` event also goes to the plain `signal` handlers this way.
   */
  dispatchEvent(event, as = event.type) {
    const list = this.listeners.get(as);
    if (!list || list.length === 0) return event;
    for (const l of [...list]) {
      if (l.once) this.remove(as, l.handler, l.context);
      try {
        l.handler.call(l.context ?? this, event);
      } catch (e) {
        logger.error(`a '${event.type}' handler threw:`, e);
      }
    }
    return event;
  }
  /** Creates and dispatches an event; returns it so the caller can check preventDefault. */
  emit(type, fields, cancelable = false) {
    const event = makeEvent(type, this, fields, cancelable);
    this.dispatchEvent(event);
    return event;
  }
  add(a, b, c, once) {
    if (typeof a === "string") {
      if (typeof b !== "function") throw new TypeError(`on('${a}'): the handler must be a function`);
      for (const type of splitTypes(a)) this.push(type, { handler: b, context: c, once });
    } else if (a && typeof a === "object") {
      for (const [type, handler] of Object.entries(a)) {
        if (typeof handler !== "function") throw new TypeError(`on({${type}}): the handler must be a function`);
        for (const t of splitTypes(type)) this.push(t, { handler, context: b, once });
      }
    } else {
      throw new TypeError("on() needs an event name and a handler, or a map of them");
    }
  }
  push(type, listener) {
    const list = this.listeners.get(type);
    if (list) list.push(listener);
    else this.listeners.set(type, [listener]);
  }
  remove(type, handler, context) {
    const list = this.listeners.get(type);
    if (!list) return;
    const kept = handler ? list.filter((l) => !(l.handler === handler && (context === void 0 || l.context === context))) : [];
    if (kept.length) this.listeners.set(type, kept);
    else this.listeners.delete(type);
  }
};
function splitTypes(types) {
  return types.split(/\s+/).filter(Boolean);
}

// src/media.ts
var SCREEN_SOURCES = /* @__PURE__ */ new Set(["screen", "window", "application", "browser"]);
function isScreenSource(v) {
  return typeof v === "string" && SCREEN_SOURCES.has(v);
}
function wants(source) {
  return source !== null && source !== false;
}
function parseResolution(res) {
  if (!res) return void 0;
  const m = /^(\d+)x(\d+)$/.exec(res.trim());
  if (!m) throw otError("OT_INVALID_PARAMETER", `resolution must look like '640x480', not '${res}'`, ExceptionCodes.INVALID_PARAMETER);
  return { width: Number(m[1]), height: Number(m[2]) };
}
function videoConstraints(o) {
  const c = {};
  const res = parseResolution(o.resolution) ?? { width: 640, height: 480 };
  c.width = { ideal: res.width };
  c.height = { ideal: res.height };
  if (o.maxResolution) {
    c.width = { ...c.width, max: o.maxResolution.width };
    c.height = { ...c.height, max: o.maxResolution.height };
  }
  if (o.frameRate) c.frameRate = { ideal: o.frameRate, max: o.frameRate };
  if (o.facingMode) c.facingMode = o.facingMode;
  if (typeof o.videoSource === "string") c.deviceId = { exact: o.videoSource };
  return c;
}
function audioConstraints(o) {
  const c = {};
  if (typeof o.audioSource === "string") c.deviceId = { exact: o.audioSource };
  const off = o.disableAudioProcessing === true;
  if (off || o.echoCancellation !== void 0) c.echoCancellation = off ? false : o.echoCancellation;
  if (off || o.noiseSuppression !== void 0) c.noiseSuppression = off ? false : o.noiseSuppression;
  if (off || o.autoGainControl !== void 0) c.autoGainControl = off ? false : o.autoGainControl;
  return Object.keys(c).length ? c : true;
}
async function capture(o) {
  const wantAudio = wants(o.audioSource);
  const wantVideo = wants(o.videoSource);
  if (!wantAudio && !wantVideo) {
    throw otError("OT_NO_VALID_CONSTRAINTS", "audioSource and videoSource are both off; a publisher needs at least one", ExceptionCodes.UNABLE_TO_PUBLISH);
  }
  const screen = isScreenSource(o.videoSource);
  let videoTrack;
  let audioTrack;
  const acquired = [];
  try {
    if (o.videoSource instanceof MediaStreamTrack) {
      videoTrack = o.videoSource;
    } else if (screen) {
      if (!navigator.mediaDevices?.getDisplayMedia) {
        throw otError("OT_SCREEN_SHARING_NOT_SUPPORTED", "this browser cannot share the screen", ExceptionCodes.UNABLE_TO_PUBLISH);
      }
      const video = {};
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
      video: wantVideo && !videoTrack && !screen
    };
    if (needDevices.audio || needDevices.video) {
      if (!navigator.mediaDevices?.getUserMedia) {
        throw otError("OT_NOT_SUPPORTED", "this browser cannot capture media (is the page served over https or from localhost?)", ExceptionCodes.UNABLE_TO_PUBLISH);
      }
      const gum = await navigator.mediaDevices.getUserMedia({
        audio: needDevices.audio ? audioConstraints(o) : false,
        video: needDevices.video ? videoConstraints(o) : false
      });
      for (const t of gum.getTracks()) acquired.push(t);
      audioTrack ?? (audioTrack = gum.getAudioTracks()[0]);
      videoTrack ?? (videoTrack = gum.getVideoTracks()[0]);
    }
  } catch (e) {
    for (const t of acquired) t.stop();
    if (e && e.name?.startsWith("OT_")) throw e;
    throw fromMediaError(e, screen);
  }
  const stream = new MediaStream();
  if (audioTrack) stream.addTrack(audioTrack);
  if (videoTrack) stream.addTrack(videoTrack);
  return { stream, audioTrack, videoTrack, screen };
}
async function listDevices() {
  if (!navigator.mediaDevices?.enumerateDevices) {
    throw otError("OT_NOT_SUPPORTED", "this browser cannot list media devices", ExceptionCodes.INVALID_PARAMETER);
  }
  const all = await navigator.mediaDevices.enumerateDevices();
  const out = [];
  for (const d of all) {
    if (d.kind === "audioinput") out.push({ kind: "audioInput", deviceId: d.deviceId, label: d.label });
    if (d.kind === "videoinput") out.push({ kind: "videoInput", deviceId: d.deviceId, label: d.label });
  }
  return out;
}
async function listAudioOutputs() {
  const all = await navigator.mediaDevices?.enumerateDevices?.() ?? [];
  return all.filter((d) => d.kind === "audiooutput").map((d) => ({ deviceId: d.deviceId, label: d.label }));
}
function screenSharingCapability() {
  const supported = typeof navigator !== "undefined" && !!navigator.mediaDevices?.getDisplayMedia;
  return {
    supported,
    supportedSources: { screen: supported, window: supported, application: supported, browser: supported }
  };
}

// src/model.ts
var Connection = class {
  /** @internal */
  constructor(wire) {
    this.connectionId = wire.connectionId;
    this.creationTime = wire.creationTime;
    this.data = wire.data;
  }
  /** Same as `connectionId`. */
  get id() {
    return this.connectionId;
  }
};
var Stream = class {
  /** @internal */
  constructor(wire, connection) {
    this.hasCaptions = false;
    /** @internal Set once the stream is gone. */
    this.destroyed = false;
    this.streamId = wire.streamId;
    this.connection = connection;
    this.creationTime = wire.creationTime;
    this.name = wire.name;
    this.hasAudio = wire.hasAudio;
    this.hasVideo = wire.hasVideo;
    this.videoType = wire.videoType;
    this.videoDimensions = dims(wire.videoDimensions);
  }
  /** Same as `streamId`. */
  get id() {
    return this.streamId;
  }
  /** @internal Applies the server's current view of the stream. */
  update(wire) {
    this.name = wire.name;
    this.hasAudio = wire.hasAudio;
    this.hasVideo = wire.hasVideo;
    this.videoType = wire.videoType;
    this.videoDimensions = dims(wire.videoDimensions);
  }
};
function dims(d) {
  return d ? { width: d.width, height: d.height } : void 0;
}
var Collection = class {
  constructor() {
    /** @internal */
    this.items = /* @__PURE__ */ new Map();
  }
  get length() {
    return this.items.size;
  }
  get(id) {
    return this.items.get(id);
  }
  has(id) {
    return this.items.has(id);
  }
  find(predicate) {
    for (const item of this.items.values()) if (predicate(item)) return item;
    return void 0;
  }
  where(predicate) {
    return this.toArray().filter(predicate);
  }
  forEach(f) {
    this.items.forEach((item) => f(item));
  }
  map(f) {
    return this.toArray().map(f);
  }
  toArray() {
    return [...this.items.values()];
  }
  [Symbol.iterator]() {
    return this.items.values();
  }
};

// src/audio-level.ts
var INTERVAL_MS = 100;
var SPEAKING_LEVEL = 0.05;
var HOLD_MS = 600;
var LevelMonitor = class {
  constructor(sample, active, onLevel, onSpeaking) {
    this.sample = sample;
    this.active = active;
    this.onLevel = onLevel;
    this.onSpeaking = onSpeaking;
    this.busy = false;
    this.lastLoud = 0;
    this.speaking = false;
  }
  start() {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), INTERVAL_MS);
  }
  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = void 0;
  }
  async tick() {
    if (this.busy || !this.active()) return;
    this.busy = true;
    try {
      const level2 = await this.sample();
      if (level2 === void 0) return;
      this.onLevel(level2);
      const now = Date.now();
      if (level2 >= SPEAKING_LEVEL) this.lastLoud = now;
      const speaking = now - this.lastLoud < HOLD_MS;
      if (speaking !== this.speaking) {
        this.speaking = speaking;
        this.onSpeaking(speaking);
      }
    } catch {
    } finally {
      this.busy = false;
    }
  }
};
var LocalAudioMeter = class {
  constructor(track) {
    this.track = track;
  }
  level() {
    if (!this.ctx) {
      if (typeof AudioContext === "undefined") return void 0;
      this.ctx = new AudioContext();
      const source = this.ctx.createMediaStreamSource(new MediaStream([this.track]));
      this.analyser = this.ctx.createAnalyser();
      this.analyser.fftSize = 512;
      this.buf = new Float32Array(this.analyser.fftSize);
      source.connect(this.analyser);
      void this.ctx.resume().catch(() => void 0);
    }
    if (this.ctx.state !== "running" || !this.analyser || !this.buf) return void 0;
    this.analyser.getFloatTimeDomainData(this.buf);
    let peak = 0;
    for (const v of this.buf) peak = Math.max(peak, Math.abs(v));
    return Math.min(1, peak);
  }
  close() {
    void this.ctx?.close().catch(() => void 0);
    this.ctx = void 0;
  }
};

// src/p2p.ts
var PeerLink = class {
  constructor(pc, session) {
    this.pc = pc;
    this.session = session;
    this.remoteSet = false;
    this.remoteQueue = [];
    this.sending = false;
    this.localQueue = [];
    pc.addEventListener("icecandidate", (e) => {
      if (!e.candidate || !e.candidate.candidate) return;
      const c = { candidate: e.candidate.candidate, sdpMid: e.candidate.sdpMid, sdpMLineIndex: e.candidate.sdpMLineIndex };
      if (this.sending) this.sendCandidate(c);
      else this.localQueue.push(c);
    });
  }
  /** Sends an offer or answer to the other party, then the candidates gathered so far. */
  async sendDescription(kind, sdp) {
    await this.send(kind, { sdp });
    this.sending = true;
    for (const c of this.localQueue.splice(0)) this.sendCandidate(c);
  }
  /** Sets the other party's offer or answer, then the candidates that came before it. */
  async setRemote(description) {
    await this.pc.setRemoteDescription(description);
    this.remoteSet = true;
    for (const c of this.remoteQueue.splice(0)) await this.addCandidate(c);
  }
  /** A candidate of the other party. */
  async remoteCandidate(c) {
    if (this.remoteSet) await this.addCandidate(c);
    else this.remoteQueue.push(c);
  }
  async addCandidate(c) {
    await this.pc.addIceCandidate(c).catch((e) => logger.debug("addIceCandidate:", e.message));
  }
  sendCandidate(candidate) {
    this.send("candidate", { candidate }).catch((e) => logger.debug("p2p candidate:", e.message));
  }
  async send(kind, payload) {
    const route = this.route;
    if (!route || this.pc.signalingState === "closed") return;
    await this.session._request({ type: "p2pSignal", ...route, kind, ...payload });
  }
};

// src/simulcast.ts
var RIDS = ["q", "h", "f"];
function cameraLayers(width, height, frameRate) {
  const pixels = width * height;
  const count = pixels >= 960 * 540 ? 3 : pixels >= 640 * 360 ? 2 : 1;
  if (count < 2) return [];
  const layers = [];
  for (let i = 0; i < count; i++) {
    const scale = 2 ** (count - 1 - i);
    const w = Math.round(width / scale);
    const h = Math.round(height / scale);
    const layer = { rid: RIDS[3 - count + i], scaleResolutionDownBy: scale, maxBitrate: bitrateFor(w * h), width: w, height: h };
    if (i === 0) layer.maxFramerate = Math.min(15, frameRate ?? 15);
    const rate = layer.maxFramerate ?? frameRate;
    if (rate) layer.frameRate = rate;
    layers.push(layer);
  }
  return layers;
}
function bitrateFor(pixels) {
  if (pixels <= 320 * 180) return 15e4;
  if (pixels <= 320 * 240) return 2e5;
  if (pixels <= 640 * 360) return 5e5;
  if (pixels <= 640 * 480) return 7e5;
  if (pixels <= 960 * 540) return 12e5;
  if (pixels <= 1280 * 720) return 17e5;
  return 25e5;
}
function sendEncodings(layers) {
  return layers.map((l) => ({
    rid: l.rid,
    active: true,
    scaleResolutionDownBy: l.scaleResolutionDownBy,
    maxBitrate: l.maxBitrate,
    ...l.maxFramerate ? { maxFramerate: l.maxFramerate } : {}
  }));
}
function applyNeeded(encodings, needed) {
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

// src/upstream-stats.ts
var LIMITATIONS = /* @__PURE__ */ new Set(["none", "cpu", "bandwidth", "other"]);
var CANDIDATE_TYPES = /* @__PURE__ */ new Set(["host", "srflx", "prflx", "relay"]);
function selectedCandidate(report) {
  let pair;
  report.forEach((s) => {
    if (s.type === "transport" && s.selectedCandidatePairId) pair = report.get(s.selectedCandidatePairId);
  });
  if (!pair) {
    report.forEach((s) => {
      if (!pair && s.type === "candidate-pair" && s.nominated && s.state === "succeeded") pair = s;
    });
  }
  const local = pair?.localCandidateId ? report.get(pair.localCandidateId) : void 0;
  const out = {};
  if (local && CANDIDATE_TYPES.has(local.candidateType)) out.candidateType = local.candidateType;
  if (local && (local.protocol === "udp" || local.protocol === "tcp")) out.protocol = local.protocol;
  const rtt = rttMs(pair?.currentRoundTripTime);
  if (rtt !== void 0) out.rttMs = rtt;
  return out;
}
function rttMs(seconds) {
  const s = finite(seconds);
  return s === void 0 ? void 0 : Math.min(6e4, Math.max(0, Math.round(s * 1e4) / 10));
}
function finite(n) {
  return typeof n === "number" && Number.isFinite(n) ? n : void 0;
}
function upstreamReports(report, owner, memory) {
  const sending = "streamId" in owner;
  const type = sending ? "outbound-rtp" : "inbound-rtp";
  const candidate = selectedCandidate(report);
  const out = [];
  report.forEach((s) => {
    if (s.type !== type || s.kind !== "audio" && s.kind !== "video") return;
    if (out.some((r2) => r2.media === s.kind)) return;
    const r = { ...owner, media: s.kind, ...candidate };
    if (sending) {
      const remote = s.remoteId ? report.get(s.remoteId) : void 0;
      const rtt = rttMs(remote?.roundTripTime);
      if (rtt !== void 0) r.rttMs = rtt;
    }
    const prev = memory.get(s.id);
    const now = {
      freezeCount: finite(s.freezeCount) ?? 0,
      freezeSecs: finite(s.totalFreezesDuration) ?? 0,
      concealed: finite(s.concealedSamples) ?? 0,
      samples: finite(s.totalSamplesReceived) ?? 0
    };
    memory.set(s.id, now);
    if (s.kind === "video") {
      const fps = finite(s.framesPerSecond);
      if (fps !== void 0) r.fps = Math.min(1e3, Math.max(0, fps));
      const w = finite(s.frameWidth);
      const h = finite(s.frameHeight);
      if (w !== void 0 && h !== void 0) {
        r.width = Math.min(16384, Math.round(w));
        r.height = Math.min(16384, Math.round(h));
      }
      if (sending && LIMITATIONS.has(s.qualityLimitationReason)) r.qualityLimitation = s.qualityLimitationReason;
      if (!sending && finite(s.freezeCount) !== void 0) {
        r.freezes = Math.max(0, now.freezeCount - (prev?.freezeCount ?? 0));
        r.freezeMs = Math.max(0, Math.round((now.freezeSecs - (prev?.freezeSecs ?? 0)) * 1e3));
      }
    } else if (!sending && finite(s.totalSamplesReceived) !== void 0) {
      const samples = now.samples - (prev?.samples ?? 0);
      const concealed = now.concealed - (prev?.concealed ?? 0);
      if (samples > 0) r.concealed = Math.min(1, Math.max(0, concealed / samples));
    }
    out.push(r);
  });
  return out;
}

// src/stats.ts
function codecOf(report, s) {
  const codec = s.codecId ? report.get(s.codecId) : void 0;
  const mime = codec?.mimeType ?? "";
  return mime.includes("/") ? mime.split("/")[1] : mime;
}
function subscriberStats(report) {
  const out = {
    audio: { bytesReceived: 0, packetsLost: 0, packetsReceived: 0, audioLevel: 0, codec: "" },
    video: {
      bytesReceived: 0,
      packetsLost: 0,
      packetsReceived: 0,
      frameRate: 0,
      decodedFrameRate: 0,
      width: 0,
      height: 0,
      codec: "",
      framesDecoded: 0,
      framesReceived: 0
    },
    timestamp: Date.now()
  };
  report.forEach((s) => {
    if (s.type !== "inbound-rtp") return;
    if (s.kind === "audio") {
      out.audio.bytesReceived += s.bytesReceived ?? 0;
      out.audio.packetsLost += s.packetsLost ?? 0;
      out.audio.packetsReceived += s.packetsReceived ?? 0;
      out.audio.audioLevel = s.audioLevel ?? out.audio.audioLevel;
      out.audio.codec = codecOf(report, s) || out.audio.codec;
    } else if (s.kind === "video") {
      const v = out.video;
      v.bytesReceived += s.bytesReceived ?? 0;
      v.packetsLost += s.packetsLost ?? 0;
      v.packetsReceived += s.packetsReceived ?? 0;
      v.framesDecoded += s.framesDecoded ?? 0;
      v.framesReceived += s.framesReceived ?? 0;
      v.frameRate = s.framesPerSecond ?? v.frameRate;
      v.decodedFrameRate = s.framesPerSecond ?? v.decodedFrameRate;
      v.width = s.frameWidth ?? v.width;
      v.height = s.frameHeight ?? v.height;
      v.codec = codecOf(report, s) || v.codec;
    }
  });
  return out;
}
function publisherStats(report) {
  const out = {
    audio: { bytesSent: 0, packetsLost: 0, packetsSent: 0 },
    video: { bytesSent: 0, packetsLost: 0, packetsSent: 0, frameRate: 0, width: 0, height: 0, codec: "", framesEncoded: 0 },
    timestamp: Date.now()
  };
  report.forEach((s) => {
    if (s.type === "outbound-rtp") {
      const t = s.kind === "audio" ? out.audio : s.kind === "video" ? out.video : void 0;
      if (!t) return;
      t.bytesSent += s.bytesSent ?? 0;
      t.packetsSent += s.packetsSent ?? 0;
      if (s.kind === "video") {
        out.video.frameRate = s.framesPerSecond ?? out.video.frameRate;
        out.video.width = s.frameWidth ?? out.video.width;
        out.video.height = s.frameHeight ?? out.video.height;
        out.video.framesEncoded += s.framesEncoded ?? 0;
        out.video.codec = codecOf(report, s) || out.video.codec;
      }
    } else if (s.type === "remote-inbound-rtp") {
      const t = s.kind === "audio" ? out.audio : s.kind === "video" ? out.video : void 0;
      if (t) t.packetsLost += s.packetsLost ?? 0;
    }
  });
  return out;
}
function audioLevelOf(report, type) {
  let level2;
  report.forEach((s) => {
    if (level2 === void 0 && s.type === type && s.kind === "audio" && typeof s.audioLevel === "number") level2 = s.audioLevel;
  });
  return level2;
}

// src/util.ts
function complete(work, callback) {
  if (callback) {
    work.then(
      (value) => safeCall(() => value === void 0 ? callback() : callback(void 0, value)),
      (error) => safeCall(() => callback(error))
    );
    work.catch(() => void 0);
  }
  return work;
}
function safeCall(f) {
  try {
    f();
  } catch (e) {
    logger.error("a completion handler threw:", e);
  }
}
function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => void 0);
  const d = {
    promise,
    settled: false,
    resolve(v) {
      if (d.settled) return;
      d.settled = true;
      resolve(v);
    },
    reject(e) {
      if (d.settled) return;
      d.settled = true;
      reject(e);
    }
  };
  return d;
}
function withTimeout(p, ms, what, name = "OT_TIMEOUT", code = 1500) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(otError(name, `${what} did not complete within ${ms} ms`, code)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
function serverUrlFromScript(scriptUrl) {
  if (!scriptUrl) return void 0;
  try {
    const url = new URL(scriptUrl);
    if (url.protocol !== "http:" && url.protocol !== "https:") return void 0;
    const path = url.pathname.replace(/\/sdk\/[^/]*$/, "");
    return url.origin + (path === url.pathname ? "" : path);
  } catch {
    return void 0;
  }
}
function signalingUrl(serverUrl) {
  const base = typeof location !== "undefined" ? location.href : void 0;
  const url = new URL(serverUrl, base);
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  else if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw otError("OT_INVALID_PARAMETER", `serverUrl must be an http(s) or ws(s) URL, not ${serverUrl}`, 1011);
  }
  url.pathname = url.pathname.replace(/\/+$/, "") + "/v1/rtc";
  url.search = "";
  url.hash = "";
  return url.toString();
}
function cssSize(v, fallback) {
  if (v === void 0 || v === null || v === "") return fallback;
  return typeof v === "number" ? `${v}px` : v;
}
function isElement(v) {
  return typeof HTMLElement !== "undefined" && v instanceof HTMLElement;
}
function utf8Length(s) {
  return new TextEncoder().encode(s).length;
}
var counter = 0;
function uniqueId(prefix) {
  counter += 1;
  const rand = Math.random().toString(36).slice(2, 8);
  return `${prefix}_${rand}${counter}`;
}

// src/widget.ts
var STYLE_ID = "parlor-sdk-style";
var CSS = `
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
  if (typeof document === "undefined" || document.getElementById(STYLE_ID)) return;
  const style = document.createElement("style");
  style.id = STYLE_ID;
  style.textContent = CSS;
  (document.head ?? document.documentElement).appendChild(style);
}
function resolveTarget(target) {
  if (target === void 0 || target === null || target === "") return void 0;
  if (isElement(target)) return target;
  if (typeof target === "string") {
    const el = document.getElementById(target);
    if (el) return el;
    return otError("OT_INVALID_PARAMETER", `no element with id '${target}'`, 1011);
  }
  return otError("OT_INVALID_PARAMETER", "the target must be an element or an element id", 1011);
}
var Widget = class {
  constructor(kind, target, props, id) {
    injectStyle();
    const root = document.createElement("div");
    root.className = `OT_root OT_${kind}`;
    root.id = id;
    root.style.width = cssSize(props.width, "264px");
    root.style.height = cssSize(props.height, "198px");
    if (props.fitMode === "contain") root.classList.add("OT_fit-mode-contain");
    root.classList.add(`OT_name-${props.style?.nameDisplayMode ?? "auto"}`);
    const video = document.createElement("video");
    video.className = "OT_video-element";
    video.autoplay = true;
    video.playsInline = true;
    video.setAttribute("playsinline", "");
    if (kind === "publisher") video.muted = true;
    const poster = document.createElement("div");
    poster.className = "OT_video-poster";
    poster.appendChild(document.createElement("span"));
    const name = document.createElement("div");
    name.className = "OT_name";
    root.append(video, poster, name);
    this.root = root;
    this.video = video;
    this.nameEl = name;
    this.posterEl = poster;
    insert(root, target, props.insertMode ?? "replace");
  }
  setName(name) {
    this.nameEl.textContent = name;
    const initials = name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");
    this.posterEl.firstChild.textContent = initials;
  }
  setAudioOnly(audioOnly) {
    this.root.classList.toggle("OT_audio-only", audioOnly);
  }
  setMirror(mirror) {
    this.root.classList.toggle("OT_mirrored", mirror);
  }
  attach(stream) {
    if (this.video.srcObject !== stream) this.video.srcObject = stream;
  }
  destroy() {
    this.video.srcObject = null;
    this.root.remove();
  }
};
function insert(root, target, mode) {
  if (!target) {
    document.body.appendChild(root);
    return;
  }
  switch (mode) {
    case "replace":
      if (target.id) root.id = target.id;
      target.replaceWith(root);
      break;
    case "after":
      target.after(root);
      break;
    case "before":
      target.before(root);
      break;
    case "append":
      target.appendChild(root);
      break;
    default:
      throw otError("OT_INVALID_PARAMETER", `insertMode must be replace, after, before or append, not '${mode}'`, 1011);
  }
}

// src/publisher.ts
var ANNOUNCE_TIMEOUT_MS = 25e3;
var ACCESS_DIALOG_MS = 500;
var ROUTED_CODECS = { vp8: "video/vp8", h264: "video/h264" };
function preferCodecs(transceiver, preferred) {
  if (!Array.isArray(preferred) || typeof transceiver.setCodecPreferences !== "function") return;
  const mimes = preferred.map((c) => ROUTED_CODECS[String(c).toLowerCase()]).filter((m) => !!m);
  const codecs = RTCRtpReceiver.getCapabilities("video")?.codecs ?? [];
  if (!mimes.length || !codecs.length) return;
  const rank = (c) => {
    const i = mimes.indexOf(c.mimeType.toLowerCase());
    return i < 0 ? mimes.length : i;
  };
  transceiver.setCodecPreferences([...codecs].sort((a, b) => rank(a) - rank(b)));
}
var Publisher = class extends EventEmitter {
  /** @internal Use OT.initPublisher. */
  constructor(target, properties, completion, onException) {
    super();
    this.onException = onException;
    /** Whether the user allowed camera/microphone access. */
    this.accessAllowed = false;
    /** The simulcast layers sent to the router (empty: one layer). */
    this.layers = [];
    /** Relayed sessions: one peer connection per subscription (its subscriber's connection). */
    this.peers = /* @__PURE__ */ new Map();
    this.upstream = /* @__PURE__ */ new Map();
    this.destroyed = false;
    this.unpublishing = false;
    /** Tracks the app passed in (sources, setAudioSource/setVideoSource): never stopped here. */
    this.appTracks = /* @__PURE__ */ new Set();
    this.id = uniqueId("OT_publisher");
    this.props = { ...properties };
    for (const source of [this.props.audioSource, this.props.videoSource]) {
      if (source instanceof MediaStreamTrack) this.appTracks.add(source);
    }
    this.style = { ...this.props.style };
    this.audioOn = this.props.publishAudio !== false;
    this.videoOn = this.props.publishVideo !== false;
    const publishAudio = (value) => {
      void this.setAudio(value).catch((e) => logger.warn("publishAudio:", e.message));
      return this;
    };
    const publishVideo = (value, callback) => {
      const done = this.setVideo(value);
      if (callback) void complete(done, callback);
      else done.catch((e) => logger.warn("publishVideo:", e.message));
      return this;
    };
    this.publishAudio = Object.assign(publishAudio, { promise: (v) => this.setAudio(v) });
    this.publishVideo = Object.assign(publishVideo, { promise: (v) => this.setVideo(v) });
    this.destroy = Object.assign(
      () => {
        this.teardown("destroyed");
        return this;
      },
      {
        promise: async () => {
          this.teardown("destroyed");
        }
      }
    );
    this.levels = new LevelMonitor(
      () => this.sampleLevel(),
      () => this.audioOn && !!this.captured?.audioTrack && (this.hasListeners("audioLevelUpdated") || !!this.session?._wantsSpeaking()),
      (audioLevel) => this.emit("audioLevelUpdated", { audioLevel }),
      () => this.session?._stateChanged("speaking")
    );
    const resolved = resolveTarget(target);
    if (resolved instanceof OTError) {
      this.ready = Promise.reject(resolved);
    } else {
      if (this.props.insertDefaultUI !== false) {
        this.widget = new Widget("publisher", resolved, this.props, this.id);
        this.element = this.widget.root;
        this.widget.setName(this.props.name ?? "");
        this.widget.setMirror(this.props.mirror ?? !isScreenSource(this.props.videoSource));
        this.widget.setAudioOnly(!this.videoOn);
      }
      this.ready = this.acquire();
    }
    this.ready.catch(() => void 0);
    void complete(this.ready, completion).catch((e) => {
      this.onException(e, this);
      this.teardown("mediaFailed");
    });
  }
  /** The width of the captured video, in pixels. */
  videoWidth() {
    return this.widget?.video.videoWidth || this.captured?.videoTrack?.getSettings().width;
  }
  videoHeight() {
    return this.widget?.video.videoHeight || this.captured?.videoTrack?.getSettings().height;
  }
  /**
   * OpenTok.js-style stats: in a routed session one entry (the connection to the server); in a
   * relayed session one per subscriber, with its `connectionId` and `subscriberId`.
   */
  getStats(callback) {
    return complete(
      this.reports().then((list) => list.map(({ rtcStatsReport, ...who }) => ({ ...who, stats: publisherStats(rtcStatsReport) }))),
      callback
    );
  }
  /** The browser's RTCStatsReport of each of the publisher's peer connections. */
  getRtcStatsReport() {
    return this.reports();
  }
  /** The current video frame as a base64 PNG (no `data:` prefix), or null. */
  getImgData() {
    return snapshot(this.widget?.video);
  }
  getStyle() {
    return { ...this.style };
  }
  setStyle(style, value) {
    const next = typeof style === "string" ? { [style]: value } : style;
    this.style = { ...this.style, ...next };
    if (this.widget && this.style.nameDisplayMode) {
      const root = this.widget.root;
      root.classList.remove("OT_name-auto", "OT_name-on", "OT_name-off");
      root.classList.add(`OT_name-${this.style.nameDisplayMode}`);
    }
    return this;
  }
  getVideoSource() {
    const track = this.captured?.videoTrack ?? null;
    return {
      deviceId: track?.getSettings().deviceId ?? null,
      type: track ? this.videoType() : null,
      track
    };
  }
  getAudioSource() {
    return this.captured?.audioTrack ?? null;
  }
  /** Switches to the next camera. */
  async cycleVideo() {
    await this.ready;
    const cams = (await listDevices()).filter((d) => d.kind === "videoInput");
    const current = this.captured?.videoTrack?.getSettings().deviceId;
    if (!cams.length || this.videoType() !== "camera") {
      throw otError("OT_NOT_SUPPORTED", "there is no other camera to switch to", ExceptionCodes.UNABLE_TO_PUBLISH);
    }
    const next = cams[(cams.findIndex((c) => c.deviceId === current) + 1) % cams.length];
    await this.setVideoSource(next.deviceId);
    return { deviceId: next.deviceId };
  }
  /**
   * Switches the camera to the device with this id, or the video to a track the app brings
   * (which stays the app's to stop).
   */
  async setVideoSource(source) {
    await this.ready;
    if (source instanceof MediaStreamTrack) {
      if (!this.captured?.videoTrack) {
        throw otError("OT_NOT_SUPPORTED", "this publisher has no video", ExceptionCodes.UNABLE_TO_PUBLISH);
      }
      this.appTracks.add(source);
      await this.replaceTrack("video", source);
      return;
    }
    if (this.videoType() !== "camera") {
      throw otError("OT_NOT_SUPPORTED", "setVideoSource works on camera publishers only", ExceptionCodes.UNABLE_TO_PUBLISH);
    }
    const { videoTrack } = await capture({ ...this.props, audioSource: null, videoSource: source });
    await this.replaceTrack("video", videoTrack);
  }
  /** Switches the microphone to a device id or a track. */
  async setAudioSource(source) {
    await this.ready;
    if (!this.captured?.audioTrack) {
      throw otError("OT_NOT_SUPPORTED", "this publisher has no audio", ExceptionCodes.UNABLE_TO_PUBLISH);
    }
    const track = typeof source === "string" ? (await capture({ ...this.props, videoSource: null, audioSource: source })).audioTrack : source;
    if (track === source) this.appTracks.add(track);
    await this.replaceTrack("audio", track);
  }
  /** Parlor does not use simulcast; accepted for compatibility. */
  async setPreferredResolution(_resolution) {
  }
  async setPreferredFrameRate(_frameRate) {
  }
  // ----- internal, driven by Session -----
  /** @internal Publishes to `session`; resolves once the server announced the stream. */
  async _publish(session) {
    if (this.destroyed) throw otError("OT_INVALID_PARAMETER", "this publisher was destroyed", ExceptionCodes.UNABLE_TO_PUBLISH);
    if (this.session) {
      if (this.session === session) return this.announced?.promise.then(() => void 0);
      throw otError("OT_INVALID_PARAMETER", "this publisher is already publishing to another session", ExceptionCodes.UNABLE_TO_PUBLISH);
    }
    this.session = session;
    this.unpublishing = false;
    try {
      await this.ready;
      await this.negotiate(session);
    } catch (e) {
      const error = asOTError(e, "OT_STREAM_CREATE_FAILED", ExceptionCodes.UNABLE_TO_PUBLISH);
      this.abandon(session);
      throw error;
    }
  }
  async negotiate(session) {
    if (session._isRelayed()) return this.negotiateRelayed(session);
    const cap = this.captured;
    const pc = new RTCPeerConnection(await session._rtcConfiguration());
    this.pc = pc;
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState === "failed" && this.announced && !this.announced.settled) {
        this.announced.reject(otError("OT_ICE_WORKFLOW_FAILED", "the media connection to the server failed", ExceptionCodes.PUBLISHER_ICE_WORKFLOW_FAILED));
      }
    });
    this.layers = this.simulcastLayers();
    for (const track of [cap.audioTrack, cap.videoTrack]) {
      if (!track) continue;
      const init = { direction: "sendonly", streams: [cap.stream] };
      if (track.kind === "video" && this.layers.length) init.sendEncodings = sendEncodings(this.layers);
      const transceiver = pc.addTransceiver(track, init);
      if (track.kind === "video") preferCodecs(transceiver, this.props.preferredVideoCodecs);
    }
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const { reply, neither } = await this.requestPublish(session, offer.sdp);
    try {
      await pc.setRemoteDescription({ type: "answer", sdp: reply.sdp });
    } catch (e) {
      throw otError("OT_SET_REMOTE_DESCRIPTION_FAILED", `the server's answer was refused: ${e.message}`, ExceptionCodes.UNABLE_TO_PUBLISH);
    }
    await this.applyBitrate(pc);
    await this.awaitAnnounced(session, neither);
  }
  /** @internal After a resumed connection: new ICE credentials, in case the network path
   *  changed (the media connection itself, DTLS and all, is kept). */
  async _restartIce() {
    const pc = this.pc;
    const session = this.session;
    if (!pc || !session || !this.streamId || pc.signalingState !== "stable") return;
    try {
      const offer = await pc.createOffer({ iceRestart: true });
      await pc.setLocalDescription(offer);
      const reply = await session._request({ type: "restartIce", streamId: this.streamId, sdp: offer.sdp });
      await pc.setRemoteDescription({ type: "answer", sdp: reply.sdp });
    } catch (e) {
      logger.warn("publisher: ICE restart failed:", e.message);
    }
  }
  /** Relayed: the stream is registered and announced at once; media goes to each subscriber
   *  over its own peer connection, set up when its offer comes ({@link _onP2pSignal}). */
  async negotiateRelayed(session) {
    const { neither } = await this.requestPublish(session, "");
    await this.awaitAnnounced(session, neither);
  }
  /** Asks the server to publish (with the SDP offer, or none in a relayed session) and
   *  registers the stream it names. `neither`: announced with a track it turns off next. */
  async requestPublish(session, sdp) {
    const cap = this.captured;
    const hasAudio = !!cap.audioTrack && this.audioOn;
    const hasVideo = !!cap.videoTrack && this.videoOn;
    const neither = !hasAudio && !hasVideo;
    this.announced = deferred();
    const reply = await session._request(
      {
        type: "publish",
        name: this.props.name ?? "",
        hasAudio: neither ? !cap.videoTrack : hasAudio,
        hasVideo: neither ? !!cap.videoTrack : hasVideo,
        videoType: this.videoType(),
        videoDimensions: this.dimensions() ?? null,
        ...sdp && this.layers.length ? { simulcast: this.layers.map((l) => ({ width: l.width, height: l.height, ...l.frameRate ? { maxFrameRate: l.frameRate } : {} })) } : {},
        sdp
      },
      "publish"
    );
    this.streamId = reply.streamId;
    if (this.destroyed || this.session !== session) {
      throw otError("OT_CANCEL", "the publisher was unpublished while publishing", ExceptionCodes.UNABLE_TO_PUBLISH);
    }
    session._registerPublisher(reply.streamId, this);
    return { reply, neither };
  }
  /** Waits for the server's `streamCreated` of our stream, then tells the app. */
  async awaitAnnounced(session, neither) {
    if (neither) void this.sendProperty({ hasAudio: false, hasVideo: false }).catch(() => void 0);
    const stream = await withTimeout(this.announced.promise, ANNOUNCE_TIMEOUT_MS, "publishing", "OT_TIMEOUT", ExceptionCodes.UNABLE_TO_PUBLISH);
    this.stream = stream;
    stream.frameRate = this.props.frameRate;
    this.emit("streamCreated", { stream });
    session._stateChanged("published");
    this.levels.start();
  }
  /** @internal Relayed: a subscriber's offer or candidate for its peer connection. */
  _onP2pSignal(msg) {
    if (msg.streamId !== this.streamId) return;
    if (msg.kind === "offer" && msg.sdp) {
      this.answerSubscriber(msg.from, msg.subscriptionId, msg.sdp).catch((e) => {
        logger.warn(`relayed subscriber ${msg.subscriptionId}: ${e.message}`);
        this._onPeerEnded(msg.subscriptionId);
      });
    } else if (msg.kind === "candidate" && msg.candidate) {
      void this.peers.get(msg.subscriptionId)?.link.remoteCandidate(msg.candidate);
    }
  }
  /** @internal Relayed: a subscription to our stream ended; close its peer connection. */
  _onPeerEnded(subscriptionId) {
    const peer = this.peers.get(subscriptionId);
    if (!peer) return;
    this.peers.delete(subscriptionId);
    peer.link.pc.close();
  }
  async answerSubscriber(connectionId, subscriptionId, sdp) {
    const session = this.session;
    const cap = this.captured;
    if (!session || !cap || !this.streamId || this.peers.has(subscriptionId)) return;
    const pc = new RTCPeerConnection(await session._rtcConfiguration());
    const link = new PeerLink(pc, session);
    link.route = { to: connectionId, streamId: this.streamId, subscriptionId };
    this.peers.set(subscriptionId, { link, connectionId });
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState === "failed") logger.warn(`the peer connection to subscriber ${subscriptionId} failed`);
    });
    await link.setRemote({ type: "offer", sdp });
    if (this.peers.get(subscriptionId)?.link !== link) return;
    for (const t of pc.getTransceivers()) {
      const kind = t.receiver.track.kind;
      const track = kind === "audio" ? cap.audioTrack : kind === "video" ? cap.videoTrack : void 0;
      if (track) {
        await t.sender.replaceTrack(track);
        t.sender.setStreams?.(cap.stream);
        t.direction = "sendonly";
      } else {
        t.direction = "inactive";
      }
    }
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    await this.applyBitrate(pc);
    await link.sendDescription("answer", answer.sdp);
  }
  /** The simulcast layers for the captured camera (none for a screen, with
   *  `scalableVideo: false`, or below 640×360). */
  simulcastLayers() {
    const cap = this.captured;
    if (!cap?.videoTrack || cap.screen || this.props.scalableVideo === false) return [];
    const s = cap.videoTrack.getSettings();
    if (!s.width || !s.height) return [];
    return cameraLayers(s.width, s.height, s.frameRate);
  }
  /** @internal The router needs only our lowest `layers` layers: pause the others. */
  _onLayersNeeded(layers) {
    const sender = this.pc?.getSenders().find((s) => s.track?.kind === "video");
    if (!sender || this.layers.length < 2) return;
    const params = sender.getParameters();
    if (!params.encodings?.length || !applyNeeded(params.encodings, layers)) return;
    sender.setParameters(params).catch((e) => logger.warn("publisher: pausing layers:", e.message));
  }
  /** @internal The server announced our stream (media is up). */
  _onStreamCreated(stream) {
    this.announced?.resolve(stream);
  }
  /** @internal Our stream ended on the server (unpublish, forceUnpublish, media failure, leaving). */
  _onStreamDestroyed(reason, stream) {
    const session = this.session;
    if (this.announced && !this.announced.settled) {
      this.announced.reject(otError("OT_ICE_WORKFLOW_FAILED", `the stream ended before it was announced (${reason})`, ExceptionCodes.PUBLISHER_ICE_WORKFLOW_FAILED));
      return;
    }
    this.closePeer();
    if (session) session._unregisterPublisher(this);
    this.session = void 0;
    this.streamId = void 0;
    if (this.destroyed) return;
    const ended = stream ?? this.stream;
    if (this.unpublishing && reason === "clientDisconnected") reason = "unpublished";
    this.unpublishing = false;
    const event = this.emit("streamDestroyed", { stream: ended, reason }, true);
    this.stream = void 0;
    if (!event.isDefaultPrevented()) this.teardown(reason);
    session?._stateChanged("unpublished");
  }
  /** @internal A moderator muted our audio. */
  _onMuteForced() {
    this.audioOn = false;
    if (this.captured?.audioTrack) this.captured.audioTrack.enabled = false;
    this.emit("muteForced", {});
  }
  /** @internal Asks the server to stop our stream; its `streamDestroyed` does the rest. */
  _unpublish() {
    const session = this.session;
    if (!session) return;
    this.unpublishing = true;
    if (this.streamId && session._isConnected()) {
      const streamId = this.streamId;
      session._request({ type: "unpublish", streamId }).catch((e) => {
        logger.warn(`unpublish: ${e.message}`);
        this._onStreamDestroyed("unpublished", void 0);
      });
    } else {
      this._onStreamDestroyed("unpublished", void 0);
    }
  }
  /** @internal The session ended: the stream is gone with it. */
  _onSessionEnded(reason) {
    if (this.announced && !this.announced.settled) {
      this.announced.reject(otError("OT_NOT_CONNECTED", "the session ended while publishing", ExceptionCodes.NOT_CONNECTED));
    }
    if (this.session) this._onStreamDestroyed(reason, void 0);
  }
  /** @internal */
  _isSpeaking() {
    return this.levels.speaking;
  }
  /** @internal */
  _isPublishing() {
    return !!this.stream && this.pc?.connectionState !== "failed";
  }
  // ----- private -----
  async acquire() {
    let dialogOpen = false;
    const dialogTimer = setTimeout(() => {
      dialogOpen = true;
      this.emit("accessDialogOpened", {});
    }, ACCESS_DIALOG_MS);
    let captured;
    try {
      captured = await capture(this.props);
    } catch (e) {
      const error = asOTError(e, "OT_UNABLE_TO_CAPTURE_MEDIA", ExceptionCodes.UNABLE_TO_PUBLISH);
      if (error.name === "OT_USER_MEDIA_ACCESS_DENIED") this.emit("accessDenied", { message: error.message });
      throw error;
    } finally {
      clearTimeout(dialogTimer);
      if (dialogOpen) this.emit("accessDialogClosed", {});
    }
    if (this.destroyed) {
      this.stopTracks(captured);
      throw otError("OT_INVALID_PARAMETER", "the publisher was destroyed while capturing", ExceptionCodes.UNABLE_TO_PUBLISH);
    }
    this.captured = captured;
    this.accessAllowed = true;
    if (captured.audioTrack) {
      captured.audioTrack.enabled = this.audioOn;
      this.meter = new LocalAudioMeter(captured.audioTrack);
    }
    if (captured.videoTrack) {
      captured.videoTrack.enabled = this.videoOn;
      if (this.props.videoContentHint !== void 0) captured.videoTrack.contentHint = this.props.videoContentHint;
      else if (captured.screen) captured.videoTrack.contentHint = "detail";
    } else {
      this.widget?.setAudioOnly(true);
    }
    for (const track of captured.stream.getTracks()) {
      track.addEventListener("ended", () => this.onTrackEnded(track));
    }
    this.emit("accessAllowed", {});
    if (this.widget) {
      const video = this.widget.video;
      video.addEventListener("resize", () => this.onResize());
      this.widget.attach(captured.stream);
      video.play().catch(() => void 0);
      this.emit("videoElementCreated", { element: video });
    }
    this.emit("mediaStreamAvailable", { mediaStream: captured.stream });
    this.levels.start();
  }
  videoType() {
    if (this.props.videoSource instanceof MediaStreamTrack) return "custom";
    return this.captured?.screen || isScreenSource(this.props.videoSource) ? "screen" : "camera";
  }
  dimensions() {
    const s = this.captured?.videoTrack?.getSettings();
    const w = this.widget?.video.videoWidth || s?.width;
    const h = this.widget?.video.videoHeight || s?.height;
    return w && h ? { width: w, height: h } : void 0;
  }
  async setAudio(value) {
    const on = !!value;
    this.audioOn = on;
    if (this.captured?.audioTrack) this.captured.audioTrack.enabled = on;
    if (this.streamId && this.stream?.hasAudio !== on) await this.sendProperty({ hasAudio: on });
    this.session?._stateChanged("publishAudio");
  }
  async setVideo(value) {
    const on = !!value;
    this.videoOn = on;
    if (this.captured?.videoTrack) this.captured.videoTrack.enabled = on;
    this.widget?.setAudioOnly(!on || !this.captured?.videoTrack);
    if (this.streamId && this.stream?.hasVideo !== on) await this.sendProperty({ hasVideo: on });
    this.session?._stateChanged("publishVideo");
  }
  async sendProperty(p) {
    const session = this.session;
    if (!session || !this.streamId || !session._isConnected()) return;
    await session._request({ type: "setStreamProperty", streamId: this.streamId, ...p });
  }
  onResize() {
    const video = this.widget?.video;
    if (!video || !video.videoWidth) return;
    const next = { width: video.videoWidth, height: video.videoHeight };
    const prev = this.lastDimensions;
    this.lastDimensions = next;
    if (!prev || prev.width === next.width && prev.height === next.height) return;
    this.emit("videoDimensionsChanged", { oldValue: prev, newValue: next });
    if (this.stream) void this.sendProperty({ videoDimensions: next }).catch(() => void 0);
  }
  onTrackEnded(track) {
    if (this.destroyed) return;
    const event = this.emit("mediaStopped", { track }, true);
    if (event.isDefaultPrevented()) return;
    this.teardown("mediaStopped");
  }
  async replaceTrack(kind, track) {
    const cap = this.captured;
    const old = kind === "audio" ? cap.audioTrack : cap.videoTrack;
    for (const pc of this.peerConnections()) {
      const sender = pc.getSenders().find((s) => s.track?.kind === kind);
      if (sender) await sender.replaceTrack(track);
    }
    track.enabled = kind === "audio" ? this.audioOn : this.videoOn;
    if (old) {
      cap.stream.removeTrack(old);
      if (!this.appTracks.has(old)) old.stop();
    }
    cap.stream.addTrack(track);
    track.addEventListener("ended", () => this.onTrackEnded(track));
    if (kind === "audio") {
      cap.audioTrack = track;
      this.meter?.close();
      this.meter = new LocalAudioMeter(track);
    } else {
      cap.videoTrack = track;
    }
  }
  async applyBitrate(pc) {
    if (!this.props.audioBitrate) return;
    const sender = pc.getSenders().find((s) => s.track?.kind === "audio");
    if (!sender) return;
    const params = sender.getParameters();
    if (!params.encodings?.length) return;
    params.encodings[0].maxBitrate = this.props.audioBitrate;
    await sender.setParameters(params).catch(() => void 0);
  }
  async sampleLevel() {
    const level2 = this.meter?.level();
    if (level2 !== void 0) return level2;
    const pc = this.peerConnections()[0];
    if (!pc) return void 0;
    return audioLevelOf(await pc.getStats(), "media-source");
  }
  /** @internal What this publisher sends, for the server's `stats` (none before it publishes). */
  async _upstreamStats() {
    const streamId = this.streamId;
    const pc = this.peerConnections()[0];
    if (!pc || !streamId) return [];
    return upstreamReports(await pc.getStats(), { streamId }, this.upstream);
  }
  /** The publisher's peer connections: the one to the server, or (relayed) one per subscriber. */
  peerConnections() {
    return [...this.pc ? [this.pc] : [], ...[...this.peers.values()].map((p) => p.link.pc)];
  }
  async reports() {
    if (this.pc) return [{ rtcStatsReport: await this.pc.getStats() }];
    if (!this.streamId) {
      throw otError("OT_PEER_CONNECTION_NOT_CONNECTED", "the publisher is not publishing", ExceptionCodes.PEER_CONNECTION_NOT_CONNECTED);
    }
    return Promise.all(
      [...this.peers].map(async ([subscriberId, p]) => ({ subscriberId, connectionId: p.connectionId, rtcStatsReport: await p.link.pc.getStats() }))
    );
  }
  /** Undoes a failed publish attempt. */
  abandon(session) {
    if (this.streamId && session._isConnected()) {
      session._request({ type: "unpublish", streamId: this.streamId }).catch(() => void 0);
    }
    session._unregisterPublisher(this);
    this.closePeer();
    this.streamId = void 0;
    this.session = void 0;
    this.announced = void 0;
  }
  closePeer() {
    this.levels.stop();
    this.pc?.close();
    this.pc = void 0;
    this.closeRelayedPeers();
    if (this.captured && !this.destroyed) this.levels.start();
  }
  closeRelayedPeers() {
    for (const p of this.peers.values()) p.link.pc.close();
    this.peers.clear();
  }
  stopTracks(captured) {
    for (const track of captured.stream.getTracks()) {
      if (!this.appTracks.has(track)) track.stop();
    }
  }
  teardown(reason) {
    if (this.destroyed) return;
    this.destroyed = true;
    const session = this.session;
    if (session) {
      this._unpublish();
      session._unregisterPublisher(this);
      this.session = void 0;
    }
    this.levels.stop();
    this.meter?.close();
    this.pc?.close();
    this.pc = void 0;
    this.closeRelayedPeers();
    if (this.captured) this.stopTracks(this.captured);
    this.widget?.destroy();
    this.widget = void 0;
    this.element = void 0;
    this.emit("destroyed", { reason });
  }
};
function snapshot(video) {
  if (!video || !video.videoWidth) return null;
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d")?.drawImage(video, 0, 0);
  return canvas.toDataURL("image/png").replace(/^data:image\/png;base64,/, "");
}

// src/ice.ts
var SCHEMES = ["stun:", "stuns:", "turn:", "turns:"];
function invalid(message) {
  return otError("OT_INVALID_PARAMETER", `iceConfig: ${message}`, ExceptionCodes.INVALID_PARAMETER);
}
var show = (v) => typeof v === "string" ? `'${v}'` : JSON.stringify(v) ?? String(v);
function checkIceConfig(value) {
  if (value === void 0 || value === null) return void 0;
  if (typeof value !== "object" || Array.isArray(value)) throw invalid(`it must be an object, not ${show(value)}`);
  const { includeServers, transportPolicy, customServers } = value;
  if (includeServers !== void 0 && includeServers !== "all" && includeServers !== "custom") {
    throw invalid(`includeServers must be 'all' or 'custom', not ${show(includeServers)}`);
  }
  if (transportPolicy !== void 0 && transportPolicy !== "all" && transportPolicy !== "relay") {
    throw invalid(`transportPolicy must be 'all' or 'relay', not ${show(transportPolicy)}`);
  }
  if (customServers !== void 0 && !Array.isArray(customServers)) {
    throw invalid(`customServers must be an array of {urls, username, credential}, not ${show(customServers)}`);
  }
  const servers = (customServers ?? []).map((s, i) => checkServer(s, `customServers[${i}]`));
  const out = {};
  if (includeServers) out.includeServers = includeServers;
  if (transportPolicy) out.transportPolicy = transportPolicy;
  if (customServers) out.customServers = servers;
  return out;
}
function checkServer(value, where) {
  if (!value || typeof value !== "object" || Array.isArray(value)) throw invalid(`${where} must be an object {urls, username, credential}`);
  const { urls, username, credential } = value;
  const list = typeof urls === "string" ? [urls] : urls;
  if (!Array.isArray(list) || list.length === 0 || !list.every((u) => typeof u === "string")) {
    throw invalid(`${where}.urls must be a URL or a non-empty array of URLs`);
  }
  for (const u of list) {
    if (!SCHEMES.some((s) => u.startsWith(s)) || u.length <= u.indexOf(":") + 1) {
      throw invalid(`${where}.urls: ${show(u)} is not a stun:, stuns:, turn: or turns: URL`);
    }
  }
  for (const [name, v] of [["username", username], ["credential", credential]]) {
    if (v !== void 0 && typeof v !== "string") throw invalid(`${where}.${name} must be a string`);
  }
  const turn = list.some((u) => u.startsWith("turn"));
  if (turn && (username === void 0 || credential === void 0)) {
    throw invalid(`${where} has TURN URLs: it needs a username and a credential`);
  }
  const server = { urls: typeof urls === "string" ? urls : [...urls] };
  if (username !== void 0) server.username = username;
  if (credential !== void 0) server.credential = credential;
  return server;
}
function iceSettings(config, serverServers) {
  const own = config?.customServers ?? [];
  const iceServers = config?.includeServers === "custom" ? [...own] : [...serverServers, ...own];
  return { iceServers: iceServers.map((s) => ({ ...s })), iceTransportPolicy: config?.transportPolicy === "relay" ? "relay" : "all" };
}

// src/protocol.ts
var PROTOCOL_VERSION = 1;
var LIMITS = {
  signalTypeChars: 128,
  signalDataBytes: 8192,
  streamNameChars: 256,
  /** A Rooms participant's context (`connect.context`), in UTF-8 bytes. */
  contextBytes: 1e3
};

// src/rtc.ts
var MIN_VALIDITY_MS = 36e5;
var shared;
function sharedCertificate() {
  if (typeof RTCPeerConnection === "undefined" || !RTCPeerConnection.generateCertificate) return Promise.resolve(void 0);
  const make = () => RTCPeerConnection.generateCertificate({ name: "ECDSA", namedCurve: "P-256" }).catch(() => void 0);
  shared ?? (shared = make());
  return shared.then((cert) => {
    if (cert && cert.expires - Date.now() > MIN_VALIDITY_MS) return cert;
    shared = make();
    return shared;
  });
}

// src/version.ts
var VERSION = "0.1.0";
var SDK_NAME = "parlor-web";

// src/signaling.ts
var CONNECT_TIMEOUT_MS = 15e3;
var REQUEST_TIMEOUT_MS = 15e3;
var WATCHDOG_INTERVAL_MS = 5e3;
var WATCHDOG_TIMEOUT_MS = 1e4;
var RESUMABLE_WATCHDOG_INTERVAL_MS = 1e3;
var RESUMABLE_WATCHDOG_TIMEOUT_MS = 4e3;
var RESUME_ATTEMPT_MS = 4e3;
var RESUME_BACKOFF_MS = [250, 500, 1e3, 2e3];
var MAX_UNCONFIRMED = 256;
var REPLY_TYPES = /* @__PURE__ */ new Set(["ok", "pong", "published", "subscribed", "iceRestarted", "error"]);
var SignalingChannel = class _SignalingChannel {
  constructor(ws, handlers) {
    this.ws = ws;
    this.handlers = handlers;
    this.nextId = 1;
    this.pending = /* @__PURE__ */ new Map();
    this.closedByUs = false;
    this.forced = false;
    this.closed = false;
    /** When the unanswered watchdog ping was sent, if one is out. */
    this.pingSentAt = null;
    /** Messages received from the server on this connection (`connected` is the first). */
    this.received = 0;
    /** Messages sent after `connect`, the last MAX_UNCONFIRMED of them; `sentBase` is the
     * number of the first one kept. */
    this.sent = [];
    this.sentBase = 0;
    this.reconnecting = false;
  }
  /**
   * Opens the WebSocket and authenticates; resolves with the `connected` snapshot.
   * `context`: with a Rooms join token, the participant's context (sent only if given).
   */
  static open(url, sessionId, token, handlers, context) {
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new WebSocket(url);
      } catch (e) {
        reject(otError("OT_CONNECT_FAILED", `cannot open ${url}: ${e.message}`, ExceptionCodes.CONNECT_FAILED));
        return;
      }
      const channel = new _SignalingChannel(ws, handlers);
      let settled = false;
      const fail = (e) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        channel.closed = true;
        try {
          ws.close();
        } catch {
        }
        reject(e);
      };
      const timer = setTimeout(
        () => fail(otError("OT_CONNECT_FAILED", `no answer from ${url} within ${CONNECT_TIMEOUT_MS} ms`, ExceptionCodes.CONNECT_FAILED)),
        CONNECT_TIMEOUT_MS
      );
      ws.onopen = () => {
        logger.debug("signaling open", url);
        ws.send(
          JSON.stringify({
            type: "connect",
            version: PROTOCOL_VERSION,
            sessionId,
            token,
            client: { name: SDK_NAME, version: VERSION },
            ...context !== void 0 ? { context } : {},
            reconnect: true
          })
        );
      };
      ws.onerror = () => logger.debug("signaling socket error");
      ws.onclose = (ev) => {
        if (!settled) {
          fail(
            otError(
              "OT_CONNECT_FAILED",
              `could not connect to the Parlor server at ${url} (WebSocket closed, code ${ev.code})`,
              ExceptionCodes.CONNECT_FAILED
            )
          );
        } else {
          channel.onSocketClosed(ev.code);
        }
      };
      ws.onmessage = (ev) => {
        if (settled) channel.received++;
        const msg = parse(ev.data);
        if (!msg) return;
        if (!settled) {
          if (msg.type === "connected") {
            settled = true;
            clearTimeout(timer);
            channel.received = 1;
            if (msg.resume) {
              channel.resumeInfo = { url, sessionId, connectionId: msg.connection.connectionId, token: msg.resume.token, graceMs: msg.resume.graceMs };
            }
            channel.startWatchdog();
            resolve({ channel, connected: msg });
          } else if (msg.type === "error") {
            fail(fromServerError("connect", msg));
          } else {
            fail(otError("OT_UNEXPECTED_SERVER_RESPONSE", `expected 'connected', got '${msg.type}'`, ExceptionCodes.UNEXPECTED_SERVER_RESPONSE));
          }
          return;
        }
        channel.onMessage(msg);
      };
    });
  }
  get isOpen() {
    return !this.closed;
  }
  /** Sends a request and resolves with its reply, or rejects with the mapped OTError. */
  request(req, op = "other", timeoutMs = REQUEST_TIMEOUT_MS) {
    if (this.closed || !this.reconnecting && this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(otError("OT_NOT_CONNECTED", `cannot send '${req.type}': not connected to the session`, ExceptionCodes.NOT_CONNECTED));
    }
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(otError("OT_TIMEOUT", `the server did not answer '${req.type}' within ${timeoutMs} ms`, ExceptionCodes.UNEXPECTED_SERVER_RESPONSE));
      }, timeoutMs);
      this.pending.set(id, {
        op,
        resolve: (m) => resolve(m),
        reject,
        timer
      });
      const text = JSON.stringify({ ...req, id });
      logger.debug("→", req.type === "publish" || req.type === "subscribe" || req.type === "restartIce" ? { ...req, sdp: "…" } : req);
      this.send(text);
    });
  }
  /** Sends a message the server does not answer; dropped when the socket is not open. */
  notify(msg) {
    if (this.closed || this.reconnecting || this.ws.readyState !== WebSocket.OPEN) return;
    this.send(JSON.stringify(msg));
  }
  /** Sends (or, while reconnecting, holds) a message, kept for resending after a resume. */
  send(text) {
    if (this.resumeInfo) {
      this.sent.push(text);
      if (this.sent.length > MAX_UNCONFIRMED) {
        this.sent.shift();
        this.sentBase++;
      }
    }
    if (!this.reconnecting && this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
  }
  /** Leaves the session (close 1000); the server tells the others `clientDisconnected`. */
  close() {
    if (this.closed) return;
    this.closedByUs = true;
    if (!this.reconnecting) this.ws.close(1e3);
    this.end(1e3);
  }
  onMessage(msg) {
    if (REPLY_TYPES.has(msg.type) && "id" in msg) {
      const id = msg.id;
      const pending = id !== null ? this.pending.get(id) : void 0;
      if (pending) {
        this.pending.delete(id);
        clearTimeout(pending.timer);
        if (msg.type === "error") pending.reject(fromServerError(pending.op, msg));
        else pending.resolve(msg);
      } else if (msg.type === "error") {
        logger.warn(`server error: ${msg.code}: ${msg.message}`);
      }
      return;
    }
    logger.debug("←", msg.type, msg);
    if (msg.type === "disconnected") this.forced = msg.reason === "forceDisconnected";
    this.handlers.onEvent(msg);
  }
  onSocketClosed(code) {
    if (this.closed || this.reconnecting) return;
    const lost = !this.closedByUs && !this.forced && code !== 4003 && (code === 1006 || code === 1001 || code === 1011 || code === 4008);
    if (lost && this.resumeInfo) {
      this.startReconnecting();
      return;
    }
    this.end(code);
  }
  end(code) {
    if (this.closed) return;
    this.closed = true;
    this.reconnecting = false;
    if (this.watchdog) clearInterval(this.watchdog);
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(otError("OT_NOT_CONNECTED", "the connection to the session ended", ExceptionCodes.NOT_CONNECTED));
    }
    this.pending.clear();
    let reason;
    if (this.closedByUs) reason = "clientDisconnected";
    else if (this.forced || code === 4003) reason = "forceDisconnected";
    else reason = "networkDisconnected";
    this.handlers.onClose(reason, code);
  }
  startWatchdog() {
    const interval = this.resumeInfo ? RESUMABLE_WATCHDOG_INTERVAL_MS : WATCHDOG_INTERVAL_MS;
    const timeout = this.resumeInfo ? RESUMABLE_WATCHDOG_TIMEOUT_MS : WATCHDOG_TIMEOUT_MS;
    if (this.watchdog) clearInterval(this.watchdog);
    this.pingSentAt = null;
    this.watchdog = setInterval(() => {
      if (this.closed || this.reconnecting) return;
      if (this.pingSentAt !== null) {
        if (Date.now() - this.pingSentAt > timeout) {
          logger.warn("no answer from the server: treating the connection as lost");
          const ws = this.ws;
          ws.onclose = null;
          try {
            ws.close(4008);
          } catch {
          }
          this.onSocketClosed(1006);
        }
        return;
      }
      this.pingSentAt = Date.now();
      this.request({ type: "ping" }, "other", 2 * timeout + 6e4).then(
        () => {
          this.pingSentAt = null;
        },
        () => void 0
      );
    }, interval);
  }
  // ----- resuming -----
  /** The WebSocket is lost: try to resume until the server's grace period is over. */
  startReconnecting() {
    const info = this.resumeInfo;
    this.reconnecting = true;
    this.pingSentAt = null;
    logger.warn("the connection to the session was lost; reconnecting");
    this.handlers.onReconnecting?.();
    const deadline = Date.now() + info.graceMs;
    const attempt = async (n) => {
      if (this.closed || !this.reconnecting) return;
      if (Date.now() >= deadline) {
        logger.warn("could not reconnect within the grace period");
        return this.end(1006);
      }
      const outcome = await this.tryResume(info);
      if (outcome === "resumed" || this.closed) return;
      if (outcome === "refused") return this.end(1006);
      const pause = RESUME_BACKOFF_MS[Math.min(n, RESUME_BACKOFF_MS.length - 1)];
      setTimeout(() => void attempt(n + 1), pause);
    };
    void attempt(0);
  }
  /** One resume attempt on a new WebSocket. */
  tryResume(info) {
    return new Promise((resolve) => {
      let ws;
      try {
        ws = new WebSocket(info.url);
      } catch {
        resolve("failed");
        return;
      }
      let done = false;
      const finish = (outcome) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (outcome !== "resumed") {
          ws.onclose = null;
          ws.onmessage = null;
          try {
            ws.close();
          } catch {
          }
        }
        resolve(outcome);
      };
      const timer = setTimeout(() => finish("failed"), RESUME_ATTEMPT_MS);
      ws.onopen = () => ws.send(
        JSON.stringify({
          type: "resume",
          version: PROTOCOL_VERSION,
          sessionId: info.sessionId,
          connectionId: info.connectionId,
          resumeToken: info.token,
          received: this.received
        })
      );
      ws.onerror = () => logger.debug("resume: socket error");
      ws.onclose = () => finish("failed");
      ws.onmessage = (ev) => {
        const msg = parse(ev.data);
        if (msg?.type === "resumed") {
          finish(this.resumed(ws, msg) ? "resumed" : "refused");
        } else if (msg?.type === "error") {
          logger.warn(`the server refused to resume the connection: ${msg.message}`);
          finish("refused");
        } else {
          finish("failed");
        }
      };
    });
  }
  /** `resumed` came on `ws`: it becomes the channel's socket; what the server did not get
   * is sent again. Returns false if that is no longer possible. */
  resumed(ws, msg) {
    const from = msg.heard - this.sentBase;
    if (from < 0 || from > this.sent.length) {
      logger.warn("the server missed more messages than this client kept");
      return false;
    }
    const old = this.ws;
    old.onclose = null;
    old.onmessage = null;
    try {
      old.close();
    } catch {
    }
    this.ws = ws;
    ws.onerror = () => logger.debug("signaling socket error");
    ws.onclose = (ev) => this.onSocketClosed(ev.code);
    ws.onmessage = (ev) => {
      this.received++;
      const m = parse(ev.data);
      if (m) this.onMessage(m);
    };
    this.reconnecting = false;
    for (const text of this.sent.slice(from)) ws.send(text);
    logger.info("reconnected to the session");
    this.startWatchdog();
    this.handlers.onReconnected?.();
    return true;
  }
};
function parse(data) {
  if (typeof data !== "string") {
    logger.warn("ignoring a binary frame from the server");
    return void 0;
  }
  try {
    const msg = JSON.parse(data);
    if (msg && typeof msg === "object" && typeof msg.type === "string") return msg;
  } catch {
  }
  logger.warn("ignoring an unparsable frame from the server");
  return void 0;
}

// src/state.ts
var KEYS = { camera: "self", screen: "presentation", custom: "custom" };
function buildRoomState(input) {
  const participants = {};
  const add = (c, isLocal) => {
    participants[c.connectionId] = {
      id: c.connectionId,
      context: c.data,
      data: c.data,
      isLocal,
      joinedAt: c.creationTime,
      streams: {}
    };
  };
  if (input.local) add(input.local, true);
  for (const c of input.connections) if (!participants[c.connectionId]) add(c, false);
  const streams = {};
  const ordered = [...input.streams].sort((a, b) => a.stream.creationTime - b.stream.creationTime);
  for (const f of ordered) {
    const s = f.stream;
    const owner = participants[s.connection.connectionId];
    const base = KEYS[s.videoType];
    let key = base;
    for (let n = 2; owner && owner.streams[key]; n += 1) key = `${base}-${n}`;
    if (owner) owner.streams[key] = s.streamId;
    streams[s.streamId] = {
      id: s.streamId,
      key,
      participantId: s.connection.connectionId,
      name: s.name,
      videoType: s.videoType,
      audioActive: s.hasAudio,
      videoActive: s.hasVideo,
      videoDimensions: s.videoDimensions ? { ...s.videoDimensions } : null,
      isRemote: f.isRemote,
      isPublishing: f.isPublishing,
      isSpeaking: f.isSpeaking,
      subscription: f.subscription
    };
  }
  return {
    status: input.status,
    sessionId: input.sessionId,
    localParticipantId: input.local?.connectionId ?? null,
    participants,
    streams
  };
}

// src/subscriber.ts
var CONNECT_TIMEOUT_MS2 = 25e3;
var RESUBSCRIBE_DELAY_MS = 1e3;
var MAX_RESUBSCRIBES = 3;
var live = /* @__PURE__ */ new Set();
function liveSubscribers() {
  return [...live];
}
var Subscriber = class extends EventEmitter {
  /** @internal Use session.subscribe. */
  constructor(session, stream, target, properties) {
    super();
    this.upstream = /* @__PURE__ */ new Map();
    this.mediaStream = new MediaStream();
    /** The router turned this subscription's video off: its downlink is too narrow (`videoQuality`). */
    this.qualityOff = false;
    this.destroyed = false;
    this.audioBlocked = false;
    this.resubscribes = 0;
    /** The last scores the server sent (qualityScoreChanged). */
    this.qualityScore = {};
    /** @internal */
    this.status = "pending";
    this.id = uniqueId("OT_subscriber");
    this.session = session;
    this.stream = stream;
    this.props = { ...properties };
    this.audioOn = this.props.subscribeToAudio !== false;
    this.videoOn = this.props.subscribeToVideo !== false;
    this.volume = clampVolume(this.props.audioVolume ?? 100);
    live.add(this);
    this.subscribeToAudio = Object.assign(
      (value) => {
        this.setAudio(value).catch((e) => logger.warn("subscribeToAudio:", e.message));
        return this;
      },
      { promise: (value) => this.setAudio(value) }
    );
    this.subscribeToVideo = Object.assign(
      (value) => {
        this.setVideo(value).catch((e) => logger.warn("subscribeToVideo:", e.message));
        return this;
      },
      { promise: (value) => this.setVideo(value) }
    );
    this.setAudioVolume = Object.assign(
      (value) => {
        this.applyVolume(value);
        return this;
      },
      {
        promise: async (value) => {
          this.applyVolume(value);
        }
      }
    );
    this.levels = new LevelMonitor(
      async () => this.pc ? audioLevelOf(await this.pc.getStats(), "inbound-rtp") : void 0,
      () => this.audioOn && this.stream.hasAudio && this.status === "started" && (this.hasListeners("audioLevelUpdated") || this.session._wantsSpeaking()),
      (audioLevel) => this.emit("audioLevelUpdated", { audioLevel }),
      () => this.session._stateChanged("speaking")
    );
    if (this.props.insertDefaultUI !== false) {
      this.widget = new Widget("subscriber", target, this.props, this.id);
      this.element = this.widget.root;
      this.widget.setName(stream.name);
      this.widget.setAudioOnly(!(stream.hasVideo && this.videoOn));
      const video = this.widget.video;
      video.volume = this.volume / 100;
      video.muted = !this.audioOn;
      video.addEventListener("resize", () => this.onResize());
    }
  }
  /** @internal Subscribes; resolves once media flows (the server reports it connected). */
  async _start(callback) {
    const work = this.connect().then(
      () => {
        this.emit("connected", {});
        this.session._stateChanged("subscriptionStarted");
      },
      (e) => {
        const error = asOTError(e, "OT_UNABLE_TO_SUBSCRIBE", ExceptionCodes.UNABLE_TO_SUBSCRIBE);
        this._destroy("subscribeFailed");
        throw error;
      }
    );
    return complete(work, callback);
  }
  /** @internal Plays the audio through this output device, where the browser can. */
  async _setSinkId(deviceId) {
    const video = this.widget?.video;
    await video?.setSinkId?.(deviceId);
  }
  getAudioVolume() {
    return this.volume;
  }
  isAudioBlocked() {
    return this.audioBlocked;
  }
  /** The width of the received video, in pixels. */
  videoWidth() {
    return this.widget?.video.videoWidth || void 0;
  }
  videoHeight() {
    return this.widget?.video.videoHeight || void 0;
  }
  /** OpenTok.js-style stats: `{audio, video, timestamp}` with bytes, packets and frame rate. */
  getStats(callback) {
    return complete(
      this.report().then((r) => subscriberStats(r)),
      callback
    );
  }
  /** The browser's RTCStatsReport for this subscription's peer connection. */
  getRtcStatsReport() {
    return this.report();
  }
  getImgData() {
    return snapshot(this.widget?.video);
  }
  getStyle() {
    return { ...this.props.style };
  }
  setStyle(style, value) {
    const next = typeof style === "string" ? { [style]: value } : style;
    this.props.style = { ...this.props.style, ...next };
    if (this.widget && this.props.style.nameDisplayMode) {
      this.widget.root.classList.remove("OT_name-auto", "OT_name-on", "OT_name-off");
      this.widget.root.classList.add(`OT_name-${this.props.style.nameDisplayMode}`);
    }
    return this;
  }
  /**
   * Sets the video size to receive (see `preferredResolution`); `null` clears it. Of a
   * simulcast stream the router switches to the smallest layer that covers it, on that
   * layer's next keyframe.
   */
  async setPreferredResolution(resolution) {
    if (resolution !== null && resolution !== "auto" && !(isSize(resolution?.width) && isSize(resolution?.height))) {
      throw otError("OT_INVALID_PARAMETER", "preferredResolution must be { width, height } in whole pixels, 'auto' or null", ExceptionCodes.INVALID_PARAMETER);
    }
    this.props.preferredResolution = resolution ?? void 0;
    this.watchSize();
    await this.sendPreferences();
  }
  /** Sets the frame rate to receive (see `preferredFrameRate`); `null` clears it. */
  async setPreferredFrameRate(frameRate) {
    if (frameRate !== null && !(typeof frameRate === "number" && frameRate > 0 && frameRate <= 240)) {
      throw otError("OT_INVALID_PARAMETER", "preferredFrameRate must be a number above 0 and at most 240, or null", ExceptionCodes.INVALID_PARAMETER);
    }
    this.props.preferredFrameRate = frameRate ?? void 0;
    await this.sendPreferences();
  }
  /** @internal Plays audio that the browser's autoplay policy blocked (from a user gesture). */
  async _unblockAudio() {
    if (!this.audioBlocked || !this.widget) return;
    const video = this.widget.video;
    video.muted = !this.audioOn;
    await video.play();
    this.audioBlocked = false;
    this.emit("audioUnblocked", {});
  }
  // ----- internal, driven by Session -----
  /** @internal */
  _subscriptionId() {
    return this.subscriptionId;
  }
  /** @internal After a resumed connection: new ICE credentials (see Publisher._restartIce). */
  async _restartIce() {
    const pc = this.pc;
    if (!pc || !this.subscriptionId || pc.signalingState !== "stable") return;
    try {
      const offer = await pc.createOffer({ iceRestart: true });
      await pc.setLocalDescription(offer);
      const reply = await this.session._request({ type: "restartIce", subscriptionId: this.subscriptionId, sdp: offer.sdp });
      await pc.setRemoteDescription({ type: "answer", sdp: reply.sdp });
    } catch (e) {
      logger.warn("subscriber: ICE restart failed:", e.message);
    }
  }
  /** @internal Relayed: the publisher's answer or candidate. */
  _onP2pSignal(msg) {
    const link = this.link;
    if (!link || msg.subscriptionId !== this.subscriptionId) return;
    if (msg.kind === "answer" && msg.sdp) {
      link.setRemote({ type: "answer", sdp: msg.sdp }).catch((e) => {
        this.connected?.reject(otError("OT_SET_REMOTE_DESCRIPTION_FAILED", `the publisher's answer was refused: ${e.message}`, ExceptionCodes.UNABLE_TO_SUBSCRIBE));
      });
    } else if (msg.kind === "candidate" && msg.candidate) {
      void link.remoteCandidate(msg.candidate);
    }
  }
  /** @internal The server reports the subscription's media up. */
  _onConnected() {
    this.connected?.resolve();
  }
  /** @internal The server scored a window of this subscription's audio or video. */
  _onQualityScore(media, score) {
    const key = media === "audio" ? "audioQualityScore" : "videoQualityScore";
    if (this.qualityScore[key] === score) return;
    this.qualityScore = { ...this.qualityScore, [key]: score };
    this.emit("qualityScoreChanged", { qualityScore: { ...this.qualityScore } });
  }
  /**
   * @internal The router's audio-only fallback (OpenTok.js's reason `quality`): a warning,
   * its lifting, or this subscription's video turned off or back on. Shown like the
   * publisher turning video off; subscribeToVideo is unchanged.
   */
  _onVideoQuality(state) {
    if (state === "warning") this.emit("videoDisableWarning", {});
    else if (state === "warningLifted") this.emit("videoDisableWarningLifted", {});
    else if (state === "disabled" !== this.qualityOff) {
      this.qualityOff = state === "disabled";
      this.widget?.setAudioOnly(!(this.videoOn && this.stream.hasVideo && !this.qualityOff));
      if (this.videoOn && this.stream.hasVideo) this.emit(this.qualityOff ? "videoDisabled" : "videoEnabled", { reason: "quality" });
    }
  }
  /** @internal The server ended the subscription (its stream went, or its media failed). */
  _onEnded() {
    this.closePeer();
    if (this.connected && !this.connected.settled) {
      this.connected.reject(otError("OT_STREAM_DESTROYED", "the stream ended before the subscription connected", ExceptionCodes.UNABLE_TO_SUBSCRIBE));
      return;
    }
    if (this.destroyed) return;
    this.status = "ended";
    this.emit("disconnected", {});
    this.session._stateChanged("subscriptionEnded");
    setTimeout(() => {
      if (this.destroyed || this.stream.destroyed || !this.session._isConnected()) return;
      if (this.resubscribes >= MAX_RESUBSCRIBES) return;
      this.resubscribes += 1;
      logger.info(`resubscribing to ${this.stream.streamId}`);
      this.status = "pending";
      this.connect().then(
        () => {
          this.emit("connected", {});
          this.session._stateChanged("subscriptionStarted");
        },
        (e) => logger.warn("resubscribe failed:", e.message)
      );
    }, RESUBSCRIBE_DELAY_MS);
  }
  /** @internal The stream changed a property. */
  _onStreamPropertyChanged(property, newValue) {
    if (property === "hasVideo") {
      this.widget?.setAudioOnly(!(newValue && this.videoOn && !this.qualityOff));
      if (this.videoOn) this.emit(newValue ? "videoEnabled" : "videoDisabled", { reason: "publishVideo" });
    }
    if (property === "hasAudio") this.session._stateChanged("streamPropertyChanged");
  }
  /** @internal The stream is gone but the app keeps the element (streamDestroyed prevented). */
  _end() {
    this.closePeer();
    this.status = "ended";
  }
  /** @internal Unsubscribes (if still subscribed), removes the element, emits `destroyed`. */
  _destroy(reason) {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    const id = this.subscriptionId;
    if (id && this.status !== "ended" && this.session._isConnected()) {
      this.session._request({ type: "unsubscribe", subscriptionId: id }).catch(() => void 0);
    }
    this.closePeer();
    this.status = "ended";
    this.stopWatchingSize();
    this.widget?.destroy();
    this.widget = void 0;
    this.element = void 0;
    this.session._forgetSubscriber(this);
    this.emit("destroyed", { reason });
  }
  /** @internal */
  _isSpeaking() {
    return this.levels.speaking;
  }
  /** @internal */
  _isDestroyed() {
    return this.destroyed;
  }
  // ----- private -----
  async connect() {
    const session = this.session;
    if (this.qualityOff) this._onVideoQuality("enabled");
    const pc = new RTCPeerConnection(await session._rtcConfiguration());
    this.pc = pc;
    this.mediaStream = new MediaStream();
    this.connected = deferred();
    const connected = this.connected;
    pc.addTransceiver("audio", { direction: "recvonly" });
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addEventListener("track", (e) => this.onTrack(e.track));
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState === "connected") connected.resolve();
      if (pc.connectionState === "failed") {
        connected.reject(otError("OT_ICE_WORKFLOW_FAILED", "the media connection to the server failed", ExceptionCodes.SUBSCRIBER_ICE_WORKFLOW_FAILED));
      }
    });
    const link = session._isRelayed() ? new PeerLink(pc, session) : void 0;
    this.link = link;
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    if (link) {
      const reply2 = await session._request(
        {
          type: "subscribe",
          streamId: this.stream.streamId,
          audio: this.audioOn,
          video: this.videoOn,
          ...this.props.testNetwork ? { testNetwork: true } : {},
          sdp: ""
        },
        "subscribe"
      );
      this.subscriptionId = reply2.subscriptionId;
      session._registerSubscription(reply2.subscriptionId, this);
      if (this.pc !== pc) throw otError("OT_STREAM_DESTROYED", "the subscription ended while it was being set up", ExceptionCodes.UNABLE_TO_SUBSCRIBE);
      link.route = { to: this.stream.connection.connectionId, streamId: this.stream.streamId, subscriptionId: reply2.subscriptionId };
      await link.sendDescription("offer", offer.sdp);
      await withTimeout(connected.promise, CONNECT_TIMEOUT_MS2, "subscribing", "OT_ICE_WORKFLOW_FAILED", ExceptionCodes.SUBSCRIBER_ICE_WORKFLOW_FAILED);
      this.status = "started";
      this.applyRelayedVideo();
      this.levels.start();
      return;
    }
    const reply = await session._request(
      {
        type: "subscribe",
        streamId: this.stream.streamId,
        audio: this.audioOn,
        video: this.videoOn,
        ...this.props.testNetwork ? { testNetwork: true } : {},
        sdp: offer.sdp
      },
      "subscribe"
    );
    this.subscriptionId = reply.subscriptionId;
    session._registerSubscription(reply.subscriptionId, this);
    if (this.pc !== pc) throw otError("OT_STREAM_DESTROYED", "the subscription ended while it was being set up", ExceptionCodes.UNABLE_TO_SUBSCRIBE);
    try {
      await pc.setRemoteDescription({ type: "answer", sdp: reply.sdp });
    } catch (e) {
      throw otError("OT_SET_REMOTE_DESCRIPTION_FAILED", `the server's answer was refused: ${e.message}`, ExceptionCodes.UNABLE_TO_SUBSCRIBE);
    }
    if (this.props.preferredResolution !== void 0 || this.props.preferredFrameRate !== void 0) {
      this.watchSize();
      this.sendPreferences().catch((e) => logger.warn("subscriber preferences:", e.message));
    }
    await withTimeout(connected.promise, CONNECT_TIMEOUT_MS2, "subscribing", "OT_ICE_WORKFLOW_FAILED", ExceptionCodes.SUBSCRIBER_ICE_WORKFLOW_FAILED);
    this.status = "started";
    this.levels.start();
  }
  /** The size to ask for: the preferred one, or (`'auto'`) the element's on screen. */
  wantedResolution() {
    const r = this.props.preferredResolution;
    if (r !== "auto") return r ?? null;
    const el = this.widget?.root;
    const dpr = globalThis.devicePixelRatio || 1;
    const width = Math.round((el?.clientWidth ?? 0) * dpr);
    const height = Math.round((el?.clientHeight ?? 0) * dpr);
    return width > 0 && height > 0 ? { width, height } : null;
  }
  /** Tells the server the preferences (routed sessions; a relayed stream has one layer). */
  async sendPreferences() {
    if (!this.subscriptionId || this.link || this.status === "ended" || !this.session._isConnected()) return;
    const preferredResolution = this.wantedResolution();
    const key = JSON.stringify([preferredResolution, this.props.preferredFrameRate ?? null]);
    if (this.sizeWatch) this.sizeWatch.sent = key;
    await this.session._request({
      type: "setSubscription",
      subscriptionId: this.subscriptionId,
      preferredResolution,
      preferredFrameRate: this.props.preferredFrameRate ?? null
    });
  }
  /** `'auto'`: follows the element's size (debounced); otherwise stops following it. */
  watchSize() {
    if (this.props.preferredResolution !== "auto") return this.stopWatchingSize();
    const el = this.widget?.root;
    if (this.sizeWatch || !el || typeof ResizeObserver === "undefined") return;
    const watch = {
      observer: new ResizeObserver(() => {
        clearTimeout(watch.timer);
        watch.timer = setTimeout(() => {
          const key = JSON.stringify([this.wantedResolution(), this.props.preferredFrameRate ?? null]);
          if (key !== watch.sent) this.sendPreferences().catch((e) => logger.warn("subscriber preferences:", e.message));
        }, 300);
      })
    };
    watch.observer.observe(el);
    this.sizeWatch = watch;
  }
  stopWatchingSize() {
    if (!this.sizeWatch) return;
    this.sizeWatch.observer.disconnect();
    clearTimeout(this.sizeWatch.timer);
    this.sizeWatch = void 0;
  }
  onTrack(track) {
    this.mediaStream.addTrack(track);
    if (this.mediaStream.getTracks().length === 1) {
      this.emit("mediaStreamAvailable", { mediaStream: this.mediaStream });
    }
    if (!this.widget) return;
    const video = this.widget.video;
    const first = !video.srcObject;
    this.widget.attach(this.mediaStream);
    if (first) this.emit("videoElementCreated", { element: video });
    this.play(video);
  }
  play(video) {
    video.play().catch((e) => {
      if (e.name !== "NotAllowedError" || video.muted) return;
      video.muted = true;
      video.play().catch(() => void 0);
      if (!this.audioBlocked) {
        this.audioBlocked = true;
        this.emit("audioBlocked", {});
      }
    });
  }
  onResize() {
    const video = this.widget?.video;
    if (!video || !video.videoWidth) return;
    const next = { width: video.videoWidth, height: video.videoHeight };
    const prev = this.lastDimensions;
    this.lastDimensions = next;
    if (prev && (prev.width !== next.width || prev.height !== next.height)) {
      this.emit("videoDimensionsChanged", { oldValue: prev, newValue: next });
    }
  }
  async setAudio(value) {
    const on = !!value;
    this.audioOn = on;
    if (this.widget && !this.audioBlocked) this.widget.video.muted = !on;
    await this.sendSubscription({ audio: on });
  }
  async setVideo(value) {
    const on = !!value;
    if (on === this.videoOn) return;
    this.videoOn = on;
    this.widget?.setAudioOnly(!(on && this.stream.hasVideo && !this.qualityOff));
    this.applyRelayedVideo();
    if (this.stream.hasVideo) this.emit(on ? "videoEnabled" : "videoDisabled", { reason: "subscribeToVideo" });
    await this.sendSubscription({ video: on });
  }
  /** Relayed: the publisher keeps sending; what is not wanted is not played. */
  applyRelayedVideo() {
    if (!this.link) return;
    for (const t of this.mediaStream.getVideoTracks()) t.enabled = this.videoOn;
  }
  async sendSubscription(change) {
    if (!this.subscriptionId || this.status === "ended" || !this.session._isConnected()) return;
    await this.session._request({ type: "setSubscription", subscriptionId: this.subscriptionId, ...change });
  }
  applyVolume(value) {
    this.volume = clampVolume(value);
    if (this.widget) this.widget.video.volume = this.volume / 100;
  }
  /** @internal What this subscription receives, for the server's `stats` (none before it is set up). */
  async _upstreamStats() {
    const id = this.subscriptionId;
    if (!this.pc || !id || this.status !== "started") return [];
    return upstreamReports(await this.pc.getStats(), { subscriptionId: id }, this.upstream);
  }
  async report() {
    if (!this.pc) {
      throw otError("OT_PEER_CONNECTION_NOT_CONNECTED", "the subscriber is not connected", ExceptionCodes.PEER_CONNECTION_NOT_CONNECTED);
    }
    return this.pc.getStats();
  }
  closePeer() {
    this.levels.stop();
    this.pc?.close();
    this.pc = void 0;
    this.link = void 0;
  }
};
function clampVolume(v) {
  const n = Number(v);
  return Number.isFinite(n) ? Math.max(0, Math.min(100, n)) : 100;
}
function isSize(v) {
  return typeof v === "number" && Number.isInteger(v) && v > 0 && v <= 8192;
}

// src/session.ts
var MAX_STATS_REPORTS = 32;
var NO_CAPABILITIES = {
  publish: false,
  subscribe: false,
  signal: false,
  forceDisconnect: false,
  forceUnpublish: false,
  forceMute: false
};
var Session = class extends EventEmitter {
  /** @internal Use OT.initSession. */
  constructor(apiKey, sessionId, options, host) {
    super();
    this.capabilities = capabilities(NO_CAPABILITIES);
    /** Every connection in the session, this client's included. */
    this.connections = new Collection();
    /** Every stream in the session, this client's included. */
    this.streams = new Collection();
    /** The server's STUN/TURN servers for this connection (`connected.iceServers`). */
    this.serverIceServers = [];
    /** The session is relayed (`connected.relayed`): media goes peer to peer. */
    this.relayed = false;
    /** Streams speaking, and the dominant speaker, as the server announced (`speakers`). */
    this.speaking = /* @__PURE__ */ new Set();
    this.status = "initialized";
    this.publishers = /* @__PURE__ */ new Map();
    this.allPublishers = /* @__PURE__ */ new Set();
    this.subscribers = /* @__PURE__ */ new Set();
    this.subscriptions = /* @__PURE__ */ new Map();
    /** Subscriptions / streams the server ended before its reply named them (protocol.md Note 5). */
    this.endedEarly = /* @__PURE__ */ new Set();
    this.mutedEarly = /* @__PURE__ */ new Set();
    this.apiKey = String(apiKey ?? "");
    this.sessionId = String(sessionId ?? "");
    this.options = { ...options };
    this.iceConfig = checkIceConfig(this.options.iceConfig);
    this.host = host;
    this.connect = Object.assign(
      (token, callback) => {
        void complete(this.doConnect(token), callback).catch((e) => {
          if (!callback) logger.error(`connect failed: ${e.name}: ${e.message}`);
        });
        return this;
      },
      { promise: (token) => this.doConnect(token).then(() => this) }
    );
    const publish = (a, b, c) => {
      const { publisher, callback } = this.publisherFor(a, b, c);
      void complete(this.doPublish(publisher), callback).catch(() => void 0);
      return publisher;
    };
    this.publish = Object.assign(publish, {
      promise: (a, props) => {
        const { publisher } = this.publisherFor(a, props, void 0);
        return this.doPublish(publisher).then(() => publisher);
      }
    });
    const subscribe = (stream, target, props, callback) => {
      const args = subscribeArgs(target, props, callback);
      const { subscriber, started } = this.doSubscribe(stream, args.target, args.props);
      void complete(started, args.callback).catch(() => void 0);
      return subscriber;
    };
    this.subscribe = Object.assign(subscribe, {
      promise: (stream, target, props) => {
        const args = subscribeArgs(target, props, void 0);
        const { subscriber, started } = this.doSubscribe(stream, args.target, args.props);
        return started.then(() => subscriber);
      }
    });
  }
  /** Whether the session is connected. */
  isConnected() {
    return this.status === "connected";
  }
  /** Leaves the session; `sessionDisconnected` follows. */
  disconnect() {
    if (this.channel && this.status === "connected") {
      this.setStatus("disconnecting");
      this.channel.close();
    } else if (this.status === "connecting") {
      this.setStatus("disconnecting");
    }
    return Promise.resolve();
  }
  /** Stops publishing `publisher` (its element is removed unless its streamDestroyed is prevented). */
  unpublish(publisher) {
    if (!(publisher instanceof Publisher)) {
      throw otError("OT_INVALID_PARAMETER", "unpublish needs a Publisher", ExceptionCodes.INVALID_PARAMETER);
    }
    if (publisher.session !== this) return;
    publisher._unpublish();
  }
  /** Stops a subscription and removes its element. */
  unsubscribe(subscriber) {
    if (!(subscriber instanceof Subscriber)) {
      throw otError("OT_INVALID_PARAMETER", "unsubscribe needs a Subscriber", ExceptionCodes.INVALID_PARAMETER);
    }
    subscriber._destroy("unsubscribe");
  }
  /** Sends a signal to everyone (or to `to`): the `signal` and `signal:<type>` events. */
  signal(options, callback) {
    if (typeof options === "function") {
      callback = options;
      options = void 0;
    }
    return complete(this.doSignal(options ?? {}), callback);
  }
  /** Moderators: disconnects another client. */
  forceDisconnect(connection, callback) {
    const work = (async () => {
      const connectionId = typeof connection === "string" ? connection : connection?.connectionId;
      this.check("forceDisconnect", ExceptionCodes.UNABLE_TO_FORCE_DISCONNECT, "forceDisconnect");
      if (!connectionId) throw otError("OT_INVALID_PARAMETER", "forceDisconnect needs a Connection", ExceptionCodes.INVALID_PARAMETER);
      await this._request({ type: "forceDisconnect", connectionId }, "forceDisconnect");
    })();
    return complete(work, callback);
  }
  /** Moderators: stops another client's stream. */
  forceUnpublish(stream, callback) {
    const work = (async () => {
      const streamId = typeof stream === "string" ? stream : stream?.streamId;
      this.check("forceUnpublish", ExceptionCodes.UNABLE_TO_FORCE_UNPUBLISH, "forceUnpublish");
      if (!streamId) throw otError("OT_INVALID_PARAMETER", "forceUnpublish needs a Stream", ExceptionCodes.INVALID_PARAMETER);
      await this._request({ type: "forceUnpublish", streamId }, "forceUnpublish");
    })();
    return complete(work, callback);
  }
  /** Moderators: mutes one stream's audio (the publisher may unmute). */
  async forceMuteStream(stream) {
    const streamId = typeof stream === "string" ? stream : stream?.streamId;
    this.check("forceMute", ExceptionCodes.UNABLE_TO_FORCE_MUTE, "forceMuteStream");
    if (!streamId) throw otError("OT_INVALID_PARAMETER", "forceMuteStream needs a Stream", ExceptionCodes.INVALID_PARAMETER);
    await this._request({ type: "forceMuteStream", streamId }, "forceMute");
  }
  /** Moderators: mutes every stream's audio but the excluded ones. */
  async forceMuteAll(excludedStreams) {
    this.check("forceMute", ExceptionCodes.UNABLE_TO_FORCE_MUTE, "forceMuteAll");
    const excludedStreamIds = (excludedStreams ?? []).map((s) => typeof s === "string" ? s : s.streamId);
    await this._request({ type: "forceMuteAll", excludedStreamIds }, "forceMute");
  }
  /** The local Publisher publishing `stream`, if any. */
  getPublisherForStream(stream) {
    const id = typeof stream === "string" ? stream : stream?.streamId;
    return id ? this.publishers.get(id) : void 0;
  }
  /** The Subscribers receiving `stream`. */
  getSubscribersForStream(stream) {
    const id = typeof stream === "string" ? stream : stream?.streamId;
    return [...this.subscribers].filter((s) => s.stream.streamId === id);
  }
  /** The Room State: participants and streams, as one plain object (see `stateChanged`). */
  getState() {
    const facts = [];
    for (const stream of this.streams) {
      const publisher = this.publishers.get(stream.streamId);
      if (publisher) {
        facts.push({ stream, isRemote: false, isPublishing: publisher._isPublishing(), isSpeaking: this.isSpeaking(stream, [publisher]), subscription: null });
        continue;
      }
      const subs = this.getSubscribersForStream(stream).filter((s) => !s._isDestroyed());
      const order = ["started", "pending", "ended"];
      const status = subs.length ? order.find((o) => subs.some((s) => s.status === o)) : "none";
      facts.push({
        stream,
        isRemote: stream.connection.connectionId !== this.connection?.connectionId,
        isPublishing: false,
        isSpeaking: this.isSpeaking(stream, subs),
        subscription: { status, subscribers: subs.length }
      });
    }
    return buildRoomState({
      status: this.status,
      sessionId: this.sessionId,
      local: this.status === "disconnected" ? void 0 : this.connection,
      connections: this.connections.toArray(),
      streams: facts
    });
  }
  // ----- internal API for Publisher and Subscriber -----
  /** @internal */
  _request(req, op = "other") {
    if (!this.channel || !this.channel.isOpen) {
      return Promise.reject(otError("OT_NOT_CONNECTED", `cannot send '${req.type}': not connected to the session`, ExceptionCodes.NOT_CONNECTED));
    }
    return this.channel.request(req, op);
  }
  /** @internal */
  _isConnected() {
    return this.status === "connected" && !!this.channel?.isOpen;
  }
  /**
   * Replaces the `iceConfig` given to OT.initSession (OpenTok.js's Session.setIceConfig): it
   * applies to the peer connections made from now on. Throws OT_INVALID_PARAMETER as
   * initSession does for a malformed one.
   */
  setIceConfig(iceConfig) {
    this.iceConfig = checkIceConfig(iceConfig);
  }
  /** @internal */
  async _rtcConfiguration() {
    const config = { ...iceSettings(this.iceConfig, this.serverIceServers), bundlePolicy: "max-bundle", rtcpMuxPolicy: "require" };
    const certificate = await sharedCertificate();
    if (certificate) config.certificates = [certificate];
    return config;
  }
  /** @internal Whether the session is relayed (peer-to-peer media, `p2pSignal`). */
  _isRelayed() {
    return this.relayed;
  }
  /** @internal */
  _registerPublisher(streamId, publisher) {
    this.publishers.set(streamId, publisher);
    const announced = this.streams.get(streamId);
    if (announced) publisher._onStreamCreated(announced);
    if (this.mutedEarly.delete(streamId)) publisher._onMuteForced();
    if (this.endedEarly.delete(streamId)) publisher._onStreamDestroyed("mediaStopped", void 0);
  }
  /** @internal */
  _unregisterPublisher(publisher) {
    for (const [id, p] of this.publishers) if (p === publisher) this.publishers.delete(id);
    this.allPublishers.delete(publisher);
  }
  /** @internal */
  _registerSubscription(subscriptionId, subscriber) {
    this.subscriptions.set(subscriptionId, subscriber);
    if (this.endedEarly.delete(subscriptionId)) subscriber._onEnded();
  }
  /** @internal */
  _forgetSubscriber(subscriber) {
    this.subscribers.delete(subscriber);
    const id = subscriber._subscriptionId();
    if (id) this.subscriptions.delete(id);
    this._stateChanged("unsubscribed");
  }
  /**
   * @internal Whether this client must detect speaking itself (someone listens to
   * stateChanged in a relayed session; a routed session's server announces `speakers`).
   */
  _wantsSpeaking() {
    return this.relayed && this.hasListeners("stateChanged");
  }
  /** Room State's isSpeaking: the server's word, or in a relayed session our own levels. */
  isSpeaking(stream, local) {
    return this.relayed ? local.some((l) => l._isSpeaking()) : this.speaking.has(stream.streamId);
  }
  /** @internal Re-issues the Room State. */
  _stateChanged(reason) {
    if (!this.hasListeners("stateChanged")) return;
    this.emit("stateChanged", { state: this.getState(), reason });
  }
  // ----- connecting -----
  async doConnect(token) {
    if (this.status === "connected" || this.status === "connecting") {
      throw otError("OT_INVALID_PARAMETER", "this session is already connected or connecting", ExceptionCodes.INVALID_PARAMETER);
    }
    if (!this.sessionId) {
      throw this.fail(otError("OT_INVALID_SESSION_ID", "the session ID is empty", ExceptionCodes.INVALID_SESSION_ID));
    }
    if (typeof token !== "string" || !token) {
      throw this.fail(otError("OT_INVALID_PARAMETER", "connect needs a client token", ExceptionCodes.INVALID_PARAMETER));
    }
    const key = apiKeyOfSession(this.sessionId);
    if (key && this.apiKey && key !== this.apiKey) {
      throw this.fail(otError("OT_AUTHENTICATION_ERROR", `the API key ${this.apiKey} does not match the session (project ${key})`, ExceptionCodes.AUTHENTICATION_ERROR));
    }
    let url;
    try {
      url = signalingUrl(this.options.serverUrl ?? this.host.defaultServerUrl());
    } catch (e) {
      throw this.fail(e);
    }
    this.setStatus("connecting");
    void sharedCertificate();
    let opened;
    try {
      opened = await SignalingChannel.open(
        url,
        this.sessionId,
        token,
        {
          onEvent: (m) => this.onEvent(m),
          onClose: (reason) => this.onClosed(reason),
          onReconnecting: () => this.onReconnecting(),
          onReconnected: () => this.onReconnected()
        },
        this.options.context
      );
    } catch (e) {
      this.setStatus("disconnected");
      throw this.fail(e);
    }
    if (this.status !== "connecting") {
      opened.channel.close();
      this.setStatus("disconnected");
      throw otError("OT_CONNECT_FAILED", "disconnect() was called before the session connected", ExceptionCodes.CONNECT_FAILED);
    }
    this.channel = opened.channel;
    this.onConnected(opened.connected);
  }
  onConnected(msg) {
    this.connection = this.addConnection(msg.connection);
    this.role = msg.role;
    this.capabilities = capabilities(msg.capabilities);
    this.serverIceServers = msg.iceServers ?? [];
    this.relayed = msg.relayed === true;
    const others = msg.connections.map((c) => this.addConnection(c));
    const streams = msg.streams.map((s) => this.addStream(s));
    this.setStatus("connected");
    this.startStatsReports(msg.statsInterval ?? 0);
    this.emit("sessionConnected", { connections: others, streams });
    queueMicrotask(() => {
      if (this.status !== "connected") return;
      if (!this.options.connectionEventsSuppressed) {
        this.emit("connectionCreated", { connection: this.connection });
        for (const c of others) if (this.connections.has(c.connectionId)) this.emit("connectionCreated", { connection: c });
      }
      for (const s of streams) if (!s.destroyed) this.emit("streamCreated", { stream: s });
    });
  }
  /** Sends the server what this client measures of its media, every `interval` ms. */
  startStatsReports(interval) {
    clearInterval(this.statsTimer);
    if (!(interval > 0)) return;
    this.statsTimer = setInterval(() => {
      if (!this._isConnected()) {
        clearInterval(this.statsTimer);
        return;
      }
      const sources = [...new Set(this.publishers.values()), ...new Set(this.subscriptions.values())];
      void Promise.all(sources.map((s) => s._upstreamStats().catch(() => []))).then((lists) => {
        const reports = lists.flat().slice(0, MAX_STATS_REPORTS);
        if (reports.length && this.channel) this.channel.notify({ type: "stats", reports });
      }).catch(() => void 0);
    }, interval);
  }
  fail(error) {
    this.host.exception(error, this);
    return error;
  }
  // ----- server events -----
  onEvent(msg) {
    switch (msg.type) {
      case "connectionCreated": {
        const connection = this.addConnection(msg.connection);
        if (!this.options.connectionEventsSuppressed) this.emit("connectionCreated", { connection });
        this._stateChanged("connectionCreated");
        break;
      }
      case "connectionDestroyed": {
        const connection = this.connections.get(msg.connection.connectionId) ?? new Connection(msg.connection);
        this.connections.items.delete(connection.connectionId);
        for (const s of this.streams) {
          if (s.connection.connectionId === connection.connectionId) this.removeStream(s, msg.reason);
        }
        if (!this.options.connectionEventsSuppressed) {
          this.emit("connectionDestroyed", { connection, reason: msg.reason, ...msg.detail ? { detail: msg.detail } : {} });
        }
        this._stateChanged("connectionDestroyed");
        break;
      }
      case "streamCreated": {
        const stream = this.addStream(msg.stream);
        const publisher = this.publishers.get(stream.streamId);
        if (publisher) publisher._onStreamCreated(stream);
        else if (!this.isOwn(stream)) this.emit("streamCreated", { stream });
        this._stateChanged("streamCreated");
        break;
      }
      case "streamDestroyed": {
        const stream = this.streams.get(msg.stream.streamId);
        const publisher = this.publishers.get(msg.stream.streamId);
        if (publisher) {
          if (stream) this.streams.items.delete(stream.streamId);
          if (stream) stream.destroyed = true;
          publisher._onStreamDestroyed(msg.reason, stream);
        } else if (stream) {
          this.removeStream(stream, msg.reason);
        } else if (this.isOwnWire(msg.stream)) {
          this.endedEarly.add(msg.stream.streamId);
        }
        this._stateChanged("streamDestroyed");
        break;
      }
      case "streamPropertyChanged": {
        const stream = this.streams.get(msg.stream.streamId);
        if (!stream) break;
        stream.update(msg.stream);
        this.emit("streamPropertyChanged", {
          stream,
          changedProperty: msg.changedProperty,
          oldValue: msg.oldValue,
          newValue: msg.newValue
        });
        for (const s of this.getSubscribersForStream(stream)) s._onStreamPropertyChanged(msg.changedProperty, msg.newValue);
        this._stateChanged("streamPropertyChanged");
        break;
      }
      case "signal": {
        const from = msg.from ? this.connections.get(msg.from.connectionId) ?? new Connection(msg.from) : null;
        const type = msg.signalType ? `signal:${msg.signalType}` : "signal";
        const event = makeEvent(type, this, { data: msg.data, from });
        this.dispatchEvent(event, "signal");
        if (msg.signalType) this.dispatchEvent(event);
        break;
      }
      case "layersNeeded":
        this.publishers.get(msg.streamId)?._onLayersNeeded(msg.layers);
        break;
      case "muteForced": {
        const publisher = this.publishers.get(msg.streamId);
        if (publisher) publisher._onMuteForced();
        else this.mutedEarly.add(msg.streamId);
        this.emit("muteForced", { streamId: msg.streamId });
        this._stateChanged("muteForced");
        break;
      }
      case "audioCensored":
        this.emit("audioCensored", { streamId: msg.streamId, censored: msg.censored === true });
        break;
      case "speakers": {
        this.speaking = new Set(msg.speaking);
        const streamOf = (id) => this.streams.get(id);
        this.emit("speakersChanged", {
          speaking: msg.speaking.map(streamOf).filter((s) => s !== void 0),
          dominantSpeaker: msg.dominant && streamOf(msg.dominant) || null
        });
        this._stateChanged("speaking");
        break;
      }
      case "archiveStarted":
      case "archiveStopped":
        this.emit(msg.type, { id: msg.id, name: msg.name ?? "" });
        this._stateChanged(msg.type);
        break;
      case "subscriptionConnected":
        this.subscriptions.get(msg.subscriptionId)?._onConnected();
        break;
      case "qualityScore":
        this.subscriptions.get(msg.subscriptionId)?._onQualityScore(msg.media, msg.score);
        break;
      case "videoQuality":
        this.subscriptions.get(msg.subscriptionId)?._onVideoQuality(msg.state);
        break;
      case "subscriptionEnded": {
        const sub = this.subscriptions.get(msg.subscriptionId);
        const publisher = this.publishers.get(msg.streamId);
        if (sub) sub._onEnded();
        else if (publisher) publisher._onPeerEnded(msg.subscriptionId);
        else this.endedEarly.add(msg.subscriptionId);
        break;
      }
      case "p2pSignal": {
        const publisher = msg.kind !== "answer" ? this.publishers.get(msg.streamId) : void 0;
        const sub = this.subscriptions.get(msg.subscriptionId);
        if (publisher && (msg.kind === "offer" || !sub)) publisher._onP2pSignal(msg);
        else if (sub) sub._onP2pSignal(msg);
        else logger.debug("p2pSignal for nothing of ours", msg.streamId, msg.subscriptionId);
        break;
      }
      case "disconnected":
        this.disconnectDetail = msg.detail;
        break;
      default:
        logger.debug("ignoring unknown event", msg.type);
    }
  }
  /** The signaling connection was lost; the channel is resuming it. */
  onReconnecting() {
    this.emit("sessionReconnecting", {});
    this._stateChanged("reconnecting");
  }
  /** Resumed: nobody saw us leave. Media paths may have changed too: restart ICE. */
  onReconnected() {
    this.emit("sessionReconnected", {});
    this._stateChanged("reconnected");
    if (this.relayed) return;
    for (const p of new Set(this.publishers.values())) void p._restartIce();
    for (const s of this.subscribers) void s._restartIce();
  }
  onClosed(reason) {
    this.channel = void 0;
    this.speaking.clear();
    this.setStatus("disconnected", false);
    for (const publisher of [...this.publishers.values(), ...this.allPublishers]) publisher._onSessionEnded(reason);
    this.publishers.clear();
    this.allPublishers.clear();
    const detail = this.disconnectDetail;
    this.disconnectDetail = void 0;
    const event = this.emit("sessionDisconnected", { reason, ...detail ? { detail } : {} }, true);
    for (const sub of [...this.subscribers]) {
      if (event.isDefaultPrevented()) sub._end();
      else sub._destroy(reason);
    }
    for (const s of this.streams) s.destroyed = true;
    this.streams.items.clear();
    this.connections.items.clear();
    this.endedEarly.clear();
    this.mutedEarly.clear();
    this._stateChanged("disconnected");
  }
  // ----- publishing, subscribing, signaling -----
  publisherFor(a, b, c) {
    if (a instanceof Publisher) return { publisher: a, callback: typeof b === "function" ? b : c };
    const props = typeof b === "function" ? void 0 : b;
    const callback = typeof b === "function" ? b : c;
    return { publisher: this.host.initPublisher(a, props), callback };
  }
  async doPublish(publisher) {
    if (!this._isConnected()) {
      throw this.fail(otError("OT_NOT_CONNECTED", "publish: connect to the session first", ExceptionCodes.NOT_CONNECTED));
    }
    if (!this.capabilities.publish) {
      throw this.fail(
        otError("OT_PERMISSION_DENIED", "This token does not allow publishing. The role must be at least `publisher` to enable this functionality", ExceptionCodes.UNABLE_TO_PUBLISH)
      );
    }
    this.allPublishers.add(publisher);
    try {
      await publisher._publish(this);
    } catch (e) {
      this.allPublishers.delete(publisher);
      throw this.fail(e);
    }
  }
  doSubscribe(stream, target, props) {
    const fail = (error) => {
      this.fail(error);
      return { subscriber: void 0, started: Promise.reject(error) };
    };
    if (!this._isConnected()) return fail(otError("OT_NOT_CONNECTED", "subscribe: connect to the session first", ExceptionCodes.NOT_CONNECTED));
    if (!(stream instanceof Stream)) return fail(otError("OT_INVALID_PARAMETER", "subscribe needs a Stream", ExceptionCodes.INVALID_PARAMETER));
    if (!this.capabilities.subscribe) {
      return fail(otError("OT_PERMISSION_DENIED", "This token does not allow subscribing", ExceptionCodes.UNABLE_TO_SUBSCRIBE));
    }
    if (stream.destroyed || !this.streams.has(stream.streamId)) {
      return fail(otError("OT_STREAM_NOT_FOUND", `stream ${stream.streamId} is not in the session`, ExceptionCodes.UNABLE_TO_SUBSCRIBE));
    }
    const resolved = resolveTarget(target);
    if (resolved instanceof OTError) return fail(resolved);
    const subscriber = new Subscriber(this, stream, resolved, props);
    this.subscribers.add(subscriber);
    this._stateChanged("subscribing");
    const started = subscriber._start().catch((e) => {
      throw this.fail(e);
    });
    return { subscriber, started };
  }
  async doSignal(o) {
    if (!this._isConnected()) throw otError("OT_NOT_CONNECTED", "Unable to send signal - you are not connected to the session.", 500);
    const signalType = o.type ?? "";
    const data = o.data ?? "";
    if (typeof signalType !== "string" || typeof data !== "string") {
      throw otError("OT_INVALID_PARAMETER", "signal type and data must be strings", 400);
    }
    if (signalType.length > LIMITS.signalTypeChars) {
      throw otError("OT_INVALID_PARAMETER", `The signal type was too long, the maximum length of it is ${LIMITS.signalTypeChars} characters`, 413);
    }
    if (signalType && !/^[A-Za-z0-9\-_~]+$/.test(signalType)) {
      throw otError("OT_INVALID_PARAMETER", "The signal type was invalid, it can only contain letters, numbers, '-', '_', and '~'.", 400);
    }
    if (utf8Length(data) > LIMITS.signalDataBytes) {
      throw otError("OT_INVALID_PARAMETER", `The data field was too long, the maximum size of it is ${LIMITS.signalDataBytes} bytes`, 413);
    }
    let to;
    if (o.to !== void 0 && o.to !== null) {
      to = o.to instanceof Connection ? o.to.connectionId : o.to.connectionId;
      if (!to) throw otError("OT_INVALID_PARAMETER", "The To field was invalid", 400);
    }
    await this._request({ type: "signal", signalType, data, ...to ? { to } : {} }, "signal");
  }
  // ----- bookkeeping -----
  check(capability, code, what) {
    if (!this._isConnected()) throw otError("OT_NOT_CONNECTED", `${what}: not connected to the session`, ExceptionCodes.NOT_CONNECTED);
    if (!this.capabilities[capability]) {
      throw otError("OT_PERMISSION_DENIED", `This token does not allow ${what}. The role must be at least \`moderator\` to enable this functionality`, code);
    }
  }
  addConnection(wire) {
    const existing = this.connections.get(wire.connectionId);
    if (existing) return existing;
    const c = new Connection(wire);
    this.connections.items.set(c.connectionId, c);
    return c;
  }
  addStream(wire) {
    const existing = this.streams.get(wire.streamId);
    if (existing) {
      existing.update(wire);
      return existing;
    }
    const connection = this.connections.get(wire.connection.connectionId) ?? new Connection(wire.connection);
    const s = new Stream(wire, connection);
    this.streams.items.set(s.streamId, s);
    return s;
  }
  removeStream(stream, reason) {
    this.streams.items.delete(stream.streamId);
    stream.destroyed = true;
    if (this.isOwn(stream)) return;
    const event = this.emit("streamDestroyed", { stream, reason }, true);
    for (const sub of this.getSubscribersForStream(stream)) {
      if (event.isDefaultPrevented()) sub._end();
      else sub._destroy(reason);
    }
  }
  isOwn(stream) {
    return stream.connection.connectionId === this.connection?.connectionId;
  }
  isOwnWire(stream) {
    return stream.connection.connectionId === this.connection?.connectionId;
  }
  setStatus(status, notify = true) {
    this.status = status;
    if (status === "disconnected") clearInterval(this.statsTimer);
    if (notify) this._stateChanged(status);
  }
};
function capabilities(c) {
  const n = (b) => b ? 1 : 0;
  const caps = {
    publish: n(c.publish),
    subscribe: n(c.subscribe),
    signal: n(c.signal),
    forceDisconnect: n(c.forceDisconnect),
    forceUnpublish: n(c.forceUnpublish),
    forceMute: n(c.forceMute)
  };
  return {
    ...caps,
    permittedTo(action) {
      return caps[action] === 1;
    }
  };
}
function apiKeyOfSession(sessionId) {
  try {
    const b64 = sessionId.slice(2).replace(/-/g, "+").replace(/_/g, "/");
    const fields = atob(b64 + "=".repeat((4 - b64.length % 4) % 4)).split("~");
    return fields.length >= 5 && /^\d+$/.test(fields[1] ?? "") ? fields[1] : void 0;
  } catch {
    return void 0;
  }
}
function subscribeArgs(target, props, callback) {
  if (typeof target === "function") return { callback: target };
  if (target && typeof target === "object" && !isElement(target)) {
    return { props: target, callback: typeof props === "function" ? props : callback };
  }
  if (typeof props === "function") return { target, callback: props };
  return { target, props, callback };
}

// src/ot.ts
var defaultServer;
function setDefaultServerUrl(url) {
  defaultServer = url;
}
function defaultServerUrl() {
  if (defaultServer) return defaultServer;
  if (typeof location !== "undefined" && /^https?:$/.test(location.protocol)) return location.origin;
  throw new OTError("OT_INVALID_PARAMETER", "no Parlor server known: pass { serverUrl } to OT.initSession", ExceptionCodes.INVALID_PARAMETER);
}
var OTNamespace = class extends EventEmitter {
  constructor() {
    super();
    this.version = VERSION;
    this.properties = { version: VERSION };
    this.ExceptionCodes = ExceptionCodes;
    this.NONE = LogLevel.NONE;
    this.ERROR = LogLevel.ERROR;
    this.WARN = LogLevel.WARN;
    this.INFO = LogLevel.INFO;
    this.LOG = LogLevel.LOG;
    this.DEBUG = LogLevel.DEBUG;
    this.Session = Session;
    this.Publisher = Publisher;
    this.Subscriber = Subscriber;
    this.Stream = Stream;
    this.Connection = Connection;
    this.Event = Event;
    this.Error = OTError;
    const init = (target, properties, callback) => {
      const a = publisherArgs(target, properties, callback);
      return new Publisher(a.target, a.properties, a.callback, (e, t) => this.exception(e, t));
    };
    this.initPublisher = Object.assign(init, {
      promise: (target, properties) => new Promise((resolve, reject) => {
        const publisher = init(target, properties, (error) => error ? reject(error) : resolve(publisher));
      })
    });
  }
  /**
   * A Session object for `sessionId`; `options.serverUrl` picks the Parlor server,
   * `options.iceConfig` the TURN servers and transport policy (throws OT_INVALID_PARAMETER
   * when it is malformed).
   */
  initSession(apiKey, sessionId, options) {
    return new Session(apiKey, sessionId, options, {
      defaultServerUrl,
      exception: (e, t) => this.exception(e, t),
      initPublisher: (target, props, cb) => this.initPublisher(target, props, cb)
    });
  }
  /** 1 if this browser can use Parlor (WebRTC and WebSocket), else 0. */
  checkSystemRequirements() {
    const ok = typeof RTCPeerConnection !== "undefined" && typeof WebSocket !== "undefined" && typeof navigator !== "undefined" && !!navigator.mediaDevices;
    return ok ? 1 : 0;
  }
  upgradeSystemRequirements() {
  }
  /** Calls back (no error argument, as OpenTok.js) with whether screen sharing works here. */
  checkScreenSharingCapability(callback) {
    const response = screenSharingCapability();
    if (callback) callback(response);
    return Promise.resolve(response);
  }
  /** The audio and video input devices (labels need a granted permission). */
  getDevices(callback) {
    const work = listDevices().catch((e) => {
      throw asOTError(e, "OT_NOT_SUPPORTED", ExceptionCodes.INVALID_PARAMETER);
    });
    return complete(work, callback);
  }
  getAudioOutputDevices() {
    return listAudioOutputs();
  }
  /** Plays every subscriber through this output device (where the browser supports it). */
  async setAudioOutputDevice(deviceId) {
    this.audioOutput = deviceId;
    await Promise.all(liveSubscribers().map((s) => s._setSinkId(deviceId)));
  }
  async getActiveAudioOutputDevice() {
    const outputs = await listAudioOutputs();
    return outputs.find((o) => o.deviceId === (this.audioOutput ?? "default")) ?? { deviceId: this.audioOutput ?? null, label: null };
  }
  /** A MediaStream from the camera/microphone/screen, with the Publisher's source options. */
  async getUserMedia(options) {
    return (await capture(options ?? {})).stream;
  }
  /** The video codecs this browser can send and receive that Parlor's router forwards. */
  async getSupportedCodecs() {
    const names = (caps) => [...new Set((caps?.codecs ?? []).map((c) => c.mimeType.split("/")[1].toUpperCase()))].filter((n) => n === "VP8" || n === "H264");
    return {
      videoEncoders: names(RTCRtpSender.getCapabilities?.("video") ?? null),
      videoDecoders: names(RTCRtpReceiver.getCapabilities?.("video") ?? null)
    };
  }
  /** Starts audio the browser's autoplay policy blocked; call it from a click handler. */
  async unblockAudio() {
    await Promise.all(liveSubscribers().map((s) => s._unblockAudio()));
  }
  setLogLevel(level2) {
    logger.setLevel(level2);
  }
  getLogLevel() {
    return logger.getLevel();
  }
  log(...args) {
    logger.log(...args);
  }
  /** @internal Dispatches OT's `exception` event. */
  exception(error, target) {
    logger.warn(`${error.name} (${error.code}): ${error.message}`);
    this.dispatchEvent(makeEvent("exception", this, { code: error.code, message: error.message, title: error.name, name: error.name, target }));
  }
};
function publisherArgs(target, properties, callback) {
  if (typeof target === "function") return { callback: target };
  if (target && typeof target === "object" && !isElement(target)) {
    return { properties: target, callback: typeof properties === "function" ? properties : callback };
  }
  if (typeof properties === "function") return { target, callback: properties };
  return { target, properties, callback };
}
var OT = new OTNamespace();

// src/rooms/index.ts
var rooms_exports = {};
__export(rooms_exports, {
  MESSAGE_SIGNAL: () => MESSAGE_SIGNAL,
  Room: () => Room,
  VERSION: () => VERSION,
  disconnectReason: () => disconnectReason,
  initialize: () => initialize
});

// src/rooms/events.ts
var RoomEvents = class {
  constructor() {
    this.handlers = /* @__PURE__ */ new Map();
  }
  on(event, handler) {
    if (typeof handler !== "function") throw new TypeError(`on('${String(event)}'): the handler must be a function`);
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, set = /* @__PURE__ */ new Set());
    const entry = (...args) => handler(...args);
    set.add(entry);
    return () => {
      set.delete(entry);
    };
  }
  has(event) {
    return (this.handlers.get(event)?.size ?? 0) > 0;
  }
  emit(event, args) {
    const set = this.handlers.get(event);
    if (!set || set.size === 0) return;
    for (const h of [...set]) {
      try {
        h(...args);
      } catch (e) {
        logger.error(`a '${event}' handler threw:`, e);
      }
    }
  }
  clear() {
    this.handlers.clear();
  }
};

// src/rooms/placeholder.ts
var audioContext;
function silentAudioTrack() {
  try {
    const Ctx = globalThis.AudioContext;
    if (!Ctx) return void 0;
    audioContext ?? (audioContext = new Ctx());
    return audioContext.createMediaStreamDestination().stream.getAudioTracks()[0];
  } catch {
    return void 0;
  }
}
function blackVideoTrack() {
  try {
    if (typeof document === "undefined") return void 0;
    const canvas = document.createElement("canvas");
    canvas.width = 320;
    canvas.height = 240;
    const ctx = canvas.getContext("2d");
    if (!ctx || typeof canvas.captureStream !== "function") return void 0;
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    return canvas.captureStream(1).getVideoTracks()[0];
  } catch {
    return void 0;
  }
}

// src/rooms/signals.ts
var MESSAGE_SIGNAL = "telnyx-msg";
function encodeMessage(message, recipients) {
  const m = { type: message.type, payload: message.payload };
  if (message.meta !== void 0) m.meta = message.meta;
  return JSON.stringify({ message: m, recipients });
}
function decodeMessage(data) {
  try {
    const v = JSON.parse(data);
    const m = v?.message;
    if (!m || typeof m !== "object" || typeof m.type !== "string" || typeof m.payload !== "string") return void 0;
    const recipients = Array.isArray(v.recipients) ? v.recipients.filter((r) => typeof r === "string") : null;
    const message = { type: m.type, payload: m.payload };
    if (m.meta !== void 0) message.meta = m.meta;
    return { message, recipients };
  } catch {
    return void 0;
  }
}

// src/rooms/state.ts
function subscriptionKey(participantId, key) {
  return `${participantId}\0${key}`;
}
function localStreamState(r, participantId) {
  return {
    id: r.id,
    key: r.key,
    participantId,
    isAudioEnabled: !!r.audioTrack && !r.audioCensored,
    isVideoEnabled: !!r.videoTrack,
    isAudioCensored: r.audioCensored,
    isVideoCensored: false,
    audioTrack: r.audioTrack,
    videoTrack: r.videoTrack,
    isConfigured: r.isConfigured
  };
}
function remoteStreamState(r, sub) {
  const media = sub?.mediaStream;
  return {
    id: r.stream.streamId,
    key: r.key,
    participantId: r.participantId,
    isAudioEnabled: r.stream.hasAudio && !r.audioCensored,
    isVideoEnabled: r.stream.hasVideo,
    isAudioCensored: r.audioCensored,
    isVideoCensored: false,
    audioTrack: media?.getAudioTracks()[0],
    videoTrack: media?.getVideoTracks()[0],
    isConfigured: true
  };
}
function buildState(m) {
  const participants = /* @__PURE__ */ new Map();
  for (const p of m.participants.values()) {
    participants.set(p.id, {
      id: p.id,
      context: p.context,
      streams: {},
      canReceiveMessages: p.origin === "local" ? m.enableMessages : true,
      origin: p.origin
    });
  }
  const streams = /* @__PURE__ */ new Map();
  const local = participants.get(m.localParticipantId);
  for (const r of m.localStreams.values()) {
    const s = localStreamState(r, m.localParticipantId);
    streams.set(s.id, s);
    if (local) local.streams[r.key] = s.id;
  }
  for (const r of m.remoteStreams.values()) {
    const s = remoteStreamState(r, m.subscriptions.get(subscriptionKey(r.participantId, r.key)));
    streams.set(s.id, s);
    const owner = participants.get(r.participantId);
    if (owner) owner.streams[r.key] = s.id;
  }
  const subscriptions = /* @__PURE__ */ new Map();
  for (const sub of m.subscriptions.values()) {
    let byKey = subscriptions.get(sub.participantId);
    if (!byKey) subscriptions.set(sub.participantId, byKey = /* @__PURE__ */ new Map());
    byKey.set(sub.key, { ...sub.config });
  }
  return {
    status: m.status,
    localParticipantId: m.localParticipantId,
    participants,
    streams,
    subscriptions
  };
}

// src/rooms/room.ts
var NETWORK_METRICS_INTERVAL_MS = 5e3;
var DEFAULT_KEYS = { camera: "self", screen: "presentation", custom: "custom" };
function disconnectReason(reason, detail) {
  switch (detail) {
    case "kicked":
      return "kicked";
    case "session_terminated":
      return "session_terminated";
    case "token_expired":
      return "unauthorized";
  }
  switch (reason) {
    case "clientDisconnected":
      return "user_initiated";
    case "networkDisconnected":
      return "network_error";
    case "forceDisconnected":
      return "kicked";
    default:
      return "unknown";
  }
}
function trackOf(option) {
  if (!option) return void 0;
  if (option instanceof MediaStreamTrack) return option;
  return option.track ?? void 0;
}
function simulcastOf(option) {
  return !!option && !(option instanceof MediaStreamTrack) && option.options?.enableSimulcast === true;
}
function roomError(message, code = ExceptionCodes.INVALID_PARAMETER) {
  return otError("OT_INVALID_PARAMETER", message, code);
}
function statsByKind(report, type) {
  const out = {};
  report?.forEach((s) => {
    if (s.type !== type) return;
    const kind = s.kind ?? s.mediaType;
    if (kind === "audio" || kind === "video") out[kind] = { ...s };
  });
  return out;
}
var Room = class {
  /** @internal Use Video.initialize. */
  constructor(options) {
    this.events = new RoomEvents();
    /** Streams whose audio the app server censored (`audioCensored`), ours included. */
    this.censored = /* @__PURE__ */ new Set();
    this.metricsFor = /* @__PURE__ */ new Set();
    this.speaking = /* @__PURE__ */ new Set();
    this.speakingHooked = false;
    this.options = { ...options };
    this.token = options.clientToken;
    this.model = {
      status: "initialized",
      localParticipantId: "",
      localContext: options.context ?? "",
      enableMessages: options.enableMessages === true,
      participants: /* @__PURE__ */ new Map(),
      localStreams: /* @__PURE__ */ new Map(),
      remoteStreams: /* @__PURE__ */ new Map(),
      subscriptions: /* @__PURE__ */ new Map()
    };
    this.connect = () => this.doConnect();
    this.disconnect = async () => {
      const s = this.session;
      if (!s || this.model.status !== "connected" && this.model.status !== "connecting") return;
      this.setStatus("disconnecting");
      await s.disconnect();
    };
    this.updateClientToken = async (clientToken) => {
      if (typeof clientToken !== "string" || !clientToken) throw roomError("updateClientToken needs a token");
      this.token = clientToken;
      const s = this.session;
      if (s && this.model.status === "connected") await s._request({ type: "updateToken", token: clientToken });
    };
    this.getState = () => this.snapshot ?? (this.snapshot = buildState(this.model));
    this.getLocalParticipant = () => {
      const id = this.model.localParticipantId;
      return this.getState().participants.get(id) ?? {
        id,
        context: this.model.localContext,
        streams: {},
        canReceiveMessages: this.model.enableMessages,
        origin: "local"
      };
    };
    this.getLocalStreams = () => this.getParticipantStreams(this.model.localParticipantId);
    this.getParticipantStreams = (participantId) => {
      const state = this.getState();
      const out = {};
      const p = state.participants.get(participantId);
      if (p) for (const [key, id] of Object.entries(p.streams)) out[key] = state.streams.get(id);
      return out;
    };
    this.getParticipantStream = (participantId, key) => this.getParticipantStreams(participantId)[key];
    this.addStream = (key, opts) => this.doAddStream(key, opts ?? {});
    this.updateStream = (key, opts) => this.doUpdateStream(key, opts ?? {});
    this.removeStream = async (key) => {
      const rec = this.model.localStreams.get(key);
      if (!rec) throw roomError(`there is no local stream '${key}'`);
      this.dropLocalStream(rec, true);
    };
    this.addSubscription = (participantId, key, config) => this.doAddSubscription(participantId, key, config);
    this.updateSubscription = (participantId, key, config) => this.doUpdateSubscription(participantId, key, config);
    this.removeSubscription = async (participantId, key) => {
      const sub = this.model.subscriptions.get(subscriptionKey(participantId, key));
      if (!sub) throw roomError(`there is no subscription to '${key}' of ${participantId}`);
      if (sub.subscriber && this.session) this.session.unsubscribe(sub.subscriber);
      else this.endSubscription(sub);
    };
    this.getWebRTCStatsForStream = (participantId, key) => this.doStats(participantId, key);
    this.sendMessage = (message, recipients) => this.doSendMessage(message, recipients ?? null);
    this.enableNetworkMetricsReport = (participantIds) => {
      for (const id of participantIds ?? []) this.metricsFor.add(id);
      if (this.metricsFor.size && !this.metricsTimer) {
        this.metricsTimer = setInterval(() => this.reportNetworkMetrics(), NETWORK_METRICS_INTERVAL_MS);
      }
    };
    this.disableNetworkMetricsReport = (participantIds) => {
      for (const id of participantIds ?? []) this.metricsFor.delete(id);
      if (!this.metricsFor.size) this.stopMetrics();
    };
    this.on = (event, handler) => {
      const off = this.events.on(event, handler);
      if (event === "audio_activity") this.hookSpeaking();
      return off;
    };
  }
  // ----- connecting -----
  async doConnect() {
    if (this.model.status === "connecting" || this.model.status === "connected") {
      throw roomError("the room is already connected or connecting");
    }
    const session = OT.initSession("", this.options.roomId, {
      ...this.options.serverUrl ? { serverUrl: this.options.serverUrl } : {},
      context: this.options.context ?? ""
    });
    this.session = session;
    this.listen(session);
    this.setStatus("connecting");
    try {
      await session.connect.promise(this.token);
    } catch (e) {
      if (this.session === session) {
        this.session = void 0;
        this.setStatus("disconnected");
      }
      throw e;
    }
  }
  listen(session) {
    const mine = () => this.session === session;
    session.on("sessionConnected", (e) => mine() && this.onConnected(session, e.connections, e.streams));
    session.on("connectionCreated", (e) => mine() && this.onParticipantJoined(e.connection));
    session.on("connectionDestroyed", (e) => mine() && this.onParticipantGone(e.connection, e.reason, e.detail));
    session.on("streamCreated", (e) => mine() && this.onRemoteStream(e.stream, true));
    session.on("streamDestroyed", (e) => mine() && this.onRemoteStreamGone(e.stream));
    session.on("streamPropertyChanged", (e) => {
      if (mine() && (e.changedProperty === "hasAudio" || e.changedProperty === "hasVideo")) {
        this.onRemoteTrack(e.stream, e.changedProperty === "hasAudio" ? "audio" : "video", e.newValue === true);
      }
    });
    session.on(`signal:${MESSAGE_SIGNAL}`, (e) => mine() && this.onMessage(e.data, e.from));
    session.on("audioCensored", (e) => mine() && this.onAudioCensored(e.streamId, e.censored));
    session.on("sessionDisconnected", (e) => mine() && this.onDisconnected(e.reason, e.detail));
    if (this.events.has("audio_activity")) this.hookSpeaking();
  }
  onConnected(session, others, streams) {
    const local = session.connection;
    this.model.localParticipantId = local.connectionId;
    this.model.participants.clear();
    this.model.participants.set(local.connectionId, { id: local.connectionId, context: local.data, origin: "local" });
    for (const c of others) this.model.participants.set(c.connectionId, { id: c.connectionId, context: c.data, origin: "remote" });
    for (const s of streams) this.onRemoteStream(s, false);
    this.model.status = "connected";
    this.changed();
    this.emit("connected");
  }
  onDisconnected(reason, detail) {
    const why = disconnectReason(reason, detail);
    const localId = this.model.localParticipantId;
    if (why === "kicked" && localId) this.emit("participant_leaving", localId, "kicked");
    this.stopMetrics();
    for (const rec of this.model.localStreams.values()) this.stopPlaceholders(rec);
    this.model.localStreams.clear();
    this.model.remoteStreams.clear();
    this.model.subscriptions.clear();
    for (const id of [...this.model.participants.keys()]) if (id !== localId) this.model.participants.delete(id);
    this.censored.clear();
    this.speaking.clear();
    this.session = void 0;
    this.speakingHooked = false;
    this.model.status = "disconnected";
    this.changed();
    this.emit("disconnected", why);
  }
  // ----- participants and their streams -----
  onParticipantJoined(c) {
    if (c.connectionId === this.model.localParticipantId || this.model.participants.has(c.connectionId)) return;
    this.model.participants.set(c.connectionId, { id: c.connectionId, context: c.data, origin: "remote" });
    this.changed();
    this.emit("participant_joined", c.connectionId);
  }
  onParticipantGone(c, reason, detail) {
    const id = c.connectionId;
    if (!this.model.participants.has(id) || id === this.model.localParticipantId) return;
    const leaving = detail === "kicked" || !detail && reason === "forceDisconnected" ? "kicked" : null;
    this.emit("participant_leaving", id, leaving);
    for (const r of [...this.model.remoteStreams.values()]) if (r.participantId === id) this.removeRemoteStream(r);
    this.model.participants.delete(id);
    this.metricsFor.delete(id);
    this.changed();
    this.emit("participant_left", id);
  }
  onRemoteStream(stream, announce) {
    const pid = stream.connection.connectionId;
    if (pid === this.model.localParticipantId || this.model.remoteStreams.has(stream.streamId)) return;
    if (!this.model.participants.has(pid)) {
      this.model.participants.set(pid, { id: pid, context: stream.connection.data, origin: "remote" });
    }
    const taken = new Set([...this.model.remoteStreams.values()].filter((r) => r.participantId === pid).map((r) => r.key));
    const base = stream.name || DEFAULT_KEYS[stream.videoType] || "self";
    let key = base;
    for (let n = 2; taken.has(key); n += 1) key = `${base}-${n}`;
    this.model.remoteStreams.set(stream.streamId, { stream, key, participantId: pid, audioCensored: this.censored.has(stream.streamId) });
    if (!announce) return;
    this.changed();
    this.emit("stream_published", pid, key);
  }
  onRemoteStreamGone(stream) {
    const rec = this.model.remoteStreams.get(stream.streamId);
    if (!rec) return;
    this.removeRemoteStream(rec);
  }
  removeRemoteStream(rec) {
    const sub = this.model.subscriptions.get(subscriptionKey(rec.participantId, rec.key));
    if (sub && sub.streamId === rec.stream.streamId) this.endSubscription(sub);
    this.model.remoteStreams.delete(rec.stream.streamId);
    this.censored.delete(rec.stream.streamId);
    this.changed();
    this.emit("stream_unpublished", rec.participantId, rec.key);
  }
  /** A remote stream's hasAudio / hasVideo changed. */
  onRemoteTrack(stream, kind, on) {
    const rec = this.model.remoteStreams.get(stream.streamId);
    if (!rec) return;
    this.changed();
    if (kind === "audio" && !on && rec.audioCensored) return;
    this.emit(on ? "track_enabled" : "track_disabled", rec.participantId, rec.key, kind);
  }
  /** The app server censored or uncensored a stream's audio (REST mute / unmute). */
  onAudioCensored(streamId, censored) {
    if (censored) this.censored.add(streamId);
    else this.censored.delete(streamId);
    const remote = this.model.remoteStreams.get(streamId);
    if (remote) {
      if (remote.audioCensored === censored) return;
      remote.audioCensored = censored;
      this.changed();
      this.emit(censored ? "track_censored" : "track_uncensored", remote.participantId, remote.key, "audio");
      return;
    }
    for (const rec of this.model.localStreams.values()) {
      if (rec.stream?.streamId !== streamId) continue;
      if (censored) this.censorLocal(rec, true);
      else void this.uncensorLocal(rec);
    }
  }
  /**
   * Our stream's audio is censored: by the app server (`byServer`: it refuses to turn the
   * audio on until it uncensors it), or muted by an OpenTok-face moderator (`muteForced`
   * alone), which the participant may lift itself.
   */
  censorLocal(rec, byServer) {
    if (rec.removed) return;
    if (rec.audioCensored) {
      if (byServer) rec.censoredByServer = true;
      return;
    }
    rec.audioCensored = true;
    rec.censoredByServer = byServer;
    this.changed();
    this.emit("track_censored", this.model.localParticipantId, rec.key, "audio");
  }
  /** The app server uncensored our stream: the audio comes back on if the app has its track set. */
  async uncensorLocal(rec) {
    if (rec.removed || !rec.audioCensored) return;
    rec.audioCensored = false;
    rec.censoredByServer = false;
    const pid = this.model.localParticipantId;
    this.changed();
    this.emit("track_uncensored", pid, rec.key, "audio");
    const track = rec.audioTrack;
    if (!track) return;
    try {
      await rec.publisher.publishAudio.promise(true);
    } catch (e) {
      logger.warn(`turning the audio back on after an unmute: ${e.message}`);
      return;
    }
    if (rec.removed || rec.audioTrack !== track || rec.audioCensored) return;
    this.changed();
    this.emit("track_enabled", pid, rec.key, "audio");
  }
  // ----- local streams -----
  requireSession(what) {
    const s = this.session;
    if (!s || this.model.status !== "connected") {
      throw otError("OT_NOT_CONNECTED", `${what}: the room is not connected`, ExceptionCodes.NOT_CONNECTED);
    }
    return s;
  }
  async doAddStream(key, opts) {
    const session = this.requireSession("addStream");
    if (typeof key !== "string" || !key || key.length > 256) throw roomError("addStream needs a stream key (1 to 256 characters)");
    if (this.model.localStreams.has(key)) throw roomError(`there is already a local stream '${key}'`);
    const audio = trackOf(opts.audio);
    const video = trackOf(opts.video);
    const rec = {
      key,
      id: `local:${key}`,
      publisher: void 0,
      audioTrack: audio,
      videoTrack: video,
      placeholders: {},
      isConfigured: false,
      audioCensored: false,
      censoredByServer: false,
      removed: false
    };
    if (!audio) rec.placeholders.audio = silentAudioTrack();
    if (!video) rec.placeholders.video = blackVideoTrack();
    const audioSource = audio ?? rec.placeholders.audio ?? null;
    const videoSource = video ?? rec.placeholders.video ?? null;
    const publisher = OT.initPublisher(void 0, {
      insertDefaultUI: false,
      name: key,
      audioSource,
      videoSource,
      publishAudio: !!audio,
      publishVideo: !!video,
      scalableVideo: simulcastOf(opts.video)
    });
    rec.publisher = publisher;
    publisher.on("streamCreated", (e) => {
      if (rec.removed) return;
      rec.stream = e.stream;
      rec.id = e.stream.streamId;
      rec.isConfigured = true;
      this.changed();
      this.emit("stream_published", this.model.localParticipantId, key);
      if (this.censored.has(e.stream.streamId)) this.censorLocal(rec, true);
    });
    publisher.on("streamDestroyed", (e) => {
      if (rec.removed) return;
      e.preventDefault();
      this.dropLocalStream(rec, this.session === session && this.model.status === "connected");
    });
    publisher.on("mediaStopped", (e) => e.preventDefault());
    publisher.on("muteForced", () => {
      const id = rec.stream?.streamId ?? publisher.stream?.streamId;
      this.censorLocal(rec, !!id && this.censored.has(id));
    });
    this.model.localStreams.set(key, rec);
    this.changed();
    try {
      await session.publish.promise(publisher);
    } catch (e) {
      if (!rec.removed) this.dropLocalStream(rec, false);
      throw e;
    }
  }
  /** Forgets a local stream (unpublishing it); `announce`: emit stream_unpublished. */
  dropLocalStream(rec, announce) {
    if (rec.removed) return;
    rec.removed = true;
    const wasPublished = rec.isConfigured;
    rec.publisher.destroy();
    this.stopPlaceholders(rec);
    if (this.model.localStreams.get(rec.key) === rec) this.model.localStreams.delete(rec.key);
    this.changed();
    if (announce && wasPublished) this.emit("stream_unpublished", this.model.localParticipantId, rec.key);
  }
  stopPlaceholders(rec) {
    rec.placeholders.audio?.stop();
    rec.placeholders.video?.stop();
    rec.placeholders = {};
  }
  async doUpdateStream(key, opts) {
    this.requireSession("updateStream");
    const rec = this.model.localStreams.get(key);
    if (!rec) throw roomError(`there is no local stream '${key}'`);
    await this.updateTrack(rec, "audio", trackOf(opts.audio));
    await this.updateTrack(rec, "video", trackOf(opts.video));
  }
  async updateTrack(rec, kind, track) {
    var _a, _b;
    const current = kind === "audio" ? rec.audioTrack : rec.videoTrack;
    const lifts = kind === "audio" && !!track && rec.audioCensored && !rec.censoredByServer;
    if (track === current && !lifts) return;
    const pub = rec.publisher;
    const setSource = (t) => kind === "audio" ? pub.setAudioSource(t) : pub.setVideoSource(t);
    const publishKind = (on) => kind === "audio" ? pub.publishAudio.promise(on) : pub.publishVideo.promise(on);
    const pid = this.model.localParticipantId;
    if (track) {
      if (track !== current) await setSource(track);
      if (kind === "audio") rec.audioTrack = track;
      else rec.videoTrack = track;
      if (kind === "audio" && rec.audioCensored) {
        if (rec.censoredByServer) {
          this.changed();
          return;
        }
        await publishKind(true);
        rec.audioCensored = false;
        this.changed();
        this.emit("track_uncensored", pid, rec.key, "audio");
        this.emit("track_enabled", pid, rec.key, "audio");
        return;
      }
      if (!current) await publishKind(true);
      this.changed();
      if (!current) this.emit("track_enabled", pid, rec.key, kind);
      return;
    }
    await publishKind(false);
    const stand = kind === "audio" ? (_a = rec.placeholders).audio ?? (_a.audio = silentAudioTrack()) : (_b = rec.placeholders).video ?? (_b.video = blackVideoTrack());
    if (stand) await setSource(stand);
    if (kind === "audio") rec.audioTrack = void 0;
    else rec.videoTrack = void 0;
    this.changed();
    this.emit("track_disabled", pid, rec.key, kind);
  }
  // ----- subscriptions -----
  findRemote(participantId, key) {
    for (const r of this.model.remoteStreams.values()) if (r.participantId === participantId && r.key === key) return r;
    return void 0;
  }
  doAddSubscription(participantId, key, config) {
    let session;
    try {
      session = this.requireSession("addSubscription");
    } catch (e) {
      return Promise.reject(e);
    }
    const remote = this.findRemote(participantId, key);
    if (!remote) return Promise.reject(roomError(`participant ${participantId} has no stream '${key}'`));
    const sk = subscriptionKey(participantId, key);
    if (this.model.subscriptions.has(sk)) return Promise.reject(roomError(`already subscribed to '${key}' of ${participantId}`));
    const sub = {
      participantId,
      key,
      streamId: remote.stream.streamId,
      config: { audio: config?.audio !== false, video: config?.video !== false },
      started: false,
      quality: {}
    };
    this.model.subscriptions.set(sk, sub);
    this.changed();
    return new Promise((resolve, reject) => {
      const subscriber = session.subscribe(
        remote.stream,
        void 0,
        { insertDefaultUI: false, subscribeToAudio: sub.config.audio, subscribeToVideo: sub.config.video },
        (error) => {
          if (!error) return resolve();
          this.endSubscription(sub);
          reject(error);
        }
      );
      if (!subscriber) return;
      sub.subscriber = subscriber;
      subscriber.on("mediaStreamAvailable", (e) => {
        sub.mediaStream = e.mediaStream;
        if (this.model.subscriptions.get(sk) === sub) this.changed();
      });
      subscriber.on("connected", () => {
        if (this.model.subscriptions.get(sk) !== sub) return;
        sub.started = true;
        this.changed();
        this.emit("subscription_started", participantId, key);
      });
      subscriber.on("qualityScoreChanged", (e) => {
        sub.quality = { audio: e.qualityScore.audioQualityScore, video: e.qualityScore.videoQualityScore };
      });
      subscriber.on("destroyed", () => this.endSubscription(sub));
    });
  }
  /** Forgets a subscription (its subscriber is gone or going); emits subscription_ended if it started. */
  endSubscription(sub) {
    const sk = subscriptionKey(sub.participantId, sub.key);
    if (this.model.subscriptions.get(sk) !== sub) return;
    this.model.subscriptions.delete(sk);
    this.changed();
    if (sub.started) this.emit("subscription_ended", sub.participantId, sub.key);
  }
  async doUpdateSubscription(participantId, key, config) {
    const sub = this.model.subscriptions.get(subscriptionKey(participantId, key));
    if (!sub || !sub.subscriber) throw roomError(`there is no subscription to '${key}' of ${participantId}`);
    const next = { audio: config?.audio ?? sub.config.audio, video: config?.video ?? sub.config.video };
    if (next.audio !== sub.config.audio) await sub.subscriber.subscribeToAudio.promise(next.audio);
    if (next.video !== sub.config.video) await sub.subscriber.subscribeToVideo.promise(next.video);
    sub.config = next;
    this.changed();
    this.emit("subscription_reconfigured", participantId, key);
  }
  async doStats(participantId, key) {
    if (participantId === this.model.localParticipantId) {
      const rec = this.model.localStreams.get(key);
      if (!rec) throw roomError(`there is no local stream '${key}'`);
      const reports = await rec.publisher.getRtcStatsReport();
      return { senders: statsByKind(reports[0]?.rtcStatsReport, "outbound-rtp"), receivers: {} };
    }
    const sub = this.model.subscriptions.get(subscriptionKey(participantId, key));
    if (!sub?.subscriber) throw roomError(`there is no subscription to '${key}' of ${participantId}`);
    return { senders: {}, receivers: statsByKind(await sub.subscriber.getRtcStatsReport(), "inbound-rtp") };
  }
  // ----- messages -----
  async doSendMessage(message, recipients) {
    const session = this.requireSession("sendMessage");
    if (!this.model.enableMessages) throw roomError("messages are off: initialize the room with enableMessages: true");
    if (!message || message.type !== "text" || typeof message.payload !== "string") {
      throw roomError("sendMessage needs a message { type: 'text', payload: string, meta? }");
    }
    const to = recipients && recipients.length ? [...new Set(recipients)] : null;
    const data = encodeMessage(message, to);
    if (!to) {
      await session.signal({ type: MESSAGE_SIGNAL, data });
      return;
    }
    const connections = to.map((id) => {
      const c = session.connections.get(id);
      if (!c) throw roomError(`no participant ${id} in the room`);
      return c;
    });
    await Promise.all(connections.map((c) => session.signal({ type: MESSAGE_SIGNAL, data, to: c })));
  }
  onMessage(data, from) {
    if (!this.model.enableMessages) return;
    const envelope = decodeMessage(data);
    if (!envelope) {
      logger.warn("ignoring a malformed message");
      return;
    }
    this.emit("message_received", from ? from.connectionId : null, envelope.message, envelope.recipients);
  }
  // ----- speaking and network metrics -----
  /** Speaking detection runs while the Session's Room State has a listener: only when asked. */
  hookSpeaking() {
    const session = this.session;
    if (!session || this.speakingHooked) return;
    this.speakingHooked = true;
    session.on("stateChanged", (e) => {
      if (this.session === session) this.onSpeaking(e.state);
    });
  }
  onSpeaking(state) {
    const now = /* @__PURE__ */ new Set();
    for (const s of Object.values(state.streams)) if (s.isSpeaking) now.add(s.id);
    for (const id of now) {
      if (this.speaking.has(id)) continue;
      const remote = this.model.remoteStreams.get(id);
      if (remote) this.emit("audio_activity", remote.participantId, remote.key);
      for (const l of this.model.localStreams.values()) if (l.id === id) this.emit("audio_activity", this.model.localParticipantId, l.key);
    }
    this.speaking = now;
  }
  reportNetworkMetrics() {
    if (this.model.status !== "connected") return;
    const metrics = {};
    for (const pid of this.metricsFor) {
      const scores = [];
      for (const sub of this.model.subscriptions.values()) if (sub.participantId === pid && sub.started) scores.push(sub.quality);
      if (!scores.length) continue;
      const audio = scores.map((s) => s.audio).filter((n) => n !== void 0);
      const video = scores.map((s) => s.video).filter((n) => n !== void 0);
      const all = [...audio, ...video];
      if (!all.length) continue;
      metrics[pid] = {
        connectionQuality: Math.min(...all),
        ...audio.length ? { audioQuality: Math.min(...audio) } : {},
        ...video.length ? { videoQuality: Math.min(...video) } : {}
      };
    }
    if (Object.keys(metrics).length) this.emit("network_metrics_report", metrics);
  }
  stopMetrics() {
    clearInterval(this.metricsTimer);
    this.metricsTimer = void 0;
  }
  // ----- state and events -----
  setStatus(status) {
    this.model.status = status;
    this.changed();
  }
  /** The model changed: a new snapshot, and `state_changed`. */
  changed() {
    this.snapshot = void 0;
    this.events.emit("state_changed", [this.getState()]);
  }
  emit(event, ...args) {
    this.events.emit(event, [...args, this.getState()]);
  }
};
function createRoom(options) {
  if (!options || typeof options !== "object") throw roomError("initialize needs { roomId, clientToken }");
  if (typeof options.roomId !== "string" || !options.roomId) throw roomError("initialize needs a roomId");
  if (typeof options.clientToken !== "string" || !options.clientToken) throw roomError("initialize needs a clientToken");
  if (options.context !== void 0 && (typeof options.context !== "string" || utf8Length(options.context) > 1e3)) {
    throw roomError("the context must be a string of at most 1000 bytes");
  }
  return new Room(options);
}

// src/rooms/index.ts
var LEVELS = {
  DEBUG: LogLevel.DEBUG,
  INFO: LogLevel.INFO,
  WARN: LogLevel.WARN,
  ERROR: LogLevel.ERROR,
  NONE: LogLevel.NONE
};
async function initialize(options) {
  const room = createRoom(options);
  if (options.logLevel && options.logLevel in LEVELS) logger.setLevel(LEVELS[options.logLevel]);
  return room;
}

// src/index.ts
setDefaultServerUrl(serverUrlFromScript(import.meta.url));
var index_default = OT;
export {
  Collection,
  Connection,
  Event,
  EventEmitter,
  ExceptionCodes,
  OT,
  OTError,
  OT as Parlor,
  Publisher,
  Session,
  Stream,
  Subscriber,
  VERSION,
  rooms_exports as Video,
  index_default as default,
  setDefaultServerUrl
};
