package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"

	"github.com/vodgate/vodgate/internal/testenv"
)

// redisLatency is the latency added to each direction between the gateways
// and Redis by TestRedisLatency (so every round trip takes 2x longer).
const redisLatency = 50 * time.Millisecond

// latencyProxy starts an in-process toxiproxy in front of the Redis at
// redisURL that delays each direction by d, and returns the Redis URL that
// goes through it. It stops when the test ends.
func latencyProxy(t *testing.T, redisURL string, d time.Duration) string {
	t.Helper()
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(srv, "redis", "127.0.0.1:0", u.Host)
	if err := p.Start(); err != nil {
		t.Fatalf("toxiproxy: %v", err)
	}
	t.Cleanup(p.Stop)
	for _, dir := range []string{"upstream", "downstream"} {
		spec := fmt.Sprintf(`{"name":"latency_%s","type":"latency","stream":%q,"attributes":{"latency":%d}}`,
			dir, dir, d.Milliseconds())
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(spec)); err != nil {
			t.Fatalf("toxiproxy: add latency toxic: %v", err)
		}
	}
	u.Host = p.Listen
	return u.String()
}

// TestRedisLatency puts 50 ms of latency on each direction between two
// gateway processes and their Redis (toxiproxy, in process), with the
// default lock TTL: a tus-js-client upload alternating between the
// instances completes, and two clients racing PATCHes for 10 rounds keep
// every invariant of TestConcurrentPatchesTwoInstances.
func TestRedisLatency(t *testing.T) {
	proxied := latencyProxy(t, testenv.RedisURL(t), redisLatency)
	rdb := redisClient(t, proxied)
	if err := rdb.Ping(context.Background()).Err(); err != nil { // connects
		t.Fatalf("PING through toxiproxy: %v", err)
	}
	began := time.Now()
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("PING through toxiproxy: %v", err)
	}
	if rtt := time.Since(began); rtt < 2*redisLatency-10*time.Millisecond {
		t.Fatalf("PING through toxiproxy took %v; the latency toxics are not in effect", rtt)
	} else {
		t.Logf("Redis round trip through toxiproxy: %v", rtt.Round(time.Millisecond))
	}
	s, a, b := newInstances(t, "256KiB", stackOptions{Env: map[string]string{
		"VODGATE_REDIS_URL": proxied,
		"VODGATE_LOCK_TTL":  "5s", // the default
	}})
	defer logPartCalls(t, s)

	t.Run("tus-js-client alternating", func(t *testing.T) {
		lb := newRoundRobin(t, a, b)
		src := makeSource(t, 6*MiB+4242, 509)
		began := time.Now()
		res := runTus(t, tusOptions{
			Endpoint:  lb.Endpoint(),
			File:      src.Path,
			ChunkSize: 1 * MiB,
			Metadata:  map[string]string{"filename": "latency.mp4"},
		})
		t.Logf("uploaded %d bytes in %v: %s", src.Size, time.Since(began).Round(time.Millisecond), describeRequests(res.Requests))
		checkOffsetsMonotonic(t, res)
		for _, g := range []*gatewayProc{a, b} {
			if n := lb.Count(g, http.MethodPatch); n < 2 {
				t.Errorf("%s served %d PATCHes; want the chunks spread over both instances", g.name, n)
			}
		}
		s.checkUploaded(t, res.FinalMediaID, src)
	})
	t.Run("racing PATCHes", func(t *testing.T) {
		racePatches(t, s, a, b, makeSource(t, 8*MiB+99, 510), 10)
	})
}
