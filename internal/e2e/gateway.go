package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// gatewayReadyTimeout bounds how long a gateway may take to answer /readyz.
const gatewayReadyTimeout = 30 * time.Second

// gatewayProc is one gateway process on a fixed loopback address. It can be
// killed and started again on the same address; its stdout and stderr, over
// all its lives, go into one log that is printed when the test fails.
type gatewayProc struct {
	t    testing.TB
	name string
	bin  string
	addr string // 127.0.0.1:PORT
	env  []string
	// scheme is https when the gateway serves TLS (VODGATE_TLS_CERT_FILE),
	// and ready is the client /readyz is asked with (it trusts that
	// certificate).
	scheme string
	ready  *http.Client
	log    *tailLog

	mu    sync.Mutex
	cmd   *exec.Cmd
	done  chan struct{} // closed when cmd has exited
	lives int
}

// newGatewayProc starts the gateway binary bin on a free loopback port with
// env (added to a copy of this process's environment stripped of VODGATE_*
// and ALIBABA_CLOUD_* variables) and waits until /readyz answers 200. The
// process is stopped when the test ends.
func newGatewayProc(t testing.TB, name, bin string, env map[string]string) *gatewayProc {
	t.Helper()
	g := &gatewayProc{
		t:    t,
		name: name,
		bin:  bin,
		addr: freeAddr(t),
		log:  newTailLog(512 << 10),
	}
	if os.Getenv("VODGATE_E2E_LOG") != "" {
		g.log.mirror = func(line string) { t.Logf("%s| %s", name, line) }
	}
	g.env = gatewayEnv(env, g.addr)
	g.scheme, g.ready = "http", &http.Client{Timeout: 2 * time.Second}
	if cf := env["VODGATE_TLS_CERT_FILE"]; cf != "" {
		g.scheme, g.ready = "https", tlsClient(t, cf)
	}
	t.Cleanup(func() {
		g.Stop()
		if t.Failed() && os.Getenv("VODGATE_E2E_LOG") == "" {
			t.Logf("---- %s log (%s, last %d bytes) ----\n%s", g.name, g.addr, g.log.max, g.log.String())
		}
	})
	g.Start()
	return g
}

func gatewayEnv(extra map[string]string, addr string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "VODGATE_") || strings.HasPrefix(k, "ALIBABA_CLOUD_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "VODGATE_LISTEN="+addr)
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

// URL is the gateway's base URL, e.g. http://127.0.0.1:PORT (https with TLS).
func (g *gatewayProc) URL() string { return g.scheme + "://" + g.addr }

// Endpoint is the tus creation endpoint.
func (g *gatewayProc) Endpoint() string { return g.URL() + "/files/" }

// PID is the current process's id, 0 when not running.
func (g *gatewayProc) PID() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cmd == nil || g.cmd.Process == nil {
		return 0
	}
	return g.cmd.Process.Pid
}

// Start starts the process (again) on its address and waits until it is ready.
func (g *gatewayProc) Start() {
	g.t.Helper()
	g.mu.Lock()
	if g.cmd != nil {
		g.mu.Unlock()
		g.t.Fatalf("%s: Start while running", g.name)
	}
	g.lives++
	g.log.Printf("---- %s start #%d on %s ----", g.name, g.lives, g.addr)
	cmd := exec.Command(g.bin)
	cmd.Env = g.env
	cmd.Stdout = g.log
	cmd.Stderr = g.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		g.mu.Unlock()
		g.t.Fatalf("%s: start %s: %v", g.name, g.bin, err)
	}
	done := make(chan struct{})
	g.cmd, g.done = cmd, done
	g.mu.Unlock()
	go func() {
		err := cmd.Wait()
		g.log.Printf("---- %s pid %d exited: %v ----", g.name, cmd.Process.Pid, err)
		close(done)
	}()
	g.waitReady(done)
}

func (g *gatewayProc) waitReady(done <-chan struct{}) {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), gatewayReadyTimeout)
	defer cancel()
	client := g.ready
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.URL()+"/readyz", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-done:
			g.t.Fatalf("%s: exited before it was ready (last /readyz: %s); log:\n%s", g.name, last, g.log.String())
		case <-ctx.Done():
			g.t.Fatalf("%s: not ready after %v (last /readyz: %s); log:\n%s", g.name, gatewayReadyTimeout, last, g.log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Kill sends SIGKILL and waits until the process is gone.
func (g *gatewayProc) Kill() {
	g.t.Helper()
	g.signalAndWait(syscall.SIGKILL, 10*time.Second)
}

// Stop sends SIGTERM and waits up to 20s for a graceful exit, then SIGKILLs.
// It reports whether the process exited on its own after SIGTERM.
func (g *gatewayProc) Stop() bool {
	return g.signalAndWait(syscall.SIGTERM, 20*time.Second)
}

// Signal sends sig to the running process without waiting (SIGSTOP/SIGCONT).
func (g *gatewayProc) Signal(sig syscall.Signal) {
	g.t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cmd == nil {
		g.t.Fatalf("%s: Signal(%v) while not running", g.name, sig)
	}
	if err := g.cmd.Process.Signal(sig); err != nil {
		g.t.Fatalf("%s: signal %v: %v", g.name, sig, err)
	}
}

func (g *gatewayProc) signalAndWait(sig syscall.Signal, grace time.Duration) bool {
	g.mu.Lock()
	cmd, done := g.cmd, g.done
	g.cmd, g.done = nil, nil
	g.mu.Unlock()
	if cmd == nil {
		return true
	}
	g.log.Printf("---- %s: sending %v to pid %d ----", g.name, sig, cmd.Process.Pid)
	_ = cmd.Process.Signal(syscall.SIGCONT) // in case a test left it stopped
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		return true
	case <-time.After(grace):
	}
	g.log.Printf("---- %s: pid %d still running %v after %v; SIGKILL ----", g.name, cmd.Process.Pid, grace, sig)
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Process.Kill()
	<-done
	return false
}

// freeAddr returns a loopback address whose port was free a moment ago,
// over TCP and over UDP (for HTTP/3 on the same port).
func freeAddr(t testing.TB) string {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		addr := l.Addr().String()
		u, err := net.ListenPacket("udp", addr)
		l.Close()
		if err == nil {
			u.Close()
			return addr
		}
	}
	t.Fatal("free port: no port free over both TCP and UDP")
	return ""
}

// tailLog is an io.Writer that keeps the last max bytes written to it.
type tailLog struct {
	mu     sync.Mutex
	max    int
	buf    []byte
	cut    bool
	mirror func(line string)
	part   []byte
}

func newTailLog(max int) *tailLog { return &tailLog{max: max} }

func (l *tailLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.buf = append(l.buf, p...)
	if len(l.buf) > l.max {
		l.buf = append(l.buf[:0], l.buf[len(l.buf)-l.max:]...)
		l.cut = true
	}
	var lines []string
	if l.mirror != nil {
		l.part = append(l.part, p...)
		for {
			i := strings.IndexByte(string(l.part), '\n')
			if i < 0 {
				break
			}
			lines = append(lines, string(l.part[:i]))
			l.part = l.part[i+1:]
		}
	}
	mirror := l.mirror
	l.mu.Unlock()
	for _, line := range lines {
		mirror(line)
	}
	return len(p), nil
}

// Printf writes a harness line into the log.
func (l *tailLog) Printf(format string, args ...any) {
	fmt.Fprintf(l, time.Now().Format("15:04:05.000")+" "+format+"\n", args...)
}

func (l *tailLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cut {
		return "[...]" + string(l.buf)
	}
	return string(l.buf)
}
