package redisstate

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/vodgate/vodgate/internal/testenv"
)

func newStore(t *testing.T) (*Store, *miniredis.Miniredis, redis.UniversalClient) {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	return New(rdb, Config{Prefix: "t", TTL: time.Hour}), mr, rdb
}

type classed interface {
	NotFound() bool
	Exists() bool
	Fenced() bool
	Temporary() bool
}

func class(err error) string {
	var c classed
	if !errors.As(err, &c) {
		return "none"
	}
	switch {
	case c.NotFound():
		return "notfound"
	case c.Exists():
		return "exists"
	case c.Fenced():
		return "fenced"
	case c.Temporary():
		return "temporary"
	}
	return "other"
}

// TestStoreLifecycle runs on miniredis and on every real topology (one
// server, Sentinel, Cluster): the record and fence keys share a slot.
func TestStoreLifecycle(t *testing.T) {
	t.Run("miniredis", func(t *testing.T) {
		s, _, rdb := newStore(t)
		testLifecycle(t, s, rdb, "t")
	})
	testenv.ForTopologies(t, func(t *testing.T, rdb redis.UniversalClient, _ string) {
		prefix := testenv.KeyPrefix(t, rdb)
		testLifecycle(t, New(rdb, Config{Prefix: prefix, TTL: time.Hour}), rdb, prefix)
	})
}

func testLifecycle(t *testing.T, s *Store, rdb redis.UniversalClient, p string) {
	ctx := context.Background()
	if err := s.Create(ctx, "u1", map[string][]byte{"info": []byte("i"), "tail": []byte("ab")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, "u1", map[string][]byte{"info": []byte("x")}); class(err) != "exists" {
		t.Fatalf("second create: %v", err)
	}
	if ttl := rdb.PTTL(ctx, p+":{u1}:upload").Val(); ttl < time.Hour-time.Minute || ttl > time.Hour {
		t.Fatalf("ttl %v", ttl)
	}
	rdb.Set(ctx, p+":{u1}:fence", "7", 0)
	for _, tc := range []struct {
		name     string
		fenceKey string
		token    int64
		want     string
	}{
		{"unfenced write", "", 0, "none"},
		{"current token", p + ":{u1}:fence", 7, "none"},
		{"stale token", p + ":{u1}:fence", 6, "fenced"},
		{"missing fence key", p + ":{u1}:nofence", 7, "fenced"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Update(ctx, "u1", tc.fenceKey, tc.token, map[string][]byte{"p:1": []byte(tc.name)}, []string{"tail"})
			if got := class(err); got != tc.want {
				t.Fatalf("class %s (%v), want %s", got, err, tc.want)
			}
		})
	}
	m, err := s.Load(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if string(m["p:1"]) != "current token" || m["tail"] != nil || string(m["info"]) != "i" {
		t.Fatalf("record %q", m)
	}
	if err := s.Delete(ctx, "u1", p+":{u1}:fence", 6); class(err) != "fenced" {
		t.Fatalf("stale delete: %v", err)
	}
	if err := s.Delete(ctx, "u1", p+":{u1}:fence", 7); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "u1"); class(err) != "notfound" {
		t.Fatalf("load after delete: %v", err)
	}
	if err := s.Update(ctx, "u1", "", 0, map[string][]byte{"a": nil}, nil); class(err) != "notfound" {
		t.Fatalf("update of missing record: %v", err)
	}
}

func TestStoreRedisDown(t *testing.T) {
	s, mr, _ := newStore(t)
	mr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := s.Load(ctx, "u"); class(err) != "temporary" {
		t.Fatalf("load with redis down: %v", err)
	}
	if err := s.Ping(ctx); class(err) != "temporary" {
		t.Fatalf("ping with redis down: %v", err)
	}
}

// WaitReplicas fails a write that no replica acknowledged, as temporary,
// and passes on Sentinel and Cluster, whose masters have replicas (on a
// Cluster, WAIT goes to the master of the record's slot). It needs a real
// Redis (miniredis has no WAIT).
func TestWaitReplicas(t *testing.T) {
	testenv.ForTopologies(t, func(t *testing.T, rdb redis.UniversalClient, url string) {
		prefix := testenv.KeyPrefix(t, rdb)
		ctx := context.Background()
		ok := New(rdb, Config{Prefix: prefix, WaitReplicas: 0})
		for _, id := range []string{"w1", "w2", "w3", "w4"} { // several slots on a Cluster
			if err := ok.Create(ctx, id, map[string][]byte{"a": []byte("1")}); err != nil {
				t.Fatal(err)
			}
		}
		single := testenv.TopologyOf(url) == testenv.TopoSingle
		strict := New(rdb, Config{Prefix: prefix, WaitReplicas: 1, WaitTimeout: 100 * time.Millisecond})
		for _, id := range []string{"w1", "w2", "w3", "w4"} {
			err := strict.Update(ctx, id, "", 0, map[string][]byte{"a": []byte("2")}, nil)
			switch {
			case single && class(err) != "temporary":
				t.Fatalf("write with no replica: %v", err)
			case !single && err != nil:
				t.Fatalf("write with replicas: %v", err)
			}
		}
	})
}

// replyErr is a Redis error reply, as go-redis returns them.
type replyErr string

func (e replyErr) Error() string { return string(e) }
func (replyErr) RedisError()     {}

// TestTemporaryReplies: the replies of a Redis that is failing over or
// moving slots are temporary (503, retried), data errors are not.
func TestTemporaryReplies(t *testing.T) {
	for reply, want := range map[string]bool{
		"MOVED 8576 127.0.0.1:7156":                                         true,
		"ASK 8576 127.0.0.1:7156":                                           true,
		"TRYAGAIN Multiple keys request during rehashing of slot":           true,
		"CLUSTERDOWN The cluster is down":                                   true,
		"READONLY You can't write against a read only replica.":             true,
		"NOREPLICAS Not enough good replicas to write.":                     true,
		"WRONGTYPE Operation against a key holding the wrong kind of value": false,
		"ERR Error running script":                                          false,
	} {
		if got := isTemporary(replyErr(reply)); got != want {
			t.Errorf("isTemporary(%q) = %v, want %v", reply, got, want)
		}
	}
}
