package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/vodgate/vodgate/internal/testenv"
)

// TestSmoke runs the comparison at its smoke size against the built
// gateway, so the tool cannot rot: every row must have uploaded, with
// every object's SHA-256 checked. Timings are never asserted.
func TestSmoke(t *testing.T) {
	bin := testenv.GatewayBin(t)
	var out bytes.Buffer
	o := options{bin: bin, sizeMiB: 4, smallN: 8, smallMiB: 1, conc: 4,
		protos: []string{"h1", "h2", "h3"}, cases: []string{"one-patch", "small"}}
	if err := run(o, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	for _, p := range []string{"HTTP/1.1", "HTTP/2.0", "HTTP/3.0"} {
		if n := strings.Count(out.String(), "| "+p+" |"); n != 2 {
			t.Errorf("%s: %d rows, want 2 (one-patch and small)", p, n)
		}
	}
}
