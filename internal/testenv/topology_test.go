package testenv_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vodgate/vodgate/internal/testenv"
)

// TestTopologies writes through each topology's client and reads back
// through a second client parsed from the gateway URL, and checks that
// KeyPrefix cleans up keys spread over several Cluster slots.
func TestTopologies(t *testing.T) {
	testenv.ForTopologies(t, func(t *testing.T, rdb redis.UniversalClient, url string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var prefix string
		keys := []string{":a", ":b", ":{x}:c", ":{y}:d", ":{z}:e"}
		t.Run("sub", func(t *testing.T) {
			prefix = testenv.KeyPrefix(t, rdb)
			for _, k := range keys {
				if err := rdb.Set(ctx, prefix+k, "v", 0).Err(); err != nil {
					t.Fatal(err)
				}
			}
			other := testenv.NewClient(t, url)
			for _, k := range keys {
				if v, err := other.Get(ctx, prefix+k).Result(); err != nil || v != "v" {
					t.Fatalf("GET %s via %s = %q, %v", prefix+k, url, v, err)
				}
			}
		})
		for _, k := range keys {
			if n, err := rdb.Exists(ctx, prefix+k).Result(); err != nil || n != 0 {
				t.Errorf("key %s survived the test's cleanup (%d, %v)", prefix+k, n, err)
			}
		}
	})
}

// TestSentinelFailover kills the master of a private group and checks that
// a replica takes over and the client follows it.
func TestSentinelFailover(t *testing.T) {
	g := testenv.StartSentinel(t)
	rdb := g.Client(t)
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := rdb.(*redis.Client).Wait(ctx, 2, time.Second).Result(); err != nil || n != 2 {
		t.Fatalf("WAIT 2 = %d, %v", n, err)
	}
	old := g.Master()
	old.Kill()
	start := time.Now()
	m := g.WaitFailover(old, 30*time.Second)
	t.Logf("failover %s -> %s in %s", old.Addr, m.Addr, time.Since(start))
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := rdb.Get(ctx, "k").Result()
		if err == nil && v == "v" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET after failover = %q, %v", v, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestClusterFailover kills the master of one key's slot in a private
// cluster and checks that its replica takes over and the client follows.
func TestClusterFailover(t *testing.T) {
	c := testenv.StartCluster(t)
	rdb := c.Client(t)
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	m, err := rdb.(*redis.ClusterClient).MasterForKey(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := m.Wait(ctx, 1, time.Second).Result(); err != nil || n != 1 { // else the write may be lost
		t.Fatalf("WAIT 1 = %d, %v", n, err)
	}
	old := c.MasterOf("k")
	old.Kill()
	start := time.Now()
	nm := c.WaitFailover(old, "k", 30*time.Second)
	t.Logf("failover %s -> %s in %s", old.Addr, nm.Addr, time.Since(start))
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := rdb.Get(ctx, "k").Result()
		if err == nil && v == "v" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET after failover = %q, %v", v, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
