// app.mjs: the -dev page (internal/devpage). Uppy's Dashboard with the Tus
// plugin uploads to the gateway's tus endpoint; a table below it shows each
// file's upload URL, VOD media ID (from the Vod-Media-Id response header)
// and the simulated VOD's status of that media (polled through the page's
// /devpage/media/{id}). Bundled by build.mjs into dist/app.js and
// dist/app.css, which the Go package embeds.
//
// The page's settings come from the JSON in <script id="devpage-config">:
// endpoint (tus creation URL), auth (show a token field), vodURL and
// ossURL (the simulators' inspection APIs; empty without -dev),
// mediaStatus (whether /devpage/media/{id} answers). Query parameters:
// chunkSize (bytes per PATCH; default: the whole file in one PATCH).
import Uppy from '@uppy/core';
import Dashboard from '@uppy/dashboard';
import Tus from '@uppy/tus';
import '@uppy/core/css/style.min.css';
import '@uppy/dashboard/css/style.min.css';
import './page.css';

const cfg = JSON.parse(document.getElementById('devpage-config').textContent);
const q = new URLSearchParams(location.search);
const chunkSize = Number(q.get('chunkSize')) || Infinity;

// Per-file state, by Uppy file ID: also exposed for tests as window.__devpage.
const files = new Map();
window.__devpage = { files: () => Array.from(files.values()) };

const tokenInput = document.getElementById('token');
if (cfg.auth) document.getElementById('auth').hidden = false;
function token() {
  return cfg.auth ? tokenInput.value.trim() : '';
}

const reqFile = new WeakMap(); // tus request → Uppy file ID

const uppy = new Uppy({ autoProceed: false, debug: false });
uppy.use(Dashboard, {
  inline: true,
  target: '#uppy',
  height: 420,
  width: '100%',
  showProgressDetails: true,
  proudlyDisplayPoweredByUppy: false,
  note: 'Any video, audio or image file; VOD checks the extension.',
});
uppy.use(Tus, {
  endpoint: cfg.endpoint,
  chunkSize,
  retryDelays: [0, 1000, 3000, 5000],
  removeFingerprintOnSuccess: true,
  onBeforeRequest(req, file) {
    reqFile.set(req, file.id);
    const t = token();
    // setHeader, not the headers option: a token typed later must apply to
    // uploads already added.
    if (t) req.setHeader('Authorization', 'Bearer ' + t);
  },
  onAfterResponse(req, res) {
    const id = reqFile.get(req);
    if (!id) return;
    const mediaId = res.getHeader('Vod-Media-Id');
    if (mediaId) {
      update(id, { mediaId, mediaType: res.getHeader('Vod-Media-Type') || '' });
    }
    if (res.getStatus() >= 400) update(id, { error: `${req.getMethod()} ${res.getStatus()}: ${res.getBody() || ''}`.trim() });
  },
});

function entry(id) {
  let e = files.get(id);
  if (!e) {
    const f = uppy.getFile(id);
    e = { id, name: f ? f.name : id, size: f ? f.size : 0, progress: 0, uploadURL: '', mediaId: '', mediaType: '',
      status: '', paused: false, done: false, error: '' };
    files.set(id, e);
  }
  return e;
}

function update(id, fields) {
  const e = entry(id);
  const hadMedia = e.mediaId;
  Object.assign(e, fields);
  if (e.mediaId && !hadMedia) pollStatus(e);
  render();
}

uppy.on('file-added', (f) => update(f.id, {}));
uppy.on('file-removed', (f) => {
  files.delete(f.id);
  render();
});
uppy.on('upload-progress', (f, p) => {
  const fresh = uppy.getFile(f.id);
  update(f.id, {
    progress: p.bytesTotal ? Math.floor((100 * p.bytesUploaded) / p.bytesTotal) : 0,
    uploadURL: (fresh && fresh.tus && fresh.tus.uploadUrl) || entry(f.id).uploadURL,
  });
});
uppy.on('upload-pause', (f, paused) => f && update(f.id, { paused: !!paused }));
uppy.on('pause-all', () => files.forEach((e) => update(e.id, { paused: !e.done })));
uppy.on('resume-all', () => files.forEach((e) => update(e.id, { paused: false })));
uppy.on('upload-success', (f, resp) => {
  const xhr = resp && resp.body && resp.body.xhr;
  const fields = { done: true, paused: false, progress: 100, uploadURL: resp.uploadURL || entry(f.id).uploadURL };
  if (xhr && xhr.getResponseHeader('Vod-Media-Id')) fields.mediaId = xhr.getResponseHeader('Vod-Media-Id');
  update(f.id, fields);
});
uppy.on('upload-error', (f, err) => f && update(f.id, { error: String(err && err.message ? err.message : err) }));

// pollStatus asks the simulated VOD for the media's status until it is final.
async function pollStatus(e) {
  if (!cfg.mediaStatus) return;
  for (let i = 0; i < 600 && files.has(e.id); i++) {
    try {
      const r = await fetch('/devpage/media/' + encodeURIComponent(e.mediaId), { cache: 'no-store' });
      if (r.ok) {
        const m = await r.json();
        if (m.status !== e.status) update(e.id, { status: m.status });
        if (e.done && (m.status === 'Normal' || /Fail/.test(m.status))) return;
      }
    } catch (_) {
      // the simulator is gone or busy: try again
    }
    await new Promise((res) => setTimeout(res, 1000));
  }
}

const tbody = document.querySelector('#uploads tbody');
function cell(tr, text, cls) {
  const td = tr.insertCell();
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}
function render() {
  tbody.replaceChildren();
  for (const e of files.values()) {
    const tr = tbody.insertRow();
    tr.dataset.name = e.name;
    cell(tr, e.name, 'name');
    cell(tr, e.done ? 'done' : e.paused ? `paused ${e.progress}%` : e.error ? 'error' : `${e.progress}%`, 'progress');
    cell(tr, e.mediaId, 'media-id');
    cell(tr, e.mediaType, 'media-type');
    const st = cell(tr, e.status, 'media-status');
    if (cfg.vodURL && e.mediaId) {
      const a = document.createElement('a');
      a.href = cfg.vodURL + '/_sim/media/' + encodeURIComponent(e.mediaId);
      a.textContent = e.status || 'inspect';
      a.target = '_blank';
      st.replaceChildren(a);
    }
    cell(tr, e.error, 'error');
  }
  document.getElementById('uploads').hidden = files.size === 0;
}

const links = document.getElementById('links');
for (const [label, href] of [
  ['VOD media', cfg.vodURL && cfg.vodURL + '/_sim/media'],
  ['VOD calls', cfg.vodURL && cfg.vodURL + '/_sim/calls'],
  ['OSS objects', cfg.ossURL && cfg.ossURL + '/_sim/objects'],
  ['OSS multipart uploads', cfg.ossURL && cfg.ossURL + '/_sim/uploads'],
  ['OSS calls', cfg.ossURL && cfg.ossURL + '/_sim/calls'],
  ['metrics', '/metrics'],
]) {
  if (!href) continue;
  const li = document.createElement('li');
  const a = document.createElement('a');
  a.href = href;
  a.textContent = label;
  a.target = '_blank';
  li.append(a);
  links.append(li);
}
window.__devpage.ready = true;
