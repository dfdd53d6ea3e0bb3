package testenv

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the master name of the groups started by [StartSentinel].
const SentinelMaster = "vodgate-test"

// SentinelGroup is a Redis Sentinel deployment on 127.0.0.1 started by
// [StartSentinel]: one master, two replicas and three redis-sentinel
// processes (quorum 2). The sentinels declare a master down after 1s and
// fail over at once, so a test that kills the master sees a new one within
// a few seconds. Everything is stopped when the test ends.
type SentinelGroup struct {
	t testing.TB
	// Servers are the redis-servers; Servers[0] was the master at start.
	Servers []*ServerProc
	// Sentinels are the redis-sentinel processes.
	Sentinels []*ServerProc
}

// StartSentinel starts a [SentinelGroup] and waits until every sentinel knows
// both replicas and the other sentinels. It skips (or fails with CI=true)
// when redis-server or redis-sentinel is missing.
func StartSentinel(t testing.TB) *SentinelGroup {
	t.Helper()
	srv := redisBin(t, RedisServerBinEnv, "redis-server", "redis-server")
	sen := redisBin(t, RedisSentinelBinEnv, "redis-sentinel", "redis-sentinel")
	dir := t.TempDir()
	g := &SentinelGroup{t: t}
	serverArgs := func(replicaOf string) func(int) []string {
		return func(port int) []string {
			a := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--protected-mode", "no",
				"--save", "", "--appendonly", "no", "--dir", dir, "--dbfilename", strconv.Itoa(port) + ".rdb",
				"--daemonize", "no", "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
				"--replica-announce-ip", "127.0.0.1"}
			if replicaOf != "" {
				host, p, _ := net.SplitHostPort(replicaOf)
				a = append(a, "--replicaof", host, p)
			}
			return a
		}
	}
	master := startProc(t, srv, dir, false, nil, serverArgs(""))
	g.Servers = append(g.Servers, master)
	for range 2 {
		g.Servers = append(g.Servers, startProc(t, srv, dir, false, nil, serverArgs(master.Addr)))
	}
	for range 3 {
		conf := func(port int) string {
			return fmt.Sprintf(`port %d
bind 127.0.0.1
protected-mode no
daemonize no
dir %s
sentinel announce-ip 127.0.0.1
sentinel monitor %s 127.0.0.1 %d 2
sentinel down-after-milliseconds %[3]s 1000
sentinel failover-timeout %[3]s 4000
sentinel parallel-syncs %[3]s 2
`, port, dir, SentinelMaster, master.Port)
		}
		g.Sentinels = append(g.Sentinels, startProc(t, sen, dir, false, conf, func(int) []string { return nil }))
	}
	g.waitReady(30 * time.Second)
	return g
}

// waitReady waits until every sentinel sees 2 replicas and 2 other sentinels.
func (g *SentinelGroup) waitReady(d time.Duration) {
	g.t.Helper()
	deadline := time.Now().Add(d)
	var last string
	for time.Now().Before(deadline) {
		ok := true
		for _, s := range g.Sentinels {
			m, err := sentinelMaster(s.Addr)
			if err != nil {
				ok, last = false, err.Error()
				break
			}
			if m["num-slaves"] != "2" || m["num-other-sentinels"] != "2" || !strings.Contains(m["flags"], "master") ||
				strings.Contains(m["flags"], "down") {
				ok, last = false, fmt.Sprintf("%s: %v", s.Addr, m)
				break
			}
		}
		if ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	g.t.Fatalf("testenv: sentinel group not ready within %s: %s", d, last)
}

// sentinelMaster returns SENTINEL MASTER's fields from the sentinel at addr.
func sentinelMaster(addr string) (map[string]string, error) {
	c := redis.NewSentinelClient(&redis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: time.Second})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.Master(ctx, SentinelMaster).Result()
}

// URL is the gateway's redis-url for the group:
// redis://S1/0?master_name=vodgate-test&addr=S2&addr=S3.
func (g *SentinelGroup) URL() string {
	u := "redis://" + g.Sentinels[0].Addr + "/0?master_name=" + SentinelMaster
	for _, s := range g.Sentinels[1:] {
		u += "&addr=" + s.Addr
	}
	return u
}

// Client returns a new failover client for the group, closed when the test
// ends.
func (g *SentinelGroup) Client(t testing.TB) redis.UniversalClient {
	t.Helper()
	return NewClient(t, g.URL())
}

// MasterAddr returns the master's address as the first answering sentinel
// reports it.
func (g *SentinelGroup) MasterAddr() (string, error) {
	var err error
	for _, s := range g.Sentinels {
		if !s.Running() {
			continue
		}
		var m map[string]string
		if m, err = sentinelMaster(s.Addr); err == nil {
			return net.JoinHostPort(m["ip"], m["port"]), nil
		}
	}
	return "", fmt.Errorf("testenv: no sentinel answers: %w", err)
}

// Master returns the redis-server that the sentinels report as master.
func (g *SentinelGroup) Master() *ServerProc {
	g.t.Helper()
	addr, err := g.MasterAddr()
	if err != nil {
		g.t.Fatal(err)
	}
	for _, s := range g.Servers {
		if s.Addr == addr {
			return s
		}
	}
	g.t.Fatalf("testenv: sentinels report master %s, not one of the group's servers", addr)
	return nil
}

// WaitFailover waits until the sentinels report a master other than old
// and that master answers as one, and returns it.
func (g *SentinelGroup) WaitFailover(old *ServerProc, d time.Duration) *ServerProc {
	g.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if addr, err := g.MasterAddr(); err == nil && addr != old.Addr {
			if out, err := rawCommand(addr, "ROLE"); err == nil && strings.Contains(out, "master") {
				return g.Master()
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	g.t.Fatalf("testenv: no failover away from %s within %s", old.Addr, d)
	return nil
}
