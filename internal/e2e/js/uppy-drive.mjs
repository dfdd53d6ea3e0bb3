// uppy-drive.mjs: opens the Uppy page in headless Chromium with
// playwright-core and prints the page's result (window.__e2e) as one JSON line.
// Usage: node uppy-drive.mjs '{"pageUrl":..., "chromium":..., "timeoutMs":...}'
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const opts = JSON.parse(process.argv[2] || '{}');
const timeout = opts.timeoutMs || 120000;
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vodgate-chromium-'));

const args = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

let context;
let exitCode = 1;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: opts.chromium || '/usr/bin/chromium',
    headless: true,
    args,
    timeout: 60000,
  });
  const page = context.pages()[0] || (await context.newPage());
  page.on('console', (m) => process.stderr.write(`console.${m.type()}: ${m.text()}\n`));
  page.on('pageerror', (e) => process.stderr.write(`pageerror: ${e.stack || e}\n`));
  page.on('requestfailed', (r) =>
    process.stderr.write(`requestfailed: ${r.method()} ${r.url()} ${r.failure() && r.failure().errorText}\n`),
  );
  await page.goto(opts.pageUrl, { timeout: 30000 });
  await page.waitForFunction(() => window.__e2e && window.__e2e.done, null, { timeout, polling: 100 });
  const result = await page.evaluate(() => window.__e2e);
  process.stdout.write(JSON.stringify({ event: 'result', ...result }) + '\n');
  exitCode = 0;
} catch (err) {
  process.stdout.write(JSON.stringify({ event: 'result', ok: false, error: 'driver: ' + String(err && err.stack ? err.stack : err) }) + '\n');
} finally {
  if (context) await context.close().catch(() => {});
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(exitCode);
