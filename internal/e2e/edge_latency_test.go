package e2e

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// TestHTTP2WindowOverLatency uploads one PATCH over HTTP/1.1 and one over
// HTTP/2 through a TCP proxy adding 50 ms each way (toxiproxy, in process).
// With Go's default 1 MiB HTTP/2 receive window the HTTP/2 upload ran at
// about a sixth of HTTP/1.1's rate (9 vs 58 MiB/s); the gateway's windows
// must keep it within half of HTTP/1.1's.
func TestHTTP2WindowOverLatency(t *testing.T) {
	s := newEdgeStack(t, nil)
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "gateway", "127.0.0.1:0", s.GW.addr)
	if err := p.Start(); err != nil {
		t.Fatalf("toxiproxy: %v", err)
	}
	t.Cleanup(p.Stop)
	for _, dir := range []string{"upstream", "downstream"} {
		spec := fmt.Sprintf(`{"name":"latency_%s","type":"latency","stream":%q,"attributes":{"latency":50}}`, dir, dir)
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(spec)); err != nil {
			t.Fatalf("toxiproxy: add latency toxic: %v", err)
		}
	}
	_, port, _ := net.SplitHostPort(p.Listen)
	endpoint := "https://127.0.0.1:" + port + "/files/"
	roots := certPool(t, s.Cert.CertFile)
	src := makeSource(t, 32*MiB, 800)
	rate := map[string]float64{}
	for _, proto := range []string{"h1", "h2"} {
		c := protoClient(t, proto, roots)
		uploadURL, mediaID := protoCreate(t, c, proto, endpoint, src.Size, "rtt-"+proto+".mp4")
		start := time.Now()
		resp := protoPatch(t, c, uploadURL, src, 0)
		rate[proto] = float64(src.Size) / MiB / time.Since(start).Seconds()
		checkFinished(t, proto, resp, src.Size, mediaID)
		s.checkUploaded(t, mediaID, src)
	}
	t.Logf("one PATCH of 32 MiB over 100 ms RTT: HTTP/1.1 %.1f MiB/s, HTTP/2 %.1f MiB/s", rate["h1"], rate["h2"])
	if rate["h2"] < rate["h1"]/2 {
		t.Errorf("HTTP/2 %.1f MiB/s is less than half of HTTP/1.1's %.1f MiB/s: flow-control windows too small", rate["h2"], rate["h1"])
	}
}
