// The globals defined by /sdk/parlor.js. Reference this file from a script-tag app:
//   /// <reference path="node_modules/@parlor/client/dist/parlor.global.d.ts" />
import type { OT as ParlorOT } from './types/index';
import type * as ParlorVideoFace from './types/rooms/index';

declare global {
  const OT: typeof ParlorOT;
  const Parlor: typeof ParlorOT;
  /** The Telnyx-style face: ParlorVideo.initialize({ roomId, clientToken }). */
  const ParlorVideo: typeof ParlorVideoFace;
}

export {};
