package testenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Environment variables read by the Redis process helpers.
const (
	// RedisServerBinEnv names the redis-server binary. Default: redis-server on $PATH.
	RedisServerBinEnv = "REDIS_SERVER_BIN"
	// RedisSentinelBinEnv names the redis-sentinel binary. Default:
	// redis-sentinel on $PATH (Debian's redis-sentinel package).
	RedisSentinelBinEnv = "REDIS_SENTINEL_BIN"
	// RedisCLIBinEnv names the redis-cli binary. Default: redis-cli on $PATH.
	RedisCLIBinEnv = "REDIS_CLI_BIN"
	// PortRangeEnv, as "LOW-HIGH", limits the loopback ports the helpers
	// start servers on (a Cluster node also uses its port + 10000 for the
	// cluster bus). Default: 20000-39999.
	PortRangeEnv = "VODGATE_TEST_PORT_RANGE"
)

// redisBin returns the binary named by env, else name on $PATH; it skips (or
// fails with CI=true) when there is none.
func redisBin(t testing.TB, env, name, pkg string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		var err error
		if p, err = exec.LookPath(name); err != nil {
			binUnavailable(t, "%s unset and no %s on $PATH (apt-get install %s)", env, name, pkg)
			return ""
		}
	}
	if !isExecutable(p) {
		binUnavailable(t, "%s=%q is not an executable file", env, p)
		return ""
	}
	return p
}

// ServerProc is one redis-server or redis-sentinel process started by a test
// on 127.0.0.1. It is stopped when the test ends; its output is logged if
// the test failed. Its methods are safe for concurrent use.
type ServerProc struct {
	t    testing.TB
	bin  string
	args []string // after the config file, if any
	conf string   // config file written once (sentinels rewrite theirs); "" = none
	// Addr is host:port.
	Addr string
	// Port is Addr's port.
	Port int
	log  *tailLog

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// startProc starts bin on a free port from [PortRangeEnv]: mkArgs returns the
// arguments for a port, conf (if non-empty) is written to dir/PORT.conf and
// passed first. It retries on another port when the process exits at start
// (a port taken meanwhile by another test).
func startProc(t testing.TB, bin, dir string, bus bool, conf func(port int) string, mkArgs func(port int) []string) *ServerProc {
	t.Helper()
	var lastLog string
	for range 5 {
		port := freePort(t, bus)
		p := &ServerProc{t: t, bin: bin, Port: port, Addr: "127.0.0.1:" + strconv.Itoa(port),
			args: mkArgs(port), log: newTailLog(32 << 10)}
		if conf != nil {
			p.conf = fmt.Sprintf("%s/%d.conf", dir, port)
			if err := os.WriteFile(p.conf, []byte(conf(port)), 0o600); err != nil {
				t.Fatalf("testenv: write %s: %v", p.conf, err)
			}
		}
		if err := p.start(); err == nil {
			t.Cleanup(func() {
				p.Stop()
				if t.Failed() {
					t.Logf("---- %s %s log ----\n%s", bin, p.Addr, p.log.String())
				}
			})
			return p
		} else {
			lastLog = err.Error()
		}
	}
	t.Fatalf("testenv: could not start %s:\n%s", bin, lastLog)
	return nil
}

// start runs the process and waits until it answers PING.
func (p *ServerProc) start() error {
	args := p.args
	if p.conf != "" {
		args = append([]string{p.conf}, args...)
	}
	cmd := exec.Command(p.bin, args...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.bin, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	go func() { _ = cmd.Wait(); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if Ping(p.Addr) {
			return nil
		}
		select {
		case <-done:
			p.mu.Lock()
			p.cmd, p.done = nil, nil
			p.mu.Unlock()
			return fmt.Errorf("%s exited at start:\n%s", p.bin, p.log.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	p.signalAndWait(syscall.SIGKILL)
	return fmt.Errorf("%s on %s not answering PING:\n%s", p.bin, p.Addr, p.log.String())
}

// Restart starts the process again, on the same port and files, after Stop
// or Kill.
func (p *ServerProc) Restart() {
	p.t.Helper()
	p.mu.Lock()
	running := p.cmd != nil
	p.mu.Unlock()
	if running {
		p.t.Fatalf("testenv: Restart of %s while running", p.Addr)
	}
	if err := p.start(); err != nil {
		p.t.Fatalf("testenv: restart %s: %v", p.Addr, err)
	}
}

// Running reports whether the process was started and not stopped.
func (p *ServerProc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

// Stop shuts the process down (SIGTERM) and waits.
func (p *ServerProc) Stop() { p.signalAndWait(syscall.SIGTERM) }

// Kill SIGKILLs the process and waits.
func (p *ServerProc) Kill() { p.signalAndWait(syscall.SIGKILL) }

func (p *ServerProc) signalAndWait(sig syscall.Signal) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd, p.done = nil, nil
	p.mu.Unlock()
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

// Ping reports whether a Redis server (or sentinel) at addr answers PING.
func Ping(addr string) bool {
	out, err := rawCommand(addr, "PING")
	return err == nil && strings.HasPrefix(out, "+PONG")
}

// rawCommand sends one inline command and returns the first reply read
// (at most 64 KiB), for the few checks that need no client.
func rawCommand(addr, cmd string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		return "", err
	}
	b := make([]byte, 64<<10)
	n, err := c.Read(b)
	if n == 0 {
		return "", err
	}
	return string(b[:n]), nil
}

// freePort returns a port of [PortRangeEnv] where nothing listens on
// 127.0.0.1 (nor, with bus, on port+10000).
func freePort(t testing.TB, bus bool) int {
	t.Helper()
	lo, hi := 20000, 39999
	if r := os.Getenv(PortRangeEnv); r != "" {
		a, b, ok := strings.Cut(r, "-")
		l, err1 := strconv.Atoi(a)
		h, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil || l <= 0 || h < l || h > 65535 {
			t.Fatalf("testenv: %s=%q: want LOW-HIGH", PortRangeEnv, r)
		}
		lo, hi = l, h
	}
	for range 200 {
		p := lo + rand.IntN(hi-lo+1)
		if portFree(p) && (!bus || (p+10000 <= 65535 && portFree(p+10000))) {
			return p
		}
	}
	t.Fatalf("testenv: no free port in %d-%d", lo, hi)
	return 0
}

func portFree(p int) bool {
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// tailLog keeps the last max bytes written to it.
type tailLog struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func newTailLog(max int) *tailLog { return &tailLog{max: max} }

func (l *tailLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	if len(l.b) > l.max {
		l.b = append([]byte(nil), l.b[len(l.b)-l.max:]...)
	}
	return len(p), nil
}

func (l *tailLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}
