// app.js: where the page finds the gateway. Set endpoint to your gateway's
// tus endpoint (its host must be a request legal domain of the
// mini-program, see README.md), and getToken to a call to your own backend
// that returns an upload token for the signed-in user.
App({
  globalData: {
    endpoint: 'https://upload.example.com/files/',
    chunkSize: 4 * 1024 * 1024,
    // getToken(cb): cb(token) with a bearer token for the gateway, or
    // cb('') when the gateway runs without authentication.
    getToken: function (cb) {
      cb('')
    }
  }
})
