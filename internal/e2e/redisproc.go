package e2e

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// redisProc is a private redis-server for tests that stop and restart Redis
// (the shared one from .ci/test must stay up). It runs with AOF persistence in
// a temp dir, on a fixed loopback port across restarts.
type redisProc struct {
	t    testing.TB
	bin  string
	addr string
	dir  string
	log  *tailLog

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// newRedisProc starts a redis-server from $REDIS_SERVER_BIN (or redis-server
// on $PATH); it skips, or fails with CI=true, when there is none.
func newRedisProc(t testing.TB) *redisProc {
	t.Helper()
	bin := os.Getenv("REDIS_SERVER_BIN")
	if bin == "" {
		bin, _ = exec.LookPath("redis-server")
	}
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("REDIS_SERVER_BIN unset and no redis-server on $PATH (CI=true: failing instead of skipping)")
		}
		t.Skip("REDIS_SERVER_BIN unset and no redis-server on $PATH")
	}
	r := &redisProc{t: t, bin: bin, addr: freeAddr(t), dir: t.TempDir(), log: newTailLog(64 << 10)}
	t.Cleanup(func() {
		r.Stop()
		if t.Failed() {
			t.Logf("---- redis-server %s log ----\n%s", r.addr, r.log.String())
		}
	})
	r.Start()
	return r
}

// URL is redis://ADDR/0.
func (r *redisProc) URL() string { return "redis://" + r.addr + "/0" }

// Start starts redis-server (again) and waits until it answers PING.
func (r *redisProc) Start() {
	r.t.Helper()
	_, port, _ := net.SplitHostPort(r.addr)
	r.mu.Lock()
	if r.cmd != nil {
		r.mu.Unlock()
		r.t.Fatalf("redis-server: Start while running")
	}
	cmd := exec.Command(r.bin, "--port", port, "--bind", "127.0.0.1", "--protected-mode", "no",
		"--appendonly", "yes", "--appendfsync", "always", "--dir", r.dir, "--save", "", "--daemonize", "no")
	cmd.Stdout, cmd.Stderr = r.log, r.log
	if err := cmd.Start(); err != nil {
		r.mu.Unlock()
		r.t.Fatalf("start redis-server: %v", err)
	}
	done := make(chan struct{})
	r.cmd, r.done = cmd, done
	r.mu.Unlock()
	go func() { _ = cmd.Wait(); close(done) }()

	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if redisPing(r.addr) {
			return
		}
		select {
		case <-done:
			r.t.Fatalf("redis-server exited at start:\n%s", r.log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	r.t.Fatalf("redis-server on %s not answering PING:\n%s", r.addr, r.log.String())
}

// Stop shuts redis-server down (SIGTERM; it writes its AOF) and waits.
func (r *redisProc) Stop() { r.signalAndWait(syscall.SIGTERM) }

// Kill SIGKILLs redis-server and waits.
func (r *redisProc) Kill() { r.signalAndWait(syscall.SIGKILL) }

func (r *redisProc) signalAndWait(sig syscall.Signal) {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.cmd, r.done = nil, nil
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// redisPing reports whether a Redis server at addr answers PING.
func redisPing(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	b := make([]byte, 16)
	n, _ := c.Read(b)
	return strings.HasPrefix(string(b[:n]), "+PONG")
}
