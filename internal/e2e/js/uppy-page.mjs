// uppy-page.mjs: the browser page of TestUppyChromiumCrossOrigin, bundled
// with esbuild (build-page.mjs). It is served from an origin other than the
// gateway's, generates a file in the page, uploads it with @uppy/core +
// @uppy/tus, pauses and resumes while the upload runs, and leaves its result
// in window.__e2e for the driver (uppy-drive.mjs).
//
// Query parameters: endpoint (tus creation URL), size (bytes, default 16 MiB),
// chunk (chunkSize, default 4 MiB), pauseAt (bytes uploaded when it pauses,
// default 5 MiB), pauseMs (how long it stays paused, default 1000).
//
// token: every request carries Authorization: Bearer <token>, set with the
// @uppy/tus headers option. token2 as well: the app renews its token
// mid-upload, so Authorization is set in onBeforeRequest instead (token for
// the first renewAfter requests, default 2, then token2): with XHR, a
// setHeader on top of the headers option would append a second value
// ("Bearer a, Bearer b") rather than replace it. Each request records which
// token it carried (auth: 0 none, 1 token, 2 token2).
import Uppy from '@uppy/core';
import Tus from '@uppy/tus';

const MiB = 1024 * 1024;
const q = new URLSearchParams(location.search);
const endpoint = q.get('endpoint');
const size = Number(q.get('size') || 16 * MiB);
const chunkSize = Number(q.get('chunk') || 4 * MiB);
const pauseAt = Number(q.get('pauseAt') || 5 * MiB);
const pauseMs = Number(q.get('pauseMs') || 1000);
const token = q.get('token');
const token2 = q.get('token2');
const renewAfter = Number(q.get('renewAfter') || 2);

const state = {
  done: false,
  ok: false,
  error: null,
  size,
  sha256: null,
  uploadURL: null,
  requests: [], // {method, status, offset, mediaId, t}
  events: [], // pause / resume / progress milestones
  pausedAt: null,
  resumedAt: null,
};
window.__e2e = state;

function authOf(value) {
  if (token && value === 'Bearer ' + token) return 1;
  if (token2 && value === 'Bearer ' + token2) return 2;
  return 0;
}

function hex(buf) {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function main() {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) {
    crypto.getRandomValues(data.subarray(i, Math.min(size, i + 65536)));
  }
  state.sha256 = hex(await crypto.subtle.digest('SHA-256', data));
  const blob = new Blob([data], { type: 'video/mp4' });

  const uppy = new Uppy({ autoProceed: false, debug: false });
  let sent = 0;
  uppy.use(Tus, {
    endpoint,
    chunkSize,
    retryDelays: [0, 500, 1000, 2000],
    headers: token && !token2 ? { Authorization: 'Bearer ' + token } : {},
    onBeforeRequest(req) {
      sent++;
      if (token2) req.setHeader('Authorization', 'Bearer ' + (sent > renewAfter ? token2 : token));
    },
    onAfterResponse(req, res) {
      const off = res.getHeader('Upload-Offset');
      state.requests.push({
        method: req.getMethod(),
        status: res.getStatus(),
        offset: off == null || off === '' ? null : Number(off),
        mediaId: res.getHeader('Vod-Media-Id'),
        mediaType: res.getHeader('Vod-Media-Type'),
        auth: authOf(req.getHeader('Authorization')),
        t: Date.now(),
      });
    },
  });
  const fileID = uppy.addFile({ name: 'browser-upload.mp4', type: 'video/mp4', data: blob, source: 'e2e' });

  uppy.on('upload-progress', (file, progress) => {
    if (state.pausedAt === null && progress.bytesUploaded >= pauseAt && progress.bytesUploaded < size) {
      state.pausedAt = progress.bytesUploaded;
      state.events.push({ event: 'pause', bytes: progress.bytesUploaded, t: Date.now() });
      uppy.pauseResume(fileID);
      setTimeout(() => {
        state.resumedAt = Date.now();
        state.events.push({ event: 'resume', t: Date.now() });
        uppy.pauseResume(fileID);
      }, pauseMs);
    }
  });
  uppy.on('upload-success', (file, response) => {
    state.uploadURL = response.uploadURL;
  });
  uppy.on('upload-error', (file, err) => {
    state.error = String(err && err.message ? err.message : err);
  });

  const result = await uppy.upload();
  if (result && result.failed && result.failed.length > 0) {
    state.error = state.error || 'upload failed: ' + String(result.failed[0].error);
  } else if (!state.uploadURL) {
    state.error = state.error || 'no upload-success event';
  } else {
    state.ok = true;
  }
}

main()
  .catch((err) => {
    state.error = String(err && err.stack ? err.stack : err);
  })
  .finally(() => {
    state.done = true;
  });
