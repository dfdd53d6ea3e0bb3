package checksum

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/tus/tusd/v2/pkg/handler"
)

var body = []byte("Die Würde des Menschen ist unantastbar.")

// digests computes the expected digests with the standard library
// directly, not through newHash.
func digests(b []byte) map[string][]byte {
	s1, s256, s512, m5 := sha1.Sum(b), sha256.Sum256(b), sha512.Sum512(b), md5.Sum(b)
	c := binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(b))
	return map[string][]byte{"sha1": s1[:], "sha256": s256[:], "sha512": s512[:], "md5": m5[:], "crc32": c}
}

func TestParse(t *testing.T) {
	d := digests(body)
	b64 := func(alg string) string { return base64.StdEncoding.EncodeToString(d[alg]) }
	tests := []struct {
		in      string
		wantAlg string
		wantErr error
	}{
		{in: "sha1 " + b64("sha1"), wantAlg: "sha1"},
		{in: "md5 " + b64("md5"), wantAlg: "md5"},
		{in: "crc32 " + b64("crc32"), wantAlg: "crc32"},
		{in: "sha256 " + b64("sha256"), wantAlg: "sha256"},
		{in: "sha512 " + b64("sha512"), wantAlg: "sha512"},
		{in: "SHA256 " + b64("sha256"), wantAlg: "sha256"},
		{in: "sha1 " + strings.TrimRight(b64("sha1"), "="), wantAlg: "sha1"}, // unpadded
		{in: "  md5 " + b64("md5") + " ", wantAlg: "md5"},
		{in: "blake3 " + b64("sha256"), wantErr: ErrUnsupported},
		{in: "crc64 AAAAAAAAAAA=", wantErr: ErrUnsupported},
		{in: "sha1", wantErr: ErrMalformed},
		{in: "", wantErr: ErrMalformed},
		{in: " " + b64("sha1"), wantErr: ErrMalformed},
		{in: "sha1 not*base64!", wantErr: ErrMalformed},
		{in: "sha1 " + b64("md5"), wantErr: ErrMalformed}, // wrong length
		{in: "sha1 " + b64("sha1") + " extra", wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c, err := Parse(tt.in)
			if tt.wantErr != nil {
				var te handler.Error
				if !errors.As(err, &te) || te.ErrorCode != tt.wantErr.(handler.Error).ErrorCode || te.HTTPResponse.StatusCode != 400 {
					t.Fatalf("Parse(%q) error = %v, want %v", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if c.Algorithm != tt.wantAlg || !bytes.Equal(c.Digest, d[tt.wantAlg]) {
				t.Fatalf("Parse(%q) = %s %x, want %s %x", tt.in, c.Algorithm, c.Digest, tt.wantAlg, d[tt.wantAlg])
			}
			if again, err := Parse(c.String()); err != nil || again.Algorithm != c.Algorithm || !bytes.Equal(again.Digest, c.Digest) {
				t.Fatalf("Parse(String()) = %v, %v", again, err)
			}
		})
	}
}

// store is a tiny store: it reads the body to the end, as WriteChunk does,
// then asks the check, and answers as tusd would.
func store(t *testing.T, got *error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		check, _ := r.Context().Value(checkKey{}).(func() error)
		n, _ := io.Copy(io.Discard, r.Body)
		if check == nil {
			*got = nil
			w.WriteHeader(http.StatusNoContent)
			return
		}
		*got = check()
		var te handler.Error
		if errors.As(*got, &te) {
			w.WriteHeader(te.HTTPResponse.StatusCode)
			return
		}
		w.Header().Set("Upload-Offset", itoa(n))
		w.WriteHeader(http.StatusNoContent)
	})
}

type checkKey struct{}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func newChecker(t *testing.T, reg prometheus.Registerer) *Checker {
	t.Helper()
	c, err := New(Config{Registry: reg, WithBodyCheck: func(ctx context.Context, check func() error) context.Context {
		return context.WithValue(ctx, checkKey{}, check)
	}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMiddleware(t *testing.T) {
	d := digests(body)
	bad := append([]byte(nil), body...)
	bad[7] ^= 0x40
	for _, alg := range Algorithms {
		t.Run(alg, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			c := newChecker(t, reg)
			var got error
			h := c.Middleware(store(t, &got))
			hdr := alg + " " + base64.StdEncoding.EncodeToString(d[alg])

			for _, tc := range []struct {
				name string
				body []byte
				want int
			}{{"match", body, http.StatusNoContent}, {"flipped", bad, StatusMismatch}} {
				req := httptest.NewRequest(http.MethodPatch, "/files/x", bytes.NewReader(tc.body))
				req.Header.Set(HeaderChecksum, hdr)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != tc.want {
					t.Fatalf("%s: status %d (check: %v), want %d", tc.name, rec.Code, got, tc.want)
				}
			}
			var m dto.Metric
			if err := c.mismatches.WithLabelValues(alg).Write(&m); err != nil {
				t.Fatal(err)
			}
			if n := m.GetCounter().GetValue(); n != 1 {
				t.Fatalf("vodgate_checksum_mismatches_total{algorithm=%q} = %v, want 1", alg, n)
			}
		})
	}
}

func TestMiddlewareRejectsBeforeStore(t *testing.T) {
	c := newChecker(t, nil)
	called := false
	h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called = true }))
	for _, v := range []string{"whirlpool AAAA", "sha1", "sha256 AAAA"} {
		req := httptest.NewRequest(http.MethodPatch, "/files/x", bytes.NewReader(body))
		req.Header.Set(HeaderChecksum, v)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest || called {
			t.Fatalf("%q: status %d, store called %v; want 400 before the store", v, rec.Code, called)
		}
		if !strings.HasPrefix(rec.Body.String(), "ERR_") || rec.Header().Get("Tus-Resumable") != "1.0.0" {
			t.Fatalf("%q: body %q headers %v", v, rec.Body.String(), rec.Header())
		}
	}
}

// TestMiddlewareIncomplete: a body that fails before its end is never
// verified, even when the bytes read so far would match.
func TestMiddlewareIncomplete(t *testing.T) {
	c := newChecker(t, nil)
	var got error
	h := c.Middleware(store(t, &got))
	sum := sha256.Sum256(body[:10])
	req := httptest.NewRequest(http.MethodPatch, "/files/x", io.MultiReader(bytes.NewReader(body[:10]), errReader{}))
	req.Header.Set(HeaderChecksum, "sha256 "+base64.StdEncoding.EncodeToString(sum[:]))
	h.ServeHTTP(httptest.NewRecorder(), req)
	if !errors.Is(got, ErrIncomplete) {
		t.Fatalf("check = %v, want ErrIncomplete", got)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestOptionsAdvertises(t *testing.T) {
	c := newChecker(t, nil)
	h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Tus-Extension", "creation,termination") // as tusd sets it
		w.WriteHeader(http.StatusOK)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodOptions, "/files/", nil))
	if got := rec.Header().Get("Tus-Extension"); got != "creation,termination,checksum,checksum-trailer" {
		t.Fatalf("Tus-Extension = %q", got)
	}
	if got := rec.Header().Get(HeaderAlgorithms); got != "sha1,md5,crc32,sha256,sha512" {
		t.Fatalf("Tus-Checksum-Algorithm = %q", got)
	}
}

// trailerBody sets the request's Upload-Checksum trailer once the body has
// been read, as a client that hashes while it sends does.
type trailerBody struct {
	r     io.Reader
	req   *http.Request
	value string
}

func (b *trailerBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF && b.value != "" {
		b.req.Trailer.Set(HeaderChecksum, b.value)
	}
	return n, err
}

// TestTrailer sends the checksum as an HTTP/1.1 chunked trailer through a
// real server: right, wrong, missing and malformed.
func TestTrailer(t *testing.T) {
	c := newChecker(t, nil)
	var got error
	srv := httptest.NewServer(c.Middleware(store(t, &got)))
	defer srv.Close()
	d := digests(body)
	for _, tc := range []struct {
		name, value string
		want        int
	}{
		{"match", "md5 " + base64.StdEncoding.EncodeToString(d["md5"]), http.StatusNoContent},
		{"match sha512", "sha512 " + base64.StdEncoding.EncodeToString(d["sha512"]), http.StatusNoContent},
		{"mismatch", "crc32 " + base64.StdEncoding.EncodeToString(d["md5"][:4]), StatusMismatch},
		{"missing", "", http.StatusBadRequest},
		{"unsupported", "adler32 AAAAAA==", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPatch, srv.URL+"/files/x", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Body = io.NopCloser(&trailerBody{r: bytes.NewReader(body), req: req, value: tc.value})
			req.ContentLength = -1
			req.Trailer = http.Header{HeaderChecksum: nil}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d (check: %v), want %d", resp.StatusCode, got, tc.want)
			}
		})
	}
}
