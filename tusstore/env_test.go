package tusstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"
	expslog "golang.org/x/exp/slog"

	"github.com/vodgate/vodgate/internal/osstest"
	"github.com/vodgate/vodgate/internal/redisstate"
	"github.com/vodgate/vodgate/internal/vodtest"
	"github.com/vodgate/vodgate/vodbridge"
)

// env is a tusd handler on a Store wired to the VOD and OSS simulators and
// an in-process Redis.
type env struct {
	t     *testing.T
	oss   *osstest.Server
	vod   *vodtest.Server
	store *Store
	url   string
	mr    *miniredis.Miniredis
}

func newEnv(t *testing.T, mutate func(*Config)) *env {
	t.Helper()
	return newEnvTTL(t, 0, mutate)
}

// newEnvTTL is newEnv with VOD issuing credentials that live ttl (0: VOD's
// 3,000 s).
func newEnvTTL(t *testing.T, ttl time.Duration, mutate func(*Config)) *env {
	t.Helper()
	clock := time.Now
	oss := osstest.NewServer(osstest.Config{Clock: clock})
	t.Cleanup(oss.Close)
	vod := vodtest.NewServer(vodtest.Config{OSS: oss, Clock: clock, CredentialTTL: ttl,
		AccessKeys: map[string]string{"LTAItest": "test-secret"}})
	t.Cleanup(vod.Close)
	vb, err := vodbridge.New(vodbridge.Config{AccessKeyID: "LTAItest", AccessKeySecret: "test-secret",
		Endpoint: vod.Endpoint(), Protocol: "http", Timeout: 5 * time.Second, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	cfg := Config{VOD: vb, Records: redisstate.New(rdb, redisstate.Config{}), PartSize: 1 << 20, Clock: clock,
		BufferBudget: 64 << 20, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if mutate != nil {
		mutate(&cfg)
	}
	store, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	composer := handler.NewStoreComposer()
	store.UseIn(composer)
	memorylocker.New().UseIn(composer)
	h, err := handler.NewHandler(handler.Config{BasePath: "/files/", StoreComposer: composer,
		Logger: expslog.New(expslog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/files/", withTestOwner(http.StripPrefix("/files/", h)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{t: t, oss: oss, vod: vod, store: store, url: srv.URL + "/files/", mr: mr}
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func encodeMeta(m map[string]string) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, k+" "+base64.StdEncoding.EncodeToString([]byte(v)))
	}
	return strings.Join(parts, ",")
}

func (e *env) do(method, url string, hdr map[string]string, body io.Reader) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if method == http.MethodPatch && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/offset+octet-stream")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, url, err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// create makes an upload of length (-1 for deferred) and returns its URL.
func (e *env) create(length int64, meta map[string]string) string {
	e.t.Helper()
	h := map[string]string{"Upload-Metadata": encodeMeta(meta)}
	if length < 0 {
		h["Upload-Defer-Length"] = "1"
	} else {
		h["Upload-Length"] = strconv.FormatInt(length, 10)
	}
	res := e.do(http.MethodPost, e.url, h, nil)
	if res.StatusCode != http.StatusCreated {
		e.t.Fatalf("create: status %d", res.StatusCode)
	}
	return res.Header.Get("Location")
}

func (e *env) offset(loc string) int64 {
	e.t.Helper()
	res := e.do(http.MethodHead, loc, nil, nil)
	if res.StatusCode != http.StatusOK {
		e.t.Fatalf("HEAD: status %d", res.StatusCode)
	}
	n, _ := strconv.ParseInt(res.Header.Get("Upload-Offset"), 10, 64)
	return n
}

// patch sends data at off and returns the response.
func (e *env) patch(loc string, off int64, data []byte, extra map[string]string) *http.Response {
	h := map[string]string{"Upload-Offset": strconv.FormatInt(off, 10)}
	for k, v := range extra {
		h[k] = v
	}
	return e.do(http.MethodPatch, loc, h, bytes.NewReader(data))
}

// checkObject asserts the media's object equals data and VOD saw it land.
func (e *env) checkObject(loc string, data []byte) {
	e.t.Helper()
	id := loc[strings.LastIndex(loc, "/")+1:]
	mediaID, _, ok := e.store.MediaOf(context.Background(), id)
	if !ok {
		e.t.Fatalf("no media for %s", id)
	}
	m, ok := e.vod.Media(mediaID)
	if !ok {
		e.t.Fatalf("vod has no media %s", mediaID)
	}
	obj, ok := e.oss.Object(m.Bucket, m.Key)
	if !ok {
		e.t.Fatalf("no object %s/%s; vod status %s", m.Bucket, m.Key, m.Status)
	}
	sum := sha256.Sum256(data)
	if obj.Size != int64(len(data)) || obj.SHA256 != hex.EncodeToString(sum[:]) {
		e.t.Fatalf("object %d bytes sha %s, want %d bytes sha %x", obj.Size, obj.SHA256, len(data), sum)
	}
	if m.Status != "UploadSucc" && m.Status != "Normal" {
		e.t.Fatalf("vod status %q", m.Status)
	}
}

// fence is a Fencer whose answer the test sets.
type fence struct {
	key   string
	token int64
	held  bool
}

func (f *fence) Fence(string) (string, int64, bool) { return f.key, f.token, f.held }

type ownerKey struct{}

// withTestOwner puts the X-Test-Owner header in the request context, as
// the authentication middleware puts the caller.
func withTestOwner(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("X-Test-Owner"); o != "" {
			r = r.WithContext(context.WithValue(r.Context(), ownerKey{}, o))
		}
		if v := r.Header.Get("X-Test-Check"); v != "" { // as internal/checksum asks
			r = r.WithContext(WithBodyCheck(r.Context(), testCheck(v)))
		}
		if r.ContentLength > 0 { // as cmd/gateway wires it
			r = r.WithContext(WithBodyLength(r.Context(), r.ContentLength))
		}
		next.ServeHTTP(w, r)
	})
}
func offsetAs(e *env, loc string, hdr map[string]string) int64 {
	res := e.do(http.MethodHead, loc, hdr, nil)
	n, _ := strconv.ParseInt(res.Header.Get("Upload-Offset"), 10, 64)
	return n
}
