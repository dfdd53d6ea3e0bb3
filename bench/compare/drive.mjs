// drive.mjs: the client side of bench/compare. Runs one workload with
// tus-js-client (or one plain HTTP PUT) and prints one JSON line.
//
// Usage: node drive.mjs '<json options>'
//
// Options:
//   mode        "tus" (default) or "put" (one PUT of the file to url: the
//               client ceiling without tus)
//   endpoint    tus creation URL (mode tus)
//   url         PUT target (mode put)
//   file        source file; every upload sends the whole file
//   source      how the file is read: "buffer" (default: read into memory
//               before the clock starts, then sent from the Buffer, like
//               the size option) or "stream" (an fs.ReadStream, which
//               tus-js-client re-opens and reads in 64 KiB pieces through
//               libuv's thread pool while it sends)
//   size        instead of file: every upload sends this many bytes from
//               one shared random Buffer
//   uploads     number of uploads, all started at once (default 1)
//   chunkSize   bytes per PATCH (default: the whole upload in one PATCH)
//   metadata    tus Upload-Metadata (default filename bench.mp4, title bench)
//   timeoutMs   give up after this long (default 600000)
//   highWaterMark  with source stream: read size of the PUT's file stream (default: Node's
//               64 KiB, the same stream tus-js-client reads a file with)
//
// No retries: every failed request fails its upload and is counted.
//
// Output: {"ok":bool,"uploads":n,"failures":n,"bytes":sent and acknowledged,
// "ms":wall time from the first request to the last upload's end,
// "patches":n,"p50Ms","p99Ms","maxMs" (PATCH latency, request sent to
// response received),"cpuMs":the client's CPU time (user+system, all its
// threads) over the same span as ms,"errors":[first few messages]}
import fs from 'node:fs';
import http from 'node:http';
import crypto from 'node:crypto';
import { performance } from 'node:perf_hooks';
import * as tus from 'tus-js-client';

const opts = JSON.parse(process.argv[2] || '{}');
const uploads = opts.uploads || 1;
const latencies = [];
const errors = [];
let failures = 0;
let bytes = 0;
let cpu0 = null;

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

function fail(err) {
  failures++;
  if (errors.length < 5) errors.push(String((err && err.message) || err).slice(0, 400));
}

function oneTus(source, size) {
  return new Promise((resolve) => {
    const upload = new tus.Upload(source, {
      endpoint: opts.endpoint,
      chunkSize: opts.chunkSize || Infinity,
      uploadSize: size,
      metadata: opts.metadata || { filename: 'bench.mp4', title: 'bench' },
      retryDelays: null,
      storeFingerprintForResuming: false,
      removeFingerprintOnSuccess: false,
      onBeforeRequest(req) {
        if (req.getMethod() === 'PATCH') req._benchStart = performance.now();
      },
      onAfterResponse(req, res) {
        if (req._benchStart !== undefined) {
          latencies.push(performance.now() - req._benchStart);
          req._benchStart = undefined;
        }
      },
      onSuccess() {
        bytes += size;
        resolve();
      },
      onError(err) {
        fail(err);
        resolve();
      },
    });
    upload.start();
  });
}

function onePut(file, size) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = http.request(opts.url, { method: 'PUT', headers: { 'Content-Length': size, 'Content-Type': 'application/octet-stream' } }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode >= 300) fail(new Error(`PUT: HTTP ${res.statusCode}`));
        else {
          bytes += size;
          latencies.push(performance.now() - t0);
        }
        resolve();
      });
    });
    req.on('error', (err) => {
      fail(err);
      resolve();
    });
    if (Buffer.isBuffer(file)) writeLikeTus(req, file);
    else fs.createReadStream(file, opts.highWaterMark ? { highWaterMark: opts.highWaterMark } : {}).pipe(req);
  });
}

// writeLikeTus writes buf to req the way tus-js-client's Node HTTP stack
// writes a Buffer body: in slices of the request's writableHighWaterMark,
// waiting for 'drain' whenever write() asks to.
function writeLikeTus(req, buf) {
  let off = 0;
  const next = () => {
    while (off < buf.length) {
      const chunk = buf.subarray(off, off + Math.min(req.writableHighWaterMark, buf.length - off));
      off += chunk.length;
      if (!req.write(chunk)) {
        req.once('drain', next);
        return;
      }
    }
    req.end();
  };
  next();
}

async function main() {
  let size;
  let buffer = null;
  const source = opts.source || 'buffer';
  if (source !== 'buffer' && source !== 'stream') throw new Error(`source ${source}: want buffer or stream`);
  if (opts.file && source === 'buffer') {
    buffer = fs.readFileSync(opts.file);
    size = buffer.length;
  } else if (opts.file) {
    size = fs.statSync(opts.file).size;
  } else {
    size = opts.size;
    buffer = crypto.randomBytes(size);
  }
  const timer = setTimeout(() => {
    fail(new Error(`timeout after ${opts.timeoutMs || 600000} ms`));
    report(performance.now() - start, uploads);
    process.exit(1);
  }, opts.timeoutMs || 600000);
  const start = performance.now();
  cpu0 = process.cpuUsage();
  const jobs = [];
  for (let i = 0; i < uploads; i++) {
    if (opts.mode === 'put') jobs.push(onePut(buffer || opts.file, size));
    else jobs.push(oneTus(buffer || fs.createReadStream(opts.file), size));
  }
  await Promise.all(jobs);
  clearTimeout(timer);
  report(performance.now() - start, uploads);
}

function report(ms, n) {
  const sorted = latencies.slice().sort((a, b) => a - b);
  const cpu = cpu0 ? process.cpuUsage(cpu0) : { user: 0, system: 0 };
  const out = {
    ok: failures === 0,
    uploads: n,
    failures,
    bytes,
    ms: Math.round(ms * 1000) / 1000,
    patches: sorted.length,
    p50Ms: Math.round(percentile(sorted, 50) * 1000) / 1000,
    p99Ms: Math.round(percentile(sorted, 99) * 1000) / 1000,
    maxMs: Math.round((sorted[sorted.length - 1] || 0) * 1000) / 1000,
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    errors,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().then(
  () => setTimeout(() => process.exit(failures === 0 ? 0 : 1), 20).unref(),
  (err) => {
    fail(err);
    report(0, uploads);
    process.exit(1);
  },
);
