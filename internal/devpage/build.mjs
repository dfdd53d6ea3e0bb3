// build.mjs: bundles the -dev page (web/app.mjs and the styles it imports)
// into OUTDIR/app.js and OUTDIR/app.css with esbuild, from the packages
// npm ci installed from the committed package-lock.json. The output is
// deterministic, so TestBundleFresh rebuilds into a temporary directory
// and compares.
//
// Usage (from anywhere): node internal/devpage/build.mjs [OUTDIR]
// Default OUTDIR: internal/devpage/dist, the bundle the gateway embeds.
// Commit dist/ after changing web/ or upgrading the packages.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const outdir = path.resolve(process.argv[2] || path.join(here, 'dist'));

await build({
  absWorkingDir: root, // paths in the bundle's comments are relative to the repository
  entryPoints: { app: path.join(here, 'web', 'app.mjs') },
  bundle: true,
  minify: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2020',
  outdir,
  legalComments: 'eof',
  charset: 'utf8',
  loader: { '.svg': 'dataurl', '.png': 'dataurl', '.woff': 'dataurl', '.woff2': 'dataurl' },
  logLevel: 'warning',
});
