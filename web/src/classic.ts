// The classic-script bundle (`<script src="https://parlor.example/sdk/parlor.js">`): defines
// the globals `OT` and `Parlor` and talks to the server the script came from.

import { OT, setDefaultServerUrl } from './ot';
import { serverUrlFromScript } from './util';

const script = typeof document !== 'undefined' ? (document.currentScript as HTMLScriptElement | null) : null;
setDefaultServerUrl(serverUrlFromScript(script?.src));

const g = globalThis as unknown as { OT: typeof OT; Parlor: typeof OT };
g.OT = OT;
g.Parlor = OT;
