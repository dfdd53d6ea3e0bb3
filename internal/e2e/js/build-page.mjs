// build-page.mjs: bundles uppy-page.mjs for the browser with esbuild.
// Usage: node build-page.mjs OUTFILE
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const outfile = process.argv[2];
if (!outfile) {
  console.error('usage: node build-page.mjs OUTFILE');
  process.exit(2);
}
await build({
  entryPoints: [path.join(here, 'uppy-page.mjs')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  outfile,
  logLevel: 'warning',
});
