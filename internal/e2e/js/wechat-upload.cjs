// wechat-upload.cjs: runs examples/wechat-miniprogram in Node on the wx shim
// (wx-shim.cjs), driven by the Go e2e tests (wechat_test.go).
//
// Usage: node wechat-upload.cjs '<json options>'
//
// The mini-program's files are evaluated as WeChat does: in a context of
// their own whose only globals are wx, console, the timers, and App, Page,
// getApp (no require of Node modules, no process, no Buffer), with a
// require() that resolves relative paths inside the mini-program only. So
// a client that used a Node API would fail here.
//
// Options:
//   appDir       the mini-program's directory (examples/wechat-miniprogram)
//   mode         "client" (default): utils/tus.js directly; "page": the example
//                page's chooseMedia -> upload flow (app.js, pages/index/index.js)
//   endpoint     tus creation URL
//   file         the local file to upload; size is taken from it
//   token        bearer token, sent as Authorization
//   chunkSize, metadata, storeKey, retryDelays, timeout   tus.js options
//   storageFile  JSON file behind wx storage (kept across runs)
//   headerCase   "lower" | "asis" | "upper": response header names (wx-shim.cjs)
//   cut, kill    faults (wx-shim.cjs)
//   probePatch   first send a wx.request with method PATCH and report its errMsg
//   abortAfterChunks  call abort(terminate) after that many chunks (client mode)
//   terminate    with abortAfterChunks: abort(true), deleting the upload
//
// Output, one JSON object per line: {"event":"created","uploadUrl","mediaId"},
// {"event":"chunk","offset"}, {"event":"retry","attempt","delay","error"},
// and last {"event":"result","ok","uploadUrl","mediaId","mediaType","videoId",
// "imageId","error","probeErrMsg","page":{...page data},"requests":[...]}.
'use strict'

const fs = require('node:fs')
const path = require('node:path')
const { createWx, miniProgram } = require('./wx-shim.cjs')

const opts = JSON.parse(process.argv[2] || '{}')
const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n')

const size = fs.statSync(opts.file).size
const wx = createWx({
  storageFile: opts.storageFile,
  headerCase: opts.headerCase,
  cut: opts.cut,
  kill: opts.kill,
  chosen: [{ tempFilePath: opts.file, size, fileType: 'video' }]
})

const mp = miniProgram(opts.appDir, wx)
const load = mp.load

function probe() {
  if (!opts.probePatch) return Promise.resolve('')
  return new Promise((resolve) => wx.request({
    url: opts.endpoint,
    method: 'PATCH',
    success: (res) => resolve('unexpected success ' + res.statusCode),
    fail: (res) => resolve(res.errMsg)
  }))
}

function finish(res) {
  emit(Object.assign({ event: 'result', requests: wx.__log }, res))
  process.exitCode = res.ok ? 0 : 1
}

function runClient() {
  const tus = load(path.join(opts.appDir, 'utils/tus.js'))
  let chunks = 0
  let aborting = null
  const up = new tus.Upload({ path: opts.file, size }, {
    endpoint: opts.endpoint,
    headers: opts.token ? { Authorization: 'Bearer ' + opts.token } : {},
    metadata: opts.metadata,
    chunkSize: opts.chunkSize,
    storeKey: opts.storeKey,
    retryDelays: opts.retryDelays,
    timeout: opts.timeout,
    onCreated: (uploadUrl, mediaId) => emit({ event: 'created', uploadUrl, mediaId }),
    onChunkComplete: (n, offset) => {
      emit({ event: 'chunk', offset })
      if (++chunks === opts.abortAfterChunks) aborting = up.abort(!!opts.terminate)
    },
    onRetry: (err, attempt, delay) => emit({ event: 'retry', attempt, delay, error: err.message, status: err.statusCode || 0 })
  })
  return up.start().catch((err) => {
    if (!aborting) throw err
    // Report the abort once the termination (if any) settled.
    return aborting.then(() => { throw err }, (e) => { throw new Error(err.message + '; terminate: ' + e.message) })
  })
}

function runPage() {
  load(path.join(opts.appDir, 'app.js'))
  const app = mp.app()
  if (!app) throw new Error('app.js did not call App()')
  app.globalData.endpoint = opts.endpoint
  if (opts.chunkSize) app.globalData.chunkSize = opts.chunkSize
  app.globalData.getToken = (cb) => cb(opts.token || '')
  load(path.join(opts.appDir, 'pages/index/index.js'))
  const pageDef = mp.page()
  if (!pageDef) throw new Error('pages/index/index.js did not call Page()')
  // A page instance as WeChat makes one: the definition's fields, data, setData.
  const page = Object.assign({}, pageDef, { data: JSON.parse(JSON.stringify(pageDef.data || {})) })
  page.setData = function (d, cb) { Object.assign(this.data, d); if (cb) cb() }
  if (page.onLoad) page.onLoad({})
  return Promise.resolve(page.chooseAndUpload()).then((res) => {
    page.onUnload && page.onUnload()
    return Object.assign({ page: page.data }, res)
  })
}

probe().then((probeErrMsg) => {
  return (opts.mode === 'page' ? runPage() : runClient()).then(
    (res) => finish(Object.assign({ ok: true, probeErrMsg }, res)),
    (err) => finish({ ok: false, probeErrMsg, error: String(err && err.message), status: err && err.statusCode, aborted: !!(err && err.aborted) }))
}).catch((err) => finish({ ok: false, error: String(err && err.stack) }))
