// Package devstack runs what the gateway needs, in-process, for
// `gateway -dev`: the OSS simulator (internal/osstest), the VOD simulator
// (internal/vodtest) that mints upload targets on it, and an embedded
// Redis-protocol server (miniredis), so the production go-redis code paths
// (records, Lua scripts, locks, pub/sub) are the ones exercised.
//
// [Start] listens on fixed loopback addresses (default 127.0.0.1:9080 OSS,
// :9081 VOD, :9082 Redis) so the inspection endpoints stay at the same URLs
// across runs: GET http://127.0.0.1:9080/_sim/objects lists the uploaded
// objects and GET http://127.0.0.1:9081/_sim/media the VOD media. Object
// and part bytes live in files under a fresh osstest-* subdirectory of the
// data directory (default ./.devdata) rather than in memory; the simulators
// and Redis keep their state for the life of the process only, and the
// subdirectory is removed on [Stack.Close] (one left by a killed process
// can be deleted by hand).
//
// The VOD simulator accepts the fixed development key [DevAccessKeyID] /
// [DevAccessKeySecret]; [Stack.Overrides] returns them with the endpoints
// for the gateway's configuration. Only this package (and tests) may
// import the simulators; internal/archtest enforces that.
package devstack
