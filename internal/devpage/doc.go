// Package devpage serves the gateway's browser page for development: at "/",
// Uppy's Dashboard with the Tus plugin uploads to the gateway's tus endpoint
// (pause, resume, progress, several files) and shows each file's VOD media
// ID, the simulated VOD's status of that media and links to the
// simulators' inspection APIs.
//
// The page's JavaScript and CSS (web/) are bundled by build.mjs with esbuild
// from the packages of the committed package-lock.json into dist/, which is
// committed and embedded: the gateway needs no npm step at run time.
// TestBundleFresh rebuilds the bundle and fails when dist/ is stale. After
// changing web/ or upgrading the packages:
//
//	npm ci && node internal/devpage/build.mjs
//
// cmd/gateway serves the page only with -dev or demo-page: true.
package devpage
