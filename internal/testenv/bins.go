package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Environment variables read by the helpers in this file. bash .ci/test sets
// them all.
const (
	// GatewayBinEnv names the gateway binary built from ./cmd/gateway.
	GatewayBinEnv = "VODGATE_GATEWAY_BIN"
	// ChromiumEnv overrides where Chromium is looked for. Default: /usr/bin/chromium, then $PATH.
	ChromiumEnv = "CHROMIUM_BIN"
	// NodeEnv overrides the Node.js binary. Default: node on $PATH.
	NodeEnv = "NODE_BIN"
)

// GatewayBin returns the path of the gateway binary named by
// $VODGATE_GATEWAY_BIN. When it is unset or not executable the test is
// skipped, or fails when CI=true.
func GatewayBin(t testing.TB) string {
	t.Helper()
	p := os.Getenv(GatewayBinEnv)
	if p == "" {
		binUnavailable(t, "%s is not set (bash .ci/test builds ./cmd/gateway and sets it)", GatewayBinEnv)
		return ""
	}
	if !isExecutable(p) {
		binUnavailable(t, "%s=%q is not an executable file", GatewayBinEnv, p)
		return ""
	}
	return p
}

// Node returns the Node.js binary ($NODE_BIN, else node on $PATH), and checks
// that the repository's node_modules holds the packages of package.json
// (npm ci). When either is missing the test is skipped, or fails when CI=true.
func Node(t testing.TB) string {
	t.Helper()
	p := os.Getenv(NodeEnv)
	if p == "" {
		var err error
		if p, err = exec.LookPath("node"); err != nil {
			binUnavailable(t, "node not found on $PATH")
			return ""
		}
	}
	if !isExecutable(p) {
		binUnavailable(t, "%s=%q is not an executable file", NodeEnv, p)
		return ""
	}
	root, ok := RepoRoot()
	if !ok {
		binUnavailable(t, "repository root (go.mod) not found above the working directory")
		return ""
	}
	for _, pkg := range []string{"tus-js-client", "playwright-core", "esbuild", "@uppy/core", "@uppy/tus", "@uppy/dashboard", "standardwebhooks"} {
		if _, err := os.Stat(filepath.Join(root, "node_modules", pkg, "package.json")); err != nil {
			binUnavailable(t, "node package %s is not installed in %s/node_modules (run npm ci)", pkg, root)
			return ""
		}
	}
	return p
}

// Chromium returns the Chromium binary ($CHROMIUM_BIN, /usr/bin/chromium,
// or chromium / chromium-browser on $PATH). When none is found the test is
// skipped, or fails when CI=true.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(ChromiumEnv); p != "" {
		if !isExecutable(p) {
			binUnavailable(t, "%s=%q is not an executable file", ChromiumEnv, p)
			return ""
		}
		return p
	}
	if isExecutable("/usr/bin/chromium") {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	binUnavailable(t, "chromium not found (apt-get install chromium)")
	return ""
}

// RepoRoot returns the nearest directory at or above the working directory
// that holds go.mod. Go tests run in their package directory, so this is the
// module root.
func RepoRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// binUnavailable skips the test, or fails it when CI=true, so that a CI run
// never passes by skipping what it was meant to test.
func binUnavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("testenv: "+format+" (CI=true: failing instead of skipping)", args...)
	}
	t.Skipf("testenv: "+format, args...)
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// PebbleEnv names the Pebble binary (Let's Encrypt's test ACME CA) for the
// ACME tests; bash .ci/test installs it with go install.
const PebbleEnv = "PEBBLE_BIN"

// Pebble returns the Pebble binary ($PEBBLE_BIN, else pebble on $PATH).
// When it is missing the test is skipped, or fails when CI=true.
func Pebble(t testing.TB) string {
	t.Helper()
	p := os.Getenv(PebbleEnv)
	if p == "" {
		var err error
		if p, err = exec.LookPath("pebble"); err != nil {
			binUnavailable(t, "%s is not set and pebble is not on $PATH (go install github.com/letsencrypt/pebble/v2/cmd/pebble@v2.10.3)", PebbleEnv)
			return ""
		}
	}
	if !isExecutable(p) {
		binUnavailable(t, "%s=%q is not an executable file", PebbleEnv, p)
		return ""
	}
	return p
}
