// Package redisstate keeps vodgate's upload records in Redis.
//
// A record is one Redis hash per upload, `<prefix>:{<uploadID>}:upload`,
// whose fields are opaque to this package (tusstore owns their meaning:
// "info" JSON, "cred" JSON, "p:NNNNN" and "o:NNNNN" fields per OSS part and "tail",
// the bytes below the minimum part size). The braces are a hash tag, so a
// record, its lock and its fencing counter (`<prefix>:{<uploadID>}:lock`
// and `:fence`, owned by package locker) live in one Redis Cluster slot and
// one Lua script can touch them together.
//
// Every write refreshes the record's TTL (Config.TTL). Writes may be
// fenced: Update and Delete take a fence key and token, and are applied
// only if the fence key still holds that token, so a writer that lost its
// lock (paused past its TTL) cannot commit stale state.
//
// Errors returned by [Store] report their class through methods, so callers
// need not import this package: NotFound() bool, Exists() bool,
// Fenced() bool and Temporary() bool (Redis unreachable, loading or failing
// over: retry later).
package redisstate
