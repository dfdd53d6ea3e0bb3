// Package compare holds the side-by-side benchmark of the gateway against
// tusd v2.9.1 (S3 store and file store) and the client ceiling: run.sh,
// the Node driver drive.mjs, the wrk script create.lua and the Go
// orchestrator in benchtool/. See bench/README.md. The package itself only
// has TestSmoke, which runs run.sh -smoke so the harness cannot rot.
package compare
