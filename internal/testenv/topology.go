package testenv

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Topology names a Redis deployment that tests run against.
type Topology string

// The topologies the gateway supports (see cmd/gateway/redis.go).
const (
	TopoSingle   Topology = "single"   // one redis-server: $VODGATE_TEST_REDIS_URL
	TopoSentinel Topology = "sentinel" // a SentinelGroup: $VODGATE_TEST_SENTINEL_URL
	TopoCluster  Topology = "cluster"  // a Cluster of 3 masters: $VODGATE_TEST_CLUSTER_URL
)

// Environment variables naming shared topologies, set by bash .ci/test.
const (
	SentinelURLEnv = "VODGATE_TEST_SENTINEL_URL"
	ClusterURLEnv  = "VODGATE_TEST_CLUSTER_URL"
)

// TopologyEnv selects the topology of [DefaultTopology]: single (the
// default), sentinel or cluster. bash .ci/test runs the e2e suite once per
// topology with it.
const TopologyEnv = "VODGATE_TEST_TOPOLOGY"

// DefaultTopology returns the topology named by $VODGATE_TEST_TOPOLOGY, or
// TopoSingle when it is unset. It fails the test on an unknown name.
func DefaultTopology(t testing.TB) Topology {
	t.Helper()
	v := os.Getenv(TopologyEnv)
	if v == "" {
		return TopoSingle
	}
	for _, topo := range Topologies() {
		if string(topo) == v {
			return topo
		}
	}
	t.Fatalf("testenv: %s=%q: want one of %v", TopologyEnv, v, Topologies())
	return ""
}

// Topologies returns every topology, TopoSingle first.
func Topologies() []Topology { return []Topology{TopoSingle, TopoSentinel, TopoCluster} }

// ForTopologies runs fn as a subtest per topology (named after it), with a
// client for that topology and the gateway's redis-url for it.
func ForTopologies(t *testing.T, fn func(t *testing.T, rdb redis.UniversalClient, url string)) {
	t.Helper()
	for _, topo := range Topologies() {
		t.Run(string(topo), func(t *testing.T) {
			rdb, u := TopologyRedis(t, topo)
			fn(t, rdb, u)
		})
	}
}

// TopologyOf returns the topology of a redis-url in the gateway's forms
// (see [NewClient]).
func TopologyOf(raw string) Topology {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return TopoSingle
	case strings.HasSuffix(u.Scheme, "+cluster"):
		return TopoCluster
	case u.Query().Has("master_name"):
		return TopoSentinel
	}
	return TopoSingle
}

// TopologyURL returns the gateway's redis-url for topo. TopoSingle is
// [RedisURL]. Sentinel and Cluster are the shared deployments named by
// $VODGATE_TEST_SENTINEL_URL and $VODGATE_TEST_CLUSTER_URL (bash .ci/test
// starts them); when unset, the test starts a private one with
// [StartSentinel] or [StartCluster], which skip (or fail with CI=true) when
// the Redis binaries are missing. Shared deployments are never flushed:
// isolate keys with [KeyPrefix].
func TopologyURL(t testing.TB, topo Topology) string {
	t.Helper()
	switch topo {
	case TopoSingle:
		return RedisURL(t)
	case TopoSentinel:
		if u := os.Getenv(SentinelURLEnv); u != "" {
			return u
		}
		return StartSentinel(t).URL()
	case TopoCluster:
		if u := os.Getenv(ClusterURLEnv); u != "" {
			return u
		}
		return StartCluster(t).URL()
	}
	t.Fatalf("testenv: unknown topology %q", topo)
	return ""
}

// TopologyRedis returns a new client for topo (see [TopologyURL]) after
// checking that it answers, and the gateway's redis-url for it. The client
// is closed when the test ends.
func TopologyRedis(t testing.TB, topo Topology) (redis.UniversalClient, string) {
	t.Helper()
	u := TopologyURL(t, topo)
	rdb := NewClient(t, u)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("testenv: ping %s: %v", u, err)
	}
	if c, ok := rdb.(*redis.ClusterClient); ok { // every master, so that the slot map is complete
		if err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			return m.Ping(ctx).Err()
		}); err != nil {
			t.Fatalf("testenv: ping the masters of %s: %v", u, err)
		}
	}
	return rdb, u
}

// NewClient returns a client for a redis-url in any of the gateway's forms
// (a copy of cmd/gateway's newRedis, which package main cannot export):
//
//	redis://host:port[/db]                          one server
//	redis://host:port?master_name=M&addr=host2:port  Sentinel (the hosts are sentinels)
//	redis+cluster://host:port?addr=host2:port        Cluster
//
// The client is closed when the test ends.
func NewClient(t testing.TB, raw string) redis.UniversalClient {
	t.Helper()
	rdb, err := ParseClient(raw)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// ParseClient is [NewClient] without the test: the caller closes the client.
func ParseClient(raw string) (redis.UniversalClient, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	switch {
	case strings.HasSuffix(u.Scheme, "+cluster"):
		u.Scheme = strings.TrimSuffix(u.Scheme, "+cluster")
		o, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("redis url: %w", err)
		}
		return redis.NewClusterClient(o), nil
	case u.Query().Has("master_name"):
		o, err := redis.ParseFailoverURL(raw)
		if err != nil {
			return nil, fmt.Errorf("redis url: %w", err)
		}
		return redis.NewFailoverClient(o), nil
	}
	o, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	return redis.NewClient(o), nil
}
