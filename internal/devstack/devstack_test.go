package devstack

import (
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func startTest(t *testing.T) (*Stack, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := Start(Config{DataDir: dir, OSSAddr: "127.0.0.1:0", VODAddr: "127.0.0.1:0",
		RedisAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(s.Close)
	return s, dir
}

func TestStackServes(t *testing.T) {
	s, dir := startTest(t)
	o := s.Overrides()
	if o.VODProtocol != "http" || o.AccessKeyID != DevAccessKeyID || o.AccessKeySecret != DevAccessKeySecret ||
		o.VODRegion != DefaultRegion || !strings.HasPrefix(o.VODEndpoint, "127.0.0.1:") {
		t.Errorf("overrides %+v", o)
	}
	for _, u := range []string{s.OSSURL() + "/_sim/objects", s.VODURL() + "/_sim/media"} {
		res, err := http.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("GET %s: %d", u, res.StatusCode)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), "osstest-") {
		t.Errorf("data dir holds %v, want one osstest-* directory", entries)
	}

	opts, err := redis.ParseURL(o.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx := t.Context()
	if err := rdb.Set(ctx, "k", "v", 200*time.Millisecond).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for rdb.Exists(ctx, "k").Val() == 1 {
		if time.Now().After(deadline) {
			t.Fatal("key with a 200ms TTL did not expire: miniredis clock not ticking")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestStartFailsOnBusyAddress(t *testing.T) {
	s, _ := startTest(t)
	busy := strings.TrimPrefix(s.OSSURL(), "http://")
	_, err := Start(Config{DataDir: t.TempDir(), OSSAddr: busy, Logger: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "devstack: oss simulator") {
		t.Fatalf("err = %v", err)
	}
	// Redis on a busy address: the simulators started first must be stopped.
	_, err = Start(Config{DataDir: t.TempDir(), OSSAddr: "127.0.0.1:0", VODAddr: "127.0.0.1:0",
		RedisAddr: s.RedisAddr(), Logger: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "devstack: embedded redis") {
		t.Fatalf("err = %v", err)
	}
}

func TestCloseRemovesBlobsAndIsIdempotent(t *testing.T) {
	s, dir := startTest(t)
	s.Close()
	s.Close()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("data dir still holds %v", entries)
	}
}

func TestBanner(t *testing.T) {
	s, _ := startTest(t)
	b := s.Banner("http://127.0.0.1:8080/files/", "")
	for _, want := range []string{"curl -sS -o /dev/null -D - -X POST http://127.0.0.1:8080/files/",
		"Tus-Resumable: 1.0.0", "Upload-Metadata: filename", "application/offset+octet-stream",
		s.OSSURL() + "/_sim/objects", s.VODURL() + "/_sim/media", "printf %s"} {
		if !strings.Contains(b, want) {
			t.Errorf("banner lacks %q:\n%s", want, b)
		}
	}
	if strings.Contains(b, "Authorization") {
		t.Errorf("banner without auth sends Authorization:\n%s", b)
	}
	b = s.Banner("http://127.0.0.1:8080/files/", "gateway token -key-file k -sub dev -ttl 1h")
	if n := strings.Count(b, `-H "Authorization: Bearer $TOKEN"`); n != 3 {
		t.Errorf("banner with auth sends Authorization on %d of 3 requests:\n%s", n, b)
	}
	if !strings.Contains(b, "TOKEN=$(gateway token -key-file k -sub dev -ttl 1h)") {
		t.Errorf("banner with auth does not say how to get a token:\n%s", b)
	}
}
