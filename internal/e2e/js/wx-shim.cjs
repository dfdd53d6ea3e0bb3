// wx-shim.cjs: the parts of WeChat's mini-program `wx` object that
// examples/wechat-miniprogram uses, for Node, behaving like WeChat where the
// client depends on it:
//
// - wx.request takes only WeChat's methods (OPTIONS, GET, HEAD, POST, PUT,
//   DELETE, TRACE, CONNECT; uppercase); anything else, PATCH included, goes
//   to the fail callback with a "request:fail ..." errMsg and never reaches
//   the network. A missing content-type is sent as application/json, as
//   WeChat does; ArrayBuffer data is sent as the body; a Referer of
//   servicewechat.com is added. success gets {data, statusCode, header,
//   cookies, errMsg: "request:ok"}; response header names are lowercased
//   (headerCase "lower", as Android delivers them), kept as the server sent
//   them ("asis", as iOS does) or uppercased ("upper"). The RequestTask has
//   abort(): the request is cut and fail gets "request:fail abort".
// - wx.getFileSystemManager().readFile({filePath, encoding, position,
//   length}) reads a real file; without encoding it yields an ArrayBuffer.
//   position must be in [0, size-1] and length in [1, size-position], else
//   fail (WeChat's documented valid ranges). getFileInfo gives size and an
//   md5/sha1/sha256 digest.
// - wx.getStorageSync / setStorageSync / removeStorageSync over a JSON file
//   (WeChat's storage outlives the app process, so a restarted client sees it).
// - wx.chooseMedia answers with the files given in opts.chosen.
//
// Faults for the tests: opts.cut = {nth, afterBytes}: the nth request that
// carries a body of more than afterBytes bytes (1-based) sends afterBytes of
// it, then the connection is destroyed and fail gets
// "request:fail socket hang up". opts.kill = {nth, afterBytes}: the same,
// but the whole process dies with SIGKILL (the app is killed mid-upload).
//
// Every request sent is recorded in wx.__log as {method, override, status,
// offset, mediaId, bodyBytes, errMsg}.
'use strict'

const fs = require('node:fs')
const http = require('node:http')
const https = require('node:https')
const crypto = require('node:crypto')
const path = require('node:path')
const vm = require('node:vm')

const METHODS = ['OPTIONS', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'TRACE', 'CONNECT']

function isArrayBuffer(x) {
  return Object.prototype.toString.call(x) === '[object ArrayBuffer]'
}

function later(fn) { setImmediate(fn) }

function call(o, name, res) {
  if (typeof o[name] === 'function') o[name](res)
  if (typeof o.complete === 'function') o.complete(res)
}

function getHeader(h, name) {
  for (const k of Object.keys(h || {})) if (k.toLowerCase() === name.toLowerCase()) return h[k]
  return undefined
}

function createWx(opts) {
  opts = opts || {}
  const log = []
  let bodyRequests = 0

  function request(o) {
    const method = o.method === undefined ? 'GET' : o.method
    const task = { abort() {}, onHeadersReceived() {}, offHeadersReceived() {}, onChunkReceived() {}, offChunkReceived() {} }
    if (!METHODS.includes(method)) {
      log.push({ method, refused: true })
      later(() => call(o, 'fail', { errMsg: 'request:fail method ' + method + ' is not supported, use one of ' + METHODS.join(', '), errno: 600009 }))
      return task
    }
    let url
    try { url = new URL(o.url) } catch (e) {
      later(() => call(o, 'fail', { errMsg: 'request:fail invalid url "' + o.url + '"', errno: 600009 }))
      return task
    }
    const hdr = Object.assign({}, o.header || {})
    if (getHeader(hdr, 'content-type') === undefined) hdr['content-type'] = 'application/json'
    hdr['Referer'] = 'https://servicewechat.com/wx0000000000000000/devtools/page-frame.html'
    let body = Buffer.alloc(0)
    if (isArrayBuffer(o.data)) body = Buffer.from(o.data)
    else if (typeof o.data === 'string') body = Buffer.from(o.data)
    else if (o.data != null && method !== 'GET') body = Buffer.from(JSON.stringify(o.data))
    if (method !== 'GET' && method !== 'HEAD') hdr['Content-Length'] = String(body.length)

    const entry = { method, override: getHeader(hdr, 'X-HTTP-Method-Override') || '', bodyBytes: body.length }
    log.push(entry)
    let fault = null
    if (body.length > 0 && (opts.cut || opts.kill)) {
      bodyRequests++
      for (const kind of ['cut', 'kill']) {
        const f = opts[kind]
        if (f && f.nth === bodyRequests && body.length > f.afterBytes) fault = { kind, afterBytes: f.afterBytes }
      }
    }

    let done = false
    function fail(msg) {
      if (done) return
      done = true
      entry.errMsg = msg
      call(o, 'fail', { errMsg: msg })
    }
    const mod = url.protocol === 'https:' ? https : http
    const req = mod.request(url, { method, headers: hdr })
    req.setTimeout(o.timeout || 60000, () => { req.destroy(); fail('request:fail timeout') })
    req.on('error', (e) => fail('request:fail ' + (e.code === 'ECONNRESET' ? 'socket hang up' : e.message)))
    req.on('response', (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('error', (e) => fail('request:fail ' + e.message))
      res.on('end', () => {
        if (done) return
        done = true
        const raw = Buffer.concat(chunks)
        const header = {}
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          let k = res.rawHeaders[i]
          if (opts.headerCase === 'upper') k = k.toUpperCase()
          else if (opts.headerCase !== 'asis') k = k.toLowerCase()
          header[k] = header[k] === undefined ? res.rawHeaders[i + 1] : header[k] + ', ' + res.rawHeaders[i + 1]
        }
        let data
        if (o.responseType === 'arraybuffer') data = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length)
        else {
          data = raw.toString('utf8')
          if ((o.dataType || 'json') === 'json') { try { data = JSON.parse(data) } catch (e) { /* kept as text */ } }
        }
        entry.status = res.statusCode
        entry.offset = getHeader(res.headers, 'upload-offset')
        entry.mediaId = getHeader(res.headers, 'vod-media-id')
        call(o, 'success', { data, statusCode: res.statusCode, header, cookies: [], errMsg: 'request:ok' })
      })
    })
    task.abort = () => { req.destroy(); fail('request:fail abort') }
    if (fault) {
      req.write(body.subarray(0, fault.afterBytes), () => {
        // Give the bytes time to leave, then drop the connection.
        setTimeout(() => {
          if (fault.kind === 'kill') process.kill(process.pid, 'SIGKILL')
          req.destroy()
          fail('request:fail socket hang up')
        }, 200)
      })
    } else {
      req.end(body)
    }
    return task
  }

  function getFileSystemManager() {
    return {
      readFile(o) {
        let fd
        try {
          const size = fs.statSync(o.filePath).size
          const pos = o.position === undefined ? 0 : o.position
          const len = o.length === undefined ? size - pos : o.length
          if (!(pos >= 0 && pos <= size - 1) || !(len >= 1 && pos + len <= size)) {
            throw new Error('Invalid argument: position ' + pos + ', length ' + len + ' for a file of ' + size + ' bytes')
          }
          fd = fs.openSync(o.filePath, 'r')
          const buf = Buffer.alloc(len)
          let got = 0
          while (got < len) {
            const n = fs.readSync(fd, buf, got, len - got, pos + got)
            if (n === 0) break
            got += n
          }
          const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + got)
          const data = o.encoding ? Buffer.from(ab).toString(o.encoding) : ab
          later(() => call(o, 'success', { data, errMsg: 'readFile:ok' }))
        } catch (e) {
          later(() => call(o, 'fail', { errMsg: 'readFile:fail ' + e.message }))
        } finally {
          if (fd !== undefined) fs.closeSync(fd)
        }
      },
      getFileInfo(o) {
        try {
          const data = fs.readFileSync(o.filePath)
          const digest = crypto.createHash(o.digestAlgorithm || 'md5').update(data).digest('hex')
          later(() => call(o, 'success', { size: data.length, digest, errMsg: 'getFileInfo:ok' }))
        } catch (e) {
          later(() => call(o, 'fail', { errMsg: 'getFileInfo:fail ' + e.message }))
        }
      }
    }
  }

  function loadStorage() {
    if (!opts.storageFile) return {}
    try { return JSON.parse(fs.readFileSync(opts.storageFile, 'utf8')) } catch (e) { return {} }
  }
  const store = loadStorage()
  function saveStorage() {
    if (opts.storageFile) fs.writeFileSync(opts.storageFile, JSON.stringify(store))
  }

  return {
    request,
    getFileSystemManager,
    getStorageSync(k) { return Object.prototype.hasOwnProperty.call(store, k) ? JSON.parse(JSON.stringify(store[k])) : '' },
    setStorageSync(k, v) { store[k] = v; saveStorage() },
    removeStorageSync(k) { delete store[k]; saveStorage() },
    chooseMedia(o) {
      const files = opts.chosen || []
      later(() => files.length
        ? call(o, 'success', { tempFiles: files.map((f) => Object.assign({ fileType: 'video' }, f)), type: 'video', errMsg: 'chooseMedia:ok' })
        : call(o, 'fail', { errMsg: 'chooseMedia:fail cancel' }))
    },
    showToast() {},
    __log: log
  }
}

// miniProgram is the JS world of a mini-program in appDir, as WeChat makes
// it: one context whose only globals are wx, console, the timers, App, Page
// and getApp (no Node require, process or Buffer), and a require() that
// resolves relative paths inside appDir only. load(file) evaluates a file
// once and returns its module.exports; app() and page() return what App()
// and the last Page() were given.
function miniProgram(appDir, wx) {
  let app = null
  let pageDef = null
  const ctx = vm.createContext({
    wx,
    console,
    setTimeout,
    clearTimeout,
    setInterval,
    clearInterval,
    App(def) { app = def },
    Page(def) { pageDef = def },
    getApp() { return app }
  })
  const root = path.resolve(appDir) + path.sep
  const modules = {}
  function load(file) {
    const abs = path.resolve(file)
    if (!abs.startsWith(root)) throw new Error('require outside the mini-program: ' + file)
    if (modules[abs]) return modules[abs].exports
    const module = { exports: {} }
    modules[abs] = module
    const src = fs.readFileSync(abs, 'utf8')
    const fn = vm.runInContext('(function (module, exports, require) {' + src + '\n})', ctx, { filename: abs })
    fn(module, module.exports, (p) => {
      if (!p.startsWith('.')) throw new Error('mini-program code may only require relative paths, not ' + p)
      return load(path.resolve(path.dirname(abs), p.endsWith('.js') ? p : p + '.js'))
    })
    return module.exports
  }
  return { load, app: () => app, page: () => pageDef }
}

module.exports = { createWx, miniProgram, METHODS }
