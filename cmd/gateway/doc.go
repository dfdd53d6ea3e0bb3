// Command gateway is the vodgate tus upload gateway: it serves the tus
// protocol (tusd v2) under /files/ and stores uploads as ApsaraVideo VOD
// media through OSS multipart uploads, with upload state and locks in Redis.
//
// Usage:
//
//	gateway [-config FILE] [flags]
//	gateway -dev          # simulators + embedded Redis, no cloud account
//	gateway version
//
// Every configuration key is a YAML key, a flag and a VODGATE_<KEY>
// environment variable (see configs/gateway.example.yaml); precedence is
// flag > environment > file > default. Aliyun credentials come from
// ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET and
// ALIBABA_CLOUD_SECURITY_TOKEN.
//
// The command only wires packages together: config.go, load.go and
// validate.go resolve the configuration, wire.go builds Redis, the VOD
// client, the store, the locker and the HTTP server, and main.go runs them
// until SIGTERM or SIGINT (a second signal exits at once). With TLS
// (tls-cert-file), SIGHUP re-reads the certificate files.
package main
