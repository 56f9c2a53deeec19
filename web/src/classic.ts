// The classic-script bundle (`<script src="https://parlor.example/sdk/parlor.js">`): defines
// the globals `OT` and `Parlor` (the OpenTok.js face) and `ParlorVideo` (the Telnyx-style
// face, `ParlorVideo.initialize`), and talks to the server the script came from.

import { OT, setDefaultServerUrl } from './ot';
import * as Video from './rooms/index';
import { serverUrlFromScript } from './util';

const script = typeof document !== 'undefined' ? (document.currentScript as HTMLScriptElement | null) : null;
setDefaultServerUrl(serverUrlFromScript(script?.src));

const g = globalThis as unknown as { OT: typeof OT; Parlor: typeof OT; ParlorVideo: typeof Video };
g.OT = OT;
g.Parlor = OT;
g.ParlorVideo = Video;
