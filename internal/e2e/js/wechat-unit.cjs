// wechat-unit.cjs: evaluates the helpers of examples/wechat-miniprogram's
// utils/tus.js (in the mini-program context of wx-shim.cjs) on cases given
// by the Go test (wechat_test.go), which checks the answers against its own.
//
// Usage: node wechat-unit.cjs '{"appDir":..., "header":[{"headers":{},"name":""}],
//   "metadata":[{...}], "resolve":[["base","loc"]]}'
// Output: one JSON line {"header":[...], "metadata":[...], "resolve":[...]};
// a metadata case that throws answers "error: <message>".
'use strict'

const path = require('node:path')
const { createWx, miniProgram } = require('./wx-shim.cjs')

const opts = JSON.parse(process.argv[2] || '{}')
const tus = miniProgram(opts.appDir, createWx({})).load(path.join(opts.appDir, 'utils/tus.js'))
const out = {
  header: (opts.header || []).map((c) => tus.header(c.headers, c.name)),
  metadata: (opts.metadata || []).map((m) => {
    try { return tus.encodeMetadata(m) } catch (e) { return 'error: ' + e.message }
  }),
  resolve: (opts.resolve || []).map((c) => tus.resolveURL(c[0], c[1]))
}
process.stdout.write(JSON.stringify(out) + '\n')
