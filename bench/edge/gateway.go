package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// gateway is one `gateway -dev` process with TLS and HTTP/3.
type gateway struct {
	cmd      *exec.Cmd
	endpoint string // https://127.0.0.1:PORT/files/
	ossURL   string // http://127.0.0.1:PORT
	done     chan struct{}
}

// startGateway starts bin -dev in dir on free loopback ports and waits for
// /readyz over TLS. A port found free can be taken by another process
// before the gateway binds it (other tests run in parallel; HTTP/3 also
// needs the UDP port), so a gateway that exits at startup is started
// again on new ports, three times at most.
func startGateway(bin, dir, certFile, keyFile string, roots *x509.CertPool) (*gateway, error) {
	var err error
	for range 3 {
		var g *gateway
		if g, err = startGatewayOnce(bin, dir, certFile, keyFile, roots); err == nil {
			return g, nil
		}
	}
	return nil, err
}

func startGatewayOnce(bin, dir, certFile, keyFile string, roots *x509.CertPool) (*gateway, error) {
	ports := make([]int, 4)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	addr := func(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }
	logf, err := os.Create(filepath.Join(dir, "gateway.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-dev", "-listen", addr(ports[0]), "-dev-oss-listen", addr(ports[1]),
		"-dev-vod-listen", addr(ports[2]), "-dev-redis-listen", addr(ports[3]),
		"-dev-data-dir", filepath.Join(dir, "data"), "-log-level", "warn",
		"-tls-cert-file", certFile, "-tls-key-file", keyFile, "-http3")
	cmd.Env = cleanEnv()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	g := &gateway{cmd: cmd, endpoint: "https://" + addr(ports[0]) + "/files/", ossURL: "http://" + addr(ports[1]),
		done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(g.done) }()

	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := c.Get("https://" + addr(ports[0]) + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return g, nil
			}
		}
		select {
		case <-g.done:
			b, _ := os.ReadFile(logf.Name())
			if len(b) > 2000 {
				b = b[len(b)-2000:]
			}
			return nil, fmt.Errorf("gateway exited before it was ready; log tail:\n%s", b)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			g.stop()
			return nil, fmt.Errorf("gateway not ready after 30s; see %s", logf.Name())
		}
	}
}

// cleanEnv is this process's environment without VODGATE_* variables.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VODGATE_") {
			env = append(env, kv)
		}
	}
	return env
}

func (g *gateway) stop() {
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(20 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.done
	}
}

// cpu is the gateway's user+system CPU seconds so far (/proc/PID/stat).
func (g *gateway) cpu() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", g.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) in parentheses.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseFloat(f[11], 64) // utime, field 14
	st, _ := strconv.ParseFloat(f[12], 64) // stime, field 15
	return (ut + st) / 100                 // USER_HZ
}

// freePort is a loopback port free a moment ago over TCP and UDP.
func freePort() (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		u, err := net.ListenPacket("udp", l.Addr().String())
		l.Close()
		if err == nil {
			u.Close()
			return l.Addr().(*net.TCPAddr).Port, nil
		}
	}
	return 0, fmt.Errorf("no port free over both TCP and UDP")
}

// writeCert writes a self-signed certificate for 127.0.0.1 into dir.
func writeCert(dir string) (certFile, keyFile string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vodgate bench"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
}
