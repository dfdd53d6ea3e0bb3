// devpage-drive.mjs: drives the gateway's -dev page (internal/devpage) in
// headless Chromium with playwright-core, as a person would: it adds files
// through the Dashboard's file input, clicks Upload, pauses one file with
// its progress button while it uploads, resumes it, waits until every file
// shows its VOD media ID and status in the page's table, and saves a
// screenshot. With token, it first types the token into the page's token
// field (authentication on); without pauseName it pauses nothing. Prints one
// JSON line {event:"result", ok, error, files, pause, rows, links, authShown}.
// Usage: node devpage-drive.mjs '{"pageUrl","chromium","files":[paths],
//   "pauseName","pauseMs","token","screenshot","timeoutMs"}'
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const opts = JSON.parse(process.argv[2] || '{}');
const timeout = opts.timeoutMs || 120000;
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vodgate-chromium-'));
const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

const result = { event: 'result', ok: false, error: null, files: [], pause: null, rows: [] };
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: opts.chromium || '/usr/bin/chromium', headless: true, args, timeout: 60000,
    viewport: { width: 1100, height: 900 },
  });
  const page = context.pages()[0] || (await context.newPage());
  page.on('console', (m) => process.stderr.write(`console.${m.type()}: ${m.text()}\n`));
  page.on('pageerror', (e) => process.stderr.write(`pageerror: ${e.stack || e}\n`));
  page.on('requestfailed', (r) => process.stderr.write(`requestfailed: ${r.method()} ${r.url()} ${r.failure() && r.failure().errorText}\n`));
  await page.goto(opts.pageUrl, { timeout: 30000 });
  await page.waitForFunction(() => window.__devpage && window.__devpage.ready, null, { timeout: 30000 });

  result.authShown = await page.locator('#token').isVisible();
  if (opts.token) await page.locator('#token').fill(opts.token);
  await page.locator('input.uppy-Dashboard-input[name="files[]"]').first().setInputFiles(opts.files);
  await page.locator('button.uppy-StatusBar-actionBtn--upload').click({ timeout: 10000 });

  const files = () => page.evaluate(() => window.__devpage.files());
  const byName = async (name) => (await files()).find((f) => f.name === name);
  if (opts.pauseName) {
    // Pause the chosen file once some of its bytes are sent, with its button.
    await page.waitForFunction((n) => window.__devpage.files().some((f) => f.name === n && f.progress > 0),
      opts.pauseName, { timeout, polling: 20 });
    const button = page.locator('.uppy-Dashboard-Item', {
      has: page.locator('.uppy-Dashboard-Item-name', { hasText: opts.pauseName }),
    }).locator('button.uppy-Dashboard-Item-progressIndicator');
    await button.click({ timeout: 10000 });
    await page.waitForFunction((n) => window.__devpage.files().some((f) => f.name === n && f.paused),
      opts.pauseName, { timeout: 10000, polling: 20 });
    const atPause = await byName(opts.pauseName);
    await page.waitForTimeout(opts.pauseMs || 1000);
    const afterWait = await byName(opts.pauseName);
    const pausedRow = await page.locator(`#uploads tr[data-name="${opts.pauseName}"] td.progress`).textContent();
    await button.click({ timeout: 10000 });
    result.pause = { atPause, afterWait, pausedRow };
  }

  // Every file done, with its media ID and the simulated VOD's status after
  // the upload (the page polls it) in the table.
  await page.waitForFunction((n) => {
    const fs = window.__devpage.files();
    return fs.length === n && fs.every((f) => f.done && f.mediaId && /^(UploadSucc|Normal)$/.test(f.status));
  }, opts.files.length, { timeout, polling: 100 });
  result.files = await files();
  result.rows = await page.$$eval('#uploads tbody tr', (trs) => trs.map((tr) => ({
    name: tr.dataset.name,
    progress: tr.querySelector('td.progress').textContent,
    mediaId: tr.querySelector('td.media-id').textContent,
    status: tr.querySelector('td.media-status').textContent,
    statusLink: (tr.querySelector('td.media-status a') || {}).href || '',
  })));
  result.links = await page.$$eval('#links a', (as) => as.map((a) => a.href));
  if (opts.screenshot) await page.screenshot({ path: opts.screenshot, fullPage: true });
  result.ok = true;
} catch (err) {
  result.error = 'driver: ' + String(err && err.stack ? err.stack : err);
} finally {
  if (context) await context.close().catch(() => {});
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(result) + '\n');
process.exit(result.ok ? 0 : 1);
