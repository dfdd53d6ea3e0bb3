package testenv

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster on 127.0.0.1 started by [StartCluster]: three
// masters with one replica each (redis-server --cluster-enabled yes, joined
// by redis-cli --cluster create). The node timeout is 1s, so a killed master
// is replaced by its replica within a few seconds; full coverage is not
// required, so the other masters keep serving meanwhile. Everything is
// stopped when the test ends.
type Cluster struct {
	t   testing.TB
	cli string
	// Nodes are the six redis-servers.
	Nodes []*ServerProc
}

// StartCluster starts a [Cluster] and waits until every node reports
// cluster_state:ok. It skips (or fails with CI=true) when redis-server or
// redis-cli is missing.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	srv := redisBin(t, RedisServerBinEnv, "redis-server", "redis-server")
	cli := redisBin(t, RedisCLIBinEnv, "redis-cli", "redis-tools")
	dir := t.TempDir()
	c := &Cluster{t: t, cli: cli}
	for range 6 {
		c.Nodes = append(c.Nodes, startProc(t, srv, dir, true, nil, func(port int) []string {
			p := strconv.Itoa(port)
			return []string{"--port", p, "--bind", "127.0.0.1", "--protected-mode", "no",
				"--save", "", "--appendonly", "no", "--dir", dir, "--dbfilename", p + ".rdb",
				"--daemonize", "no", "--cluster-enabled", "yes", "--cluster-config-file", "nodes-" + p + ".conf",
				"--cluster-node-timeout", "1000", "--cluster-replica-validity-factor", "0",
				"--cluster-require-full-coverage", "no", "--cluster-announce-ip", "127.0.0.1",
				"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"}
		}))
	}
	args := []string{"--cluster", "create"}
	for _, n := range c.Nodes {
		args = append(args, n.Addr)
	}
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("testenv: redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	c.WaitOK(30 * time.Second)
	return c
}

// CLI runs redis-cli with args (e.g. "--cluster", "reshard", …) and returns
// its combined output.
func (c *Cluster) CLI(args ...string) (string, error) {
	out, err := exec.Command(c.cli, args...).CombinedOutput()
	return string(out), err
}

// WaitOK waits until every running node reports cluster_state:ok and knows
// three masters that serve all 16384 slots.
func (c *Cluster) WaitOK(d time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	var last string
	for time.Now().Before(deadline) {
		ok := true
		for _, n := range c.Nodes {
			if !n.Running() {
				continue
			}
			info, err := rawCommand(n.Addr, "CLUSTER INFO")
			if err != nil || !strings.Contains(info, "cluster_state:ok") ||
				!strings.Contains(info, "cluster_slots_ok:16384") || !strings.Contains(info, "cluster_size:3") {
				ok, last = false, fmt.Sprintf("%s: %v %s", n.Addr, err, info)
				break
			}
		}
		if ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("testenv: cluster not ok within %s: %s", d, last)
}

// URL is the gateway's redis-url for the cluster:
// redis+cluster://N1?addr=N2&addr=N3… with every node.
func (c *Cluster) URL() string {
	u := "redis+cluster://" + c.Nodes[0].Addr
	for i, n := range c.Nodes[1:] {
		if i == 0 {
			u += "?addr=" + n.Addr
		} else {
			u += "&addr=" + n.Addr
		}
	}
	return u
}

// Client returns a new cluster client, closed when the test ends.
func (c *Cluster) Client(t testing.TB) redis.UniversalClient {
	t.Helper()
	return NewClient(t, c.URL())
}

// Node returns the node listening on addr, or nil.
func (c *Cluster) Node(addr string) *ServerProc {
	for _, n := range c.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}

// MasterOf returns the node that serves key's slot now, as a running node
// reports it (CLUSTER SHARDS is not in every server; CLUSTER SLOTS is).
func (c *Cluster) MasterOf(key string) *ServerProc {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		rdb := redis.NewClient(&redis.Options{Addr: n.Addr, DialTimeout: time.Second})
		slot, err := rdb.ClusterKeySlot(ctx, key).Result()
		var slots []redis.ClusterSlot
		if err == nil {
			slots, err = rdb.ClusterSlots(ctx).Result()
		}
		rdb.Close()
		if err != nil {
			continue
		}
		for _, s := range slots {
			if int64(s.Start) <= slot && slot <= int64(s.End) && len(s.Nodes) > 0 {
				if m := c.Node(s.Nodes[0].Addr); m != nil {
					return m
				}
			}
		}
	}
	c.t.Fatalf("testenv: no node serves the slot of %q", key)
	return nil
}

// WaitFailover waits until the slot of key is served by a running node
// other than old, that node answers as a master, and the cluster is ok.
func (c *Cluster) WaitFailover(old *ServerProc, key string, d time.Duration) *ServerProc {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if m := c.MasterOf(key); m != old && m.Running() {
			if out, err := rawCommand(m.Addr, "ROLE"); err == nil && strings.Contains(out, "master") {
				return m
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("testenv: slot of %q not failed over from %s within %s", key, old.Addr, d)
	return nil
}

// NodeID returns the cluster node ID of n (CLUSTER MYID).
func (c *Cluster) NodeID(n *ServerProc) string {
	c.t.Helper()
	out, err := rawCommand(n.Addr, "CLUSTER MYID")
	if err != nil {
		c.t.Fatalf("testenv: CLUSTER MYID on %s: %v", n.Addr, err)
	}
	// A bulk string: $40\r\n<id>\r\n
	lines := strings.Split(strings.TrimSpace(out), "\r\n")
	if len(lines) != 2 || len(lines[1]) != 40 {
		c.t.Fatalf("testenv: CLUSTER MYID on %s: unexpected reply %q", n.Addr, out)
	}
	return lines[1]
}

// Reshard moves slots slots from master from to master to with redis-cli
// --cluster reshard (the lowest-numbered slots of from first), migrating
// their keys while clients use them (MOVED and ASK redirections).
func (c *Cluster) Reshard(from, to *ServerProc, slots int) (string, error) {
	return c.CLI("--cluster", "reshard", to.Addr, "--cluster-from", c.NodeID(from), "--cluster-to", c.NodeID(to),
		"--cluster-slots", strconv.Itoa(slots), "--cluster-yes", "--cluster-pipeline", "100")
}

// Slots returns the slot ranges that master m serves now, as [start, end]
// pairs, from CLUSTER SLOTS on a running node.
func (c *Cluster) Slots(m *ServerProc) [][2]int {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		rdb := redis.NewClient(&redis.Options{Addr: n.Addr, DialTimeout: time.Second})
		slots, err := rdb.ClusterSlots(ctx).Result()
		rdb.Close()
		if err != nil {
			continue
		}
		var out [][2]int
		for _, s := range slots {
			if len(s.Nodes) > 0 && s.Nodes[0].Addr == m.Addr {
				out = append(out, [2]int{s.Start, s.End})
			}
		}
		return out
	}
	c.t.Fatalf("testenv: no running node answers CLUSTER SLOTS")
	return nil
}
