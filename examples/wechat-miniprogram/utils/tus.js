// tus.js: a small tus 1.0.0 client for WeChat mini-programs, for the
// vodgate upload gateway (any tus server that honours
// X-HTTP-Method-Override works).
//
// WeChat's wx.request cannot send PATCH (its methods are OPTIONS, GET,
// HEAD, POST, PUT, DELETE, TRACE and CONNECT), so every tus PATCH is sent
// as POST with "X-HTTP-Method-Override: PATCH". Chunks are read as
// ArrayBuffers with FileSystemManager.readFile({position, length}) (base
// library 2.10.0 or later), so only one chunk is in memory at a time.
//
// It uses nothing but wx.request, wx.getFileSystemManager, the wx storage
// functions, setTimeout and Promise: no npm package, no Node API.
//
//   const tus = require('../../utils/tus.js')
//   const up = new tus.Upload({ path: tempFilePath, size: size, name: 'clip.mp4' }, {
//     endpoint: 'https://upload.example.com/files/',
//     headers: { Authorization: 'Bearer ' + token },
//     metadata: { filename: 'clip.mp4', title: 'My clip' },
//     storeKey: digest,             // resume the same file after the app restarts
//     onProgress: (sent, total) => {},
//   })
//   up.start().then(res => console.log(res.mediaId, res.mediaType))
//   up.abort()                      // stop; up.abort(true) also deletes the upload
//
// The promise of start() resolves with {uploadUrl, size, mediaId,
// mediaType, videoId | imageId | attachedMediaId} and rejects with an
// Error carrying statusCode, body and errMsg where known (err.aborted for
// abort()).
'use strict'

var TUS_VERSION = '1.0.0'
var DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024
var DEFAULT_RETRY_DELAYS = [0, 1000, 3000, 5000, 10000]
var STORAGE_PREFIX = 'tus::'

// header returns a response header by name, whatever the case WeChat
// delivered it in (Android lowercases names, iOS keeps the server's
// casing, the devtools vary); several values are joined with ", ".
function header(headers, name) {
  if (!headers) return ''
  var want = name.toLowerCase()
  for (var k in headers) {
    if (Object.prototype.hasOwnProperty.call(headers, k) && k.toLowerCase() === want) {
      var v = headers[k]
      if (Array.isArray(v)) return v.join(', ')
      return v == null ? '' : String(v)
    }
  }
  return ''
}

var B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

// utf8 returns the UTF-8 bytes of s (WeChat has no TextEncoder everywhere).
function utf8(s) {
  var out = []
  for (var i = 0; i < s.length; i++) {
    var c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      var d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00)
        i++
      }
    }
    if (c < 0x80) out.push(c)
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63))
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63))
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63))
  }
  return out
}

// base64 encodes the UTF-8 bytes of s (WeChat has no btoa).
function base64(s) {
  var b = utf8(s)
  var out = ''
  for (var i = 0; i < b.length; i += 3) {
    var n = (b[i] << 16) | ((b[i + 1] || 0) << 8) | (b[i + 2] || 0)
    out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] +
      (i + 1 < b.length ? B64[(n >> 6) & 63] : '=') +
      (i + 2 < b.length ? B64[n & 63] : '=')
  }
  return out
}

// encodeMetadata builds the tus Upload-Metadata header value.
function encodeMetadata(meta) {
  var parts = []
  for (var k in meta) {
    if (!Object.prototype.hasOwnProperty.call(meta, k) || meta[k] == null) continue
    if (!/^[\x21-\x2b\x2d-\x7e]+$/.test(k)) throw new Error('tus: metadata key ' + JSON.stringify(k) + ' must be ASCII without spaces or commas')
    var v = String(meta[k])
    parts.push(v === '' ? k : k + ' ' + base64(v))
  }
  return parts.join(',')
}

// resolveURL resolves a Location header against the creation URL (WeChat
// has no URL class).
function resolveURL(base, loc) {
  if (/^https?:\/\//i.test(loc)) return loc
  var m = /^(https?:)\/\/[^/?#]*/i.exec(base)
  if (!m) return loc
  if (loc.indexOf('//') === 0) return m[1] + loc
  if (loc.charAt(0) === '/') return m[0] + loc
  var dir = base.replace(/[?#].*$/, '')
  return dir.slice(0, dir.lastIndexOf('/') + 1) + loc
}

function tusError(msg, res, errMsg) {
  var e = new Error('tus: ' + msg)
  if (res) {
    e.statusCode = res.statusCode
    e.body = typeof res.data === 'string' ? res.data : ''
    e.retryAfter = parseInt(header(res.header, 'Retry-After'), 10) || 0
  }
  if (errMsg) e.errMsg = errMsg
  return e
}

// retryable reports whether err is worth another attempt: network
// failures and timeouts (no status), 5xx, 423 Locked (another request
// still holds the upload), 429, and 409 (offset mismatch, resolved by the
// HEAD before the retry).
function retryable(err) {
  if (err.aborted) return false
  var s = err.statusCode
  if (!s) return !!err.errMsg
  return s >= 500 || s === 423 || s === 429 || s === 409
}

function copy(o) {
  var r = {}
  for (var k in o) if (Object.prototype.hasOwnProperty.call(o, k)) r[k] = o[k]
  return r
}

// Upload uploads one local file.
//
// file: {path, size, name?}; path is a local file path (e.g. a
// tempFilePath from wx.chooseMedia), size its length in bytes.
// options:
//   endpoint     tus creation URL, e.g. https://upload.example.com/files/
//   uploadUrl    resume this upload instead of looking one up or creating one
//   headers      sent with every request (e.g. Authorization); a function
//                returning an object is called before each request
//   metadata     Upload-Metadata (filename, title, cateId, templateGroupId, ...);
//                filename defaults to file.name
//   chunkSize    bytes per request (default 4 MiB)
//   retryDelays  ms to wait before each retry (default [0, 1000, 3000, 5000, 10000])
//   timeout      wx.request timeout in ms (default: WeChat's, 60 s)
//   storeKey     when set, the upload URL is kept in wx storage under this
//                key until the upload succeeds, so a restarted app resumes
//                it (use a digest of the file, e.g. from getFileInfo)
//   onProgress(sent, total), onChunkComplete(chunk, sent, total),
//   onRetry(err, attempt, delayMs), onCreated(uploadUrl, mediaId),
//   onSuccess(result), onError(err) (with onError, start()'s promise
//   resolves undefined on failure instead of rejecting)
//   wx           the wx object (default: the global one)
function Upload(file, options) {
  if (!file || !file.path || typeof file.size !== 'number') throw new Error('tus: file needs path and size')
  this.file = file
  this.options = options || {}
  this.wx = this.options.wx || (typeof wx !== 'undefined' ? wx : null)
  if (!this.wx) throw new Error('tus: no wx object')
  this.url = this.options.uploadUrl || ''
  this.offset = 0
  this.mediaId = ''
  this.mediaType = ''
  this._task = null
  this._timer = null
  this._aborted = false
  this._wake = null
}

Upload.prototype._headers = function (extra) {
  var h = this.options.headers
  h = typeof h === 'function' ? h() : h
  var out = copy(h || {})
  out['Tus-Resumable'] = TUS_VERSION
  for (var k in extra) out[k] = extra[k]
  return out
}

// _request runs one wx.request and resolves with its response whatever
// the status; it rejects only when WeChat itself failed (network, timeout,
// abort).
Upload.prototype._request = function (method, url, hdr, data) {
  var self = this
  return new Promise(function (resolve, reject) {
    if (self._aborted) return reject(abortError())
    var opt = {
      url: url,
      method: method,
      header: self._headers(hdr),
      dataType: 'text', // not JSON.parse'd
      responseType: 'text',
      success: function (res) {
        self._task = null
        self._noteMedia(res)
        resolve(res)
      },
      fail: function (res) {
        self._task = null
        if (self._aborted) return reject(abortError())
        var msg = (res && res.errMsg) || 'request:fail'
        reject(tusError(method + ' ' + url + ': ' + msg, null, msg))
      }
    }
    if (data !== undefined) opt.data = data
    if (self.options.timeout) opt.timeout = self.options.timeout
    self._task = self.wx.request(opt)
  })
}

Upload.prototype._noteMedia = function (res) {
  if (res.statusCode < 200 || res.statusCode > 299) return
  var id = header(res.header, 'Vod-Media-Id')
  if (id) {
    this.mediaId = id
    this.mediaType = header(res.header, 'Vod-Media-Type')
  }
}

function abortError() {
  var e = new Error('tus: upload aborted')
  e.aborted = true
  return e
}

Upload.prototype._storage = function (op, value) {
  var key = this.options.storeKey
  if (!key) return ''
  key = STORAGE_PREFIX + key
  try {
    if (op === 'get') return this.wx.getStorageSync(key) || ''
    if (op === 'set') this.wx.setStorageSync(key, value)
    if (op === 'remove') this.wx.removeStorageSync(key)
  } catch (e) { /* storage is best effort */ }
  return ''
}

// _create POSTs the creation request and remembers the upload URL.
Upload.prototype._create = function () {
  var self = this
  var hdr = { 'Upload-Length': String(this.file.size) }
  var meta = copy(this.options.metadata || {})
  if (this.file.name && meta.filename == null && meta.name == null) meta.filename = this.file.name
  var encoded = encodeMetadata(meta)
  if (encoded) hdr['Upload-Metadata'] = encoded
  return this._request('POST', this.options.endpoint, hdr).then(function (res) {
    var loc = header(res.header, 'Location')
    if (res.statusCode !== 201 || !loc) throw tusError('creation answered ' + res.statusCode, res)
    self.url = resolveURL(self.options.endpoint, loc)
    self.offset = 0
    self._storage('set', { uploadUrl: self.url, size: self.file.size })
    if (self.options.onCreated) self.options.onCreated(self.url, self.mediaId)
  })
}

// _head reads the server's offset. It resolves false when the upload is
// gone (404, 410, or 403 for another owner's upload), so a new one is made.
Upload.prototype._head = function () {
  var self = this
  return this._request('HEAD', this.url, {}).then(function (res) {
    if (res.statusCode === 404 || res.statusCode === 410 || res.statusCode === 403) return false
    if (res.statusCode !== 200) throw tusError('HEAD answered ' + res.statusCode, res)
    var off = parseInt(header(res.header, 'Upload-Offset'), 10)
    if (isNaN(off) || off < 0) throw tusError('HEAD without Upload-Offset', res)
    var len = header(res.header, 'Upload-Length')
    if (len !== '' && parseInt(len, 10) !== self.file.size) {
      throw tusError('upload ' + self.url + ' has length ' + len + ', the file ' + self.file.size, res)
    }
    self.offset = off
    return true
  })
}

// _read reads [offset, offset+length) of the file as an ArrayBuffer.
Upload.prototype._read = function (offset, length) {
  var fs = this.wx.getFileSystemManager()
  var path = this.file.path
  return new Promise(function (resolve, reject) {
    fs.readFile({
      filePath: path,
      position: offset,
      length: length,
      // no encoding: the binary content as an ArrayBuffer
      success: function (res) {
        if (!res.data || res.data.byteLength !== length) {
          return reject(tusError('read ' + (res.data ? res.data.byteLength : 0) + ' bytes at ' + offset + ', want ' + length))
        }
        resolve(res.data)
      },
      fail: function (res) { reject(tusError('readFile: ' + (res && res.errMsg), null)) }
    })
  })
}

// _patch sends one chunk from the current offset.
Upload.prototype._patch = function () {
  var self = this
  var size = this.file.size
  var n = Math.min(this.options.chunkSize || DEFAULT_CHUNK_SIZE, size - this.offset)
  var start = this.offset
  return this._read(start, n).then(function (buf) {
    return self._request('POST', self.url, {
      'X-HTTP-Method-Override': 'PATCH',
      'Upload-Offset': String(start),
      'Content-Type': 'application/offset+octet-stream'
    }, buf)
  }).then(function (res) {
    if (res.statusCode !== 204 && res.statusCode !== 200) throw tusError('PATCH answered ' + res.statusCode, res)
    var off = parseInt(header(res.header, 'Upload-Offset'), 10)
    if (isNaN(off) || off <= start || off > size) throw tusError('PATCH answered Upload-Offset ' + header(res.header, 'Upload-Offset'), res)
    self.offset = off
    if (self.options.onChunkComplete) self.options.onChunkComplete(off - start, off, size)
    if (self.options.onProgress) self.options.onProgress(off, size)
  })
}

Upload.prototype._sleep = function (ms) {
  var self = this
  return new Promise(function (resolve, reject) {
    if (self._aborted) return reject(abortError())
    self._wake = function () { reject(abortError()) }
    self._timer = setTimeout(function () {
      self._timer = null
      self._wake = null
      resolve()
    }, ms)
  })
}

// _locate finds the upload to continue (uploadUrl option, then storage)
// and its offset, or creates one.
Upload.prototype._locate = function () {
  var self = this
  if (!this.url) {
    var stored = this._storage('get')
    if (stored && stored.uploadUrl && stored.size === this.file.size) this.url = stored.uploadUrl
  }
  if (!this.url) return this._create()
  return this._head().then(function (found) {
    if (found) return
    self._storage('remove')
    self.url = ''
    return self._create()
  })
}

// start runs the upload to its end; see the file comment for the result.
Upload.prototype.start = function () {
  var self = this
  if (this._started) return Promise.reject(new Error('tus: start() called twice; make a new Upload to resume'))
  this._started = true
  var delays = this.options.retryDelays || DEFAULT_RETRY_DELAYS
  var attempt = 0
  var located = false
  var needHead = false

  function step() {
    if (self._aborted) return Promise.reject(abortError())
    if (!located) {
      return self._locate().then(function () {
        located = true
        if (self.options.onProgress) self.options.onProgress(self.offset, self.file.size)
      })
    }
    if (needHead) {
      return self._head().then(function (found) {
        if (!found) throw tusError('upload ' + self.url + ' is gone')
        needHead = false
      })
    }
    return self._patch()
  }

  function loop() {
    if (located && !needHead && self.offset >= self.file.size) return Promise.resolve()
    var before = self.offset
    return step().then(function () {
      if (self.offset > before) attempt = 0 // progress resets the retries
      return loop()
    }, function (err) {
      if (!retryable(err) || attempt >= delays.length) throw err
      var delay = Math.max(delays[attempt], (err.retryAfter || 0) * 1000)
      attempt++
      if (located) needHead = true // resync the offset before sending again
      if (self.options.onRetry) self.options.onRetry(err, attempt, delay)
      return self._sleep(delay).then(loop)
    })
  }

  var done = loop().then(function () {
    self._storage('remove')
    var r = { uploadUrl: self.url, size: self.file.size, mediaId: self.mediaId, mediaType: self.mediaType }
    if (self.mediaType === 'video') r.videoId = self.mediaId
    if (self.mediaType === 'image') r.imageId = self.mediaId
    if (self.mediaType === 'attached') r.attachedMediaId = self.mediaId
    if (self.options.onSuccess) self.options.onSuccess(r)
    return r
  })
  if (this.options.onError) {
    // Callback style (as tus-js-client): the error goes to onError and the
    // promise does not reject unhandled.
    var onError = this.options.onError
    done.catch(function (err) { onError(err) })
    return done.catch(function () {})
  }
  return done
}

// abort stops the upload: the request in flight is cancelled and start()
// rejects with err.aborted. With terminate, the upload is also deleted on
// the server (tus termination) and forgotten in storage; the returned
// promise settles when that is done.
Upload.prototype.abort = function (terminate) {
  this._aborted = true
  if (this._task) this._task.abort()
  if (this._timer) {
    clearTimeout(this._timer)
    this._timer = null
  }
  if (this._wake) {
    var wake = this._wake
    this._wake = null
    wake()
  }
  if (!terminate || !this.url) return Promise.resolve()
  var self = this
  this._storage('remove')
  return new Promise(function (resolve, reject) {
    self.wx.request({
      url: self.url,
      method: 'DELETE',
      header: self._headers({}),
      dataType: 'text',
      success: function (res) {
        if (res.statusCode === 204 || res.statusCode === 404 || res.statusCode === 410) resolve()
        else reject(tusError('DELETE answered ' + res.statusCode, res))
      },
      fail: function (res) { reject(tusError('DELETE: ' + (res && res.errMsg), null, res && res.errMsg)) }
    })
  })
}

module.exports = {
  Upload: Upload,
  header: header,
  encodeMetadata: encodeMetadata,
  resolveURL: resolveURL,
  TUS_VERSION: TUS_VERSION
}
