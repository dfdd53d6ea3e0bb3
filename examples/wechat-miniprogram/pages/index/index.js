// pages/index/index.js: choose a video or photo, upload it to vodgate,
// show the progress and the VOD media ID.
var tus = require('../../utils/tus.js')

function sizeText(n) {
  return n >= 1048576 ? (n / 1048576).toFixed(1) + ' MiB' : Math.ceil(n / 1024) + ' KiB'
}

Page({
  data: { busy: false, name: '', sizeText: '', percent: 0, status: '', mediaId: '', mediaType: '' },

  upload: null,

  chooseAndUpload: function () {
    var self = this
    return new Promise(function (resolve, reject) {
      wx.chooseMedia({
        count: 1,
        mediaType: ['video', 'image'],
        sourceType: ['album', 'camera'],
        success: function (res) { resolve(res.tempFiles[0]) },
        fail: reject
      })
    }).then(function (f) {
      return self.startUpload(f.tempFilePath, f.size, f.fileType === 'image' ? 'photo.jpg' : 'video.mp4')
    }, function (err) {
      self.setData({ status: 'No file chosen (' + (err && err.errMsg) + ')' })
    })
  },

  startUpload: function (path, size, name) {
    var self = this
    var app = getApp()
    self.setData({ busy: true, name: name, sizeText: sizeText(size), percent: 0, status: 'Preparing…', mediaId: '', mediaType: '' })
    // A digest of the file keys the stored upload URL: choosing the same
    // file again (even after the app restarted) resumes its upload.
    var digest = new Promise(function (resolve) {
      wx.getFileSystemManager().getFileInfo({
        filePath: path,
        digestAlgorithm: 'sha1',
        success: function (res) { resolve(res.digest) },
        fail: function () { resolve('') }
      })
    })
    var token = new Promise(function (resolve) { app.globalData.getToken(resolve) })
    return Promise.all([digest, token]).then(function (v) {
      var headers = v[1] ? { Authorization: 'Bearer ' + v[1] } : {}
      self.upload = new tus.Upload({ path: path, size: size, name: name }, {
        endpoint: app.globalData.endpoint,
        chunkSize: app.globalData.chunkSize,
        headers: headers,
        metadata: { filename: name, title: name },
        storeKey: v[0] ? v[0] + ':' + size : '',
        onProgress: function (sent, total) {
          self.setData({ percent: total ? Math.floor(sent * 100 / total) : 100, status: 'Uploading ' + sizeText(sent) + ' of ' + sizeText(total) })
        },
        onRetry: function (err, attempt, delay) {
          self.setData({ status: 'Network trouble, retry ' + attempt + ' in ' + Math.round(delay / 1000) + ' s' })
        }
      })
      return self.upload.start()
    }).then(function (res) {
      self.upload = null
      self.setData({ busy: false, percent: 100, status: 'Done', mediaId: res.mediaId, mediaType: res.mediaType })
      return res
    }, function (err) {
      self.upload = null
      self.setData({ busy: false, status: err.aborted ? 'Paused' : 'Failed: ' + err.message })
      if (!err.aborted) throw err
    })
  },

  // cancel pauses: choosing the same file again resumes where it stopped.
  cancel: function () {
    if (this.upload) this.upload.abort()
  },

  // discard stops and deletes the upload on the gateway.
  discard: function () {
    if (this.upload) this.upload.abort(true)
  },

  onUnload: function () {
    this.cancel()
  }
})
