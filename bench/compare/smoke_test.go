package compare_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vodgate/vodgate/internal/testenv"
)

// TestSmoke runs `bash bench/compare/run.sh -smoke` (a few MiB, one
// repetition, every case against every server; c50 also warm; the WAN
// cases against the gateway and tusd-s3 through the WAN link proxy) so the
// harness cannot rot. It checks that every case ran against
// every server with zero failures, that the WAN cases' bytes went through
// the proxy, and that the table was printed; it never looks at the timings.
//
// It needs the gateway binary ($VODGATE_GATEWAY_BIN, as bash .ci/test
// sets), node with the repository's node_modules, redis-server and wrk; it
// is skipped without them, or fails when CI=true. run.sh installs tusd
// v2.9.1 with go install (cached) and wrk with apt-get when missing.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	gateway := testenv.GatewayBin(t)
	testenv.Node(t)
	root, ok := testenv.RepoRoot()
	if !ok {
		t.Fatal("repository root not found")
	}
	for _, bin := range []string{"redis-server", "bash"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not found", bin)
			}
			t.Skipf("%s not found", bin)
		}
	}
	if _, err := exec.LookPath("wrk"); err != nil && os.Getuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("wrk not found and not root to install it")
		}
		t.Skip("wrk not found (apt-get install wrk)")
	}

	dir := t.TempDir()
	results := filepath.Join(dir, "results.jsonl")
	table := filepath.Join(dir, "table.md")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute) // includes the first tusd build
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "bench", "compare", "run.sh"), "-smoke")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GATEWAY_BIN="+gateway, "BENCH_OUT="+table, "BENCH_RESULTS="+results, "BENCH_KEEP=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run.sh -smoke: %v\n%s", err, tail(string(out), 60))
	}

	f, err := os.Open(results)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type row struct {
		CaseID, Mode, Server, Error string
		OK                          bool
		Failures                    int
		Bytes, Requests             int64
		WANConns, WANBytesUp        int64
	}
	seen := map[string]row{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r row
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("results line %q: %v", sc.Text(), err)
		}
		seen[r.CaseID+"/"+r.Mode+"/"+r.Server] = r
	}
	for _, c := range []string{"one-patch", "chunked", "c50", "c500", "create", "wan-one-patch", "wan-chunked"} {
		for _, mode := range []string{"fresh", "warm"} {
			servers := []string{"gateway", "tusd-s3", "tusd-file", "ceiling"}
			switch {
			case strings.HasPrefix(c, "wan-"):
				servers = []string{"gateway", "tusd-s3"}
			case mode == "warm":
				servers = []string{"gateway", "tusd-s3", "tusd-file"}
			case c == "one-patch":
				servers = append(servers, "ceiling-put")
			}
			if mode == "warm" && c != "c50" {
				continue
			}
			for _, s := range servers {
				id := c + "/" + mode + "/" + s
				r, ok := seen[id]
				switch {
				case !ok:
					t.Errorf("%s: no result", id)
				case !r.OK || r.Failures > 0 || r.Error != "":
					t.Errorf("%s: ok=%v failures=%d error=%q", id, r.OK, r.Failures, r.Error)
				case c == "create" && r.Requests == 0, c != "create" && r.Bytes == 0:
					t.Errorf("%s: nothing was uploaded or created: %+v", id, r)
				case strings.HasPrefix(c, "wan-") && (r.WANConns == 0 || r.WANBytesUp < r.Bytes):
					t.Errorf("%s: %d bytes uploaded but %d went through the WAN proxy on %d connections", id, r.Bytes, r.WANBytesUp, r.WANConns)
				}
			}
		}
	}
	md, err := os.ReadFile(table)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| case | mode | server |", "| 12 MiB in one PATCH | fresh | gateway |", "| 12 MiB in one PATCH | fresh | tusd-s3 |",
		"| 5 × 2 MiB concurrent | warm | gateway |", "| 12 MiB in one PATCH | fresh, WAN | gateway |", "| 12 MiB in 6 MiB chunks | fresh, WAN | tusd-s3 |",
		"Targets (issue 7):", "Targets (issue 13):"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("table lacks %q:\n%s", want, md)
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
