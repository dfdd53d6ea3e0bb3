// tus-upload.mjs: one tus-js-client upload in Node, driven by the Go e2e tests
// and by bench/upload.
//
// Usage: node tus-upload.mjs '<json options>'
//
// Options (JSON, all optional but file and endpoint|uploadUrl):
//   endpoint          tus creation URL, e.g. http://127.0.0.1:8080/files/
//   uploadUrl         resume this upload URL instead of creating one (new Upload object, HEAD first)
//   file              path of the source file
//   chunkSize         bytes per PATCH; omitted = the whole rest in one PATCH
//   deferred          true: upload from a plain stream with uploadLengthDeferred (needs chunkSize)
//   metadata          tus Upload-Metadata object, e.g. {"filename":"a.mp4"}
//   retryDelays       tus-js-client retryDelays (default [0, 500, 1000, 2000])
//   pauseBeforePatch  list of 1-based PATCH numbers: before sending that PATCH the script
//                     prints {"event":"paused",...} and waits for a line on stdin. A line
//                     {"headers":{...}} (e.g. a renewed Authorization) sets those headers on
//                     that PATCH and on every later request; any other line just resumes
//   uploadDataDuringCreation  tus-js-client option of the same name
//   headers           extra request headers
//   parallelUploads   tus-js-client option of the same name (partial uploads + a final)
//   metadataForPartialUploads  tus-js-client option of the same name
//   sourceBuffer      true: read the file into a Buffer and upload that (tus-js-client opens a
//                     Buffer synchronously, so parallel partials are created in index order;
//                     an fs.ReadStream is stat'ed per partial, which reorders them)
//   warmup            n > 0: first send n concurrent OPTIONS requests to the endpoint over
//                     keep-alive connections, so the upload's requests reuse open connections
//   finalOrder        test hook with parallelUploads: a permutation of partial indexes; the
//                     final's Upload-Concat lists the partial URLs in this order instead
//
// Output: one JSON object per line on stdout. Events while running:
//   {"event":"paused","patch":n,"offset":o,"uploadUrl":u}
//   {"event":"retry","attempt":n,"error":"..."}
// and last, exactly one {"event":"result", ok, uploadUrl, mediaId, mediaType,
// postMediaId, finalMediaId, offsets, requests, bytes, ms, error?}. Each request
// has headerGen: how many header sets from stdin had been applied when it was sent.
// The exit code is 0 when ok, 1 otherwise.
import fs from 'node:fs';
import { PassThrough } from 'node:stream';
import readline from 'node:readline';
import * as tus from 'tus-js-client';

const opts = JSON.parse(process.argv[2] || '{}');

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// stdin lines release pauses, one line per pause. stdin keeps the process
// alive only while a pause waits for it.
const waiting = [];
const pending = [];
let rl = null;
function nextLine() {
  if (!rl) {
    rl = readline.createInterface({ input: process.stdin });
    rl.on('line', (line) => {
      const w = waiting.shift();
      if (w) w(line);
      else pending.push(line);
      if (waiting.length === 0 && process.stdin.unref) process.stdin.unref();
    });
  }
  if (pending.length > 0) return Promise.resolve(pending.shift());
  if (process.stdin.ref) process.stdin.ref();
  return new Promise((resolve) => waiting.push(resolve));
}

const requests = []; // {method, status, offset, mediaId}
const offsets = []; // every Upload-Offset the server answered with
let postMediaId = null;
let finalMediaId = null;
let lastMediaId = null;
let lastMediaType = null;
let patchCount = 0;
let currentOffset = 0;
const pauses = new Set(opts.pauseBeforePatch || []);
let renewed = null; // headers from stdin, applied to every request from then on
let headerGen = 0;
const genOf = new WeakMap(); // request -> headerGen when it was sent
const started = Date.now();

// takeHeaders applies a {"headers":{...}} line released from a pause.
function takeHeaders(line) {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    return;
  }
  if (msg && typeof msg.headers === 'object' && msg.headers !== null) {
    renewed = { ...(renewed || {}), ...msg.headers };
    headerGen++;
  }
}

function applyHeaders(req) {
  if (renewed) {
    for (const [k, v] of Object.entries(renewed)) req.setHeader(k, v);
  }
  genOf.set(req, headerGen);
}

function methodOf(req) {
  const m = req.getMethod();
  if (m === 'POST' && req.getHeader('X-HTTP-Method-Override')) return req.getHeader('X-HTTP-Method-Override');
  return m;
}

let source;
if (opts.sourceBuffer) {
  source = fs.readFileSync(opts.file);
} else if (opts.deferred) {
  // A plain Readable (not an fs.ReadStream) has no known size.
  source = fs.createReadStream(opts.file).pipe(new PassThrough());
} else {
  source = fs.createReadStream(opts.file);
}

let finished = false;
function finish(result) {
  if (finished) return;
  finished = true;
  if (rl) rl.close();
  emit({
    event: 'result',
    ms: Date.now() - started,
    offsets,
    requests,
    postMediaId,
    finalMediaId,
    mediaId: lastMediaId,
    mediaType: lastMediaType,
    ...result,
  });
  process.exitCode = result.ok ? 0 : 1;
  // Do not wait for keep-alive sockets or stdin.
  setTimeout(() => process.exit(process.exitCode), 50).unref();
}

const upload = new tus.Upload(source, {
  endpoint: opts.endpoint,
  uploadUrl: opts.uploadUrl || null,
  chunkSize: opts.chunkSize || Infinity,
  uploadLengthDeferred: !!opts.deferred,
  metadata: opts.metadata || {},
  headers: opts.headers || {},
  retryDelays: opts.retryDelays || [0, 500, 1000, 2000],
  uploadDataDuringCreation: !!opts.uploadDataDuringCreation,
  ...(opts.protocol ? { protocol: opts.protocol } : {}),
  storeFingerprintForResuming: false,
  removeFingerprintOnSuccess: false,
  ...(opts.parallelUploads ? { parallelUploads: opts.parallelUploads } : {}),
  ...(opts.metadataForPartialUploads ? { metadataForPartialUploads: opts.metadataForPartialUploads } : {}),
  async onBeforeRequest(req) {
    applyHeaders(req);
    const concat = req.getHeader('Upload-Concat');
    if (opts.finalOrder && concat && concat.startsWith('final;')) {
      const urls = concat.slice('final;'.length).split(' ');
      req.setHeader('Upload-Concat', 'final;' + opts.finalOrder.map((i) => urls[i]).join(' '));
    }
    if (methodOf(req) !== 'PATCH') return;
    patchCount++;
    if (pauses.has(patchCount)) {
      emit({ event: 'paused', patch: patchCount, offset: currentOffset, uploadUrl: upload.url });
      takeHeaders(await nextLine());
      applyHeaders(req);
    }
  },
  onAfterResponse(req, res) {
    const method = methodOf(req);
    const status = res.getStatus();
    const off = res.getHeader('Upload-Offset');
    const mediaId = res.getHeader('Vod-Media-Id') || null;
    const mediaType = res.getHeader('Vod-Media-Type') || null;
    const rec = { method, status, mediaId, headerGen: genOf.get(req) || 0 };
    if (off !== undefined && off !== null && off !== '') {
      rec.offset = Number(off);
      offsets.push(rec.offset);
      if (status < 300) currentOffset = rec.offset;
    }
    requests.push(rec);
    if (mediaId) {
      lastMediaId = mediaId;
      if (mediaType) lastMediaType = mediaType;
      if (method === 'POST' && status === 201) postMediaId = mediaId;
    }
  },
  onShouldRetry(err, attempt) {
    const status = err.originalResponse ? err.originalResponse.getStatus() : 0;
    emit({ event: 'retry', attempt, status, error: String(err.message || err).slice(0, 300) });
    const is4xx = status >= 400 && status < 500;
    return !is4xx || status === 409 || status === 423;
  },
  onSuccess() {
    // The last successful PATCH (or the creation-with-upload POST) is the final one.
    for (let i = requests.length - 1; i >= 0; i--) {
      const r = requests[i];
      if ((r.method === 'PATCH' || r.method === 'POST') && r.status < 300) {
        finalMediaId = r.mediaId;
        break;
      }
    }
    finish({ ok: true, uploadUrl: upload.url, bytes: currentOffset });
  },
  onError(err) {
    const status = err.originalResponse ? err.originalResponse.getStatus() : 0;
    const body = err.originalResponse ? err.originalResponse.getBody() : '';
    finish({ ok: false, uploadUrl: upload.url, error: String(err.message || err), status, body, bytes: currentOffset });
  },
});

// tus-js-client can go idle without calling back (seen with a deferred-length
// stream whose size is an exact multiple of chunkSize): report it.
process.on('exit', () => {
  if (!finished) {
    finished = true;
    emit({ event: 'result', ok: false, error: 'node exited with the upload unfinished (client went idle)', offsets, requests, bytes: currentOffset });
    process.exitCode = 1;
  }
});

async function warmup(n) {
  const http = await import('node:http');
  await Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => {
    const req = http.request(opts.endpoint, { method: 'OPTIONS', headers: { 'Tus-Resumable': '1.0.0' } }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end();
  })));
}

if (opts.warmup > 0) {
  warmup(opts.warmup).then(() => upload.start(), (err) => finish({ ok: false, error: 'warmup: ' + err }));
} else {
  upload.start();
}
