// Command edge compares the protocols the gateway speaks at its edge:
// HTTP/1.1, HTTP/2 and HTTP/3, all over TLS, side by side on the same
// build. For each protocol and case it starts a fresh `gateway -dev` with a
// self-signed certificate and http3 on, uploads with Go's own clients
// (net/http for HTTP/1.1 and HTTP/2, quic-go's http3 for HTTP/3), checks
// every object's SHA-256 in the OSS simulator, and prints a markdown table
// of MiB/s and CPU seconds per GiB of the gateway process and of the
// client.
//
//	go run ./bench/edge                     # 1 GiB in one PATCH; 500 x 1 MiB, 50 at a time
//	go run ./bench/edge -smoke              # 16 MiB and 20 x 1 MiB, seconds
//	go run ./bench/edge -size-mib 256 -protos h2,h3
//
// The gateway runs with -dev, so its CPU includes the OSS and VOD
// simulators and the embedded Redis in the same process (the simulated OSS
// hashes and writes every byte to -dev-data-dir): compare the rows with one
// another, not with bench/compare. Everything is on loopback, so no
// congestion, loss or latency: the figures are what each protocol costs in
// CPU, not what it gains on a mobile network.
package main
