// Builds the SDK bundles and type declarations:
//   dist/parlor.js      classic script (IIFE) defining the globals OT, Parlor and ParlorVideo
//   dist/parlor.mjs     ES module
//   dist/types/*.d.ts   declarations (the package's types)
//   dist/parlor.global.d.ts  the globals of the classic script
//   dist/inspector.js, dist/inspector.css  the Inspector page (inspector/, with uPlot),
//                       which `parlor serve` embeds and serves at /inspector
// `node build.mjs --outdir DIR` builds into DIR instead (the test script compares that
// with the committed dist/). The output is deterministic for a given esbuild/tsc.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
process.chdir(here);
const i = process.argv.indexOf('--outdir');
const outdir = path.resolve(i > 0 ? process.argv[i + 1] : 'dist');
const { version } = JSON.parse(readFileSync('package.json', 'utf8'));

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

const common = {
  bundle: true,
  target: 'es2020',
  platform: 'browser',
  absWorkingDir: here,
  charset: 'utf8',
  legalComments: 'none',
  logLevel: 'warning',
  banner: { js: `/*! @parlor/client ${version} — Parlor's browser SDK (OpenTok.js programming model). Apache-2.0. */` },
};

await esbuild.build({ ...common, entryPoints: ['src/classic.ts'], format: 'iife', outfile: path.join(outdir, 'parlor.js') });
await esbuild.build({ ...common, entryPoints: ['src/index.ts'], format: 'esm', outfile: path.join(outdir, 'parlor.mjs') });

// The Inspector page: its code and uPlot in one script, their styles in one sheet.
const uplotVersion = JSON.parse(readFileSync(path.join('node_modules', 'uplot', 'package.json'), 'utf8')).version;
await esbuild.build({
  ...common,
  entryPoints: ['inspector/main.ts'],
  format: 'iife',
  minify: true,
  outfile: path.join(outdir, 'inspector.js'),
  banner: {
    js: `/*! Parlor Inspector ${version}. Apache-2.0. Includes uPlot ${uplotVersion} (c) Leon Sorokin, MIT License. */`,
    css: `/*! Parlor Inspector ${version}. Includes uPlot ${uplotVersion} styles, MIT License. */`,
  },
});

execFileSync(process.execPath, [path.join('node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join('inspector', 'tsconfig.json')], {
  stdio: 'inherit',
});
execFileSync(process.execPath, [path.join('node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--outDir', path.join(outdir, 'types')], {
  stdio: 'inherit',
});
execFileSync(process.execPath, [path.join('node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join('types-test', 'tsconfig.json')], {
  stdio: 'inherit',
});
rmSync(path.join(outdir, 'types', 'classic.d.ts'), { force: true });
// For apps that use the classic script: the globals it defines.
writeFileSync(
  path.join(outdir, 'parlor.global.d.ts'),
  `// The globals defined by /sdk/parlor.js. Reference this file from a script-tag app:
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
`,
);
console.log(`built ${path.relative(process.cwd(), outdir) || '.'}: parlor.js, parlor.mjs, types/, inspector.js, inspector.css`);
