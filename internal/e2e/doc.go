// Package e2e holds black-box tests of the built gateway binary driven by real
// tus clients: tus-js-client in Node, Uppy in headless Chromium, and the
// WeChat mini-program client of examples/wechat-miniprogram in Node on a wx
// shim.
//
// Each test starts its own in-process simulators (internal/osstest and
// internal/vodtest), spawns the gateway binary on a free loopback port against
// the shared redis-server (with a key prefix of its own), drives a client, and
// checks the result in the simulators: the object's SHA-256 equals the
// source's, the Vod-Media-Id header names the media, and the media is
// UploadSucc.
//
// What the tests need, and how they find it (see internal/testenv):
//
//	VODGATE_GATEWAY_BIN     the gateway binary (go build -o ... ./cmd/gateway)
//	VODGATE_TEST_REDIS_URL  a redis-server, e.g. redis://127.0.0.1:6379/0
//	node + node_modules     npm ci at the repository root
//	chromium                /usr/bin/chromium or $CHROMIUM_BIN (Uppy test only)
//
// Without them the tests skip, except with CI=true, where they fail.
// bash .ci/test provides all of them. To run these tests alone:
//
//	go build -o /tmp/gateway ./cmd/gateway
//	VODGATE_GATEWAY_BIN=/tmp/gateway VODGATE_TEST_REDIS_URL=redis://127.0.0.1:6379/0 \
//	    go test -count=1 -v ./internal/e2e/
//
// Set VODGATE_E2E_LOG=1 to stream the gateway's logs into the test output
// even when tests pass (on failure the tail is always logged).
//
// The Node scripts live in js/: tus-upload.mjs (one tus-js-client upload,
// with pauses between chunks controlled over stdin), uppy-page.mjs (the
// browser page, bundled with esbuild) and uppy-drive.mjs (playwright-core),
// wx-shim.cjs (WeChat's wx.request, which refuses PATCH, file-system manager
// and storage) and wechat-upload.cjs (runs the mini-program's code on it).
package e2e
