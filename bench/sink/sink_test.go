package main

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

func newSink(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return s, hs.URL
}

func ossBucket(t testing.TB, url string) *oss.Bucket {
	t.Helper()
	c, err := oss.New(url, "any-ak", "any-secret", oss.SecurityToken("any-token"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Bucket("vod-bucket")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func md5Hex(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

// TestOSSMultipart drives the sink with the Aliyun OSS SDK, as the gateway
// does, in both ETag modes and with -dir.
func TestOSSMultipart(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"md5", Config{}},
		{"none", Config{ETag: "none"}},
		{"dir", Config{Dir: "DIR"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cfg.Dir != "" {
				tc.cfg.Dir = t.TempDir()
			}
			s, url := newSink(t, tc.cfg)
			b := ossBucket(t, url)
			key := "sv/abc/video.mp4"
			imur, err := b.InitiateMultipartUpload(key)
			if err != nil {
				t.Fatal(err)
			}
			p1 := bytes.Repeat([]byte("a"), 300<<10)
			p2 := []byte("tail bytes")
			var parts []oss.UploadPart
			for i, body := range [][]byte{p1, p2} {
				up, err := b.UploadPart(imur, bytes.NewReader(body), int64(len(body)), i+1)
				if err != nil {
					t.Fatal(err)
				}
				if tc.cfg.ETag != "none" && strings.ToLower(up.ETag) != `"`+md5Hex(body)+`"` {
					t.Errorf("part %d ETag %s, want md5 %s", i+1, up.ETag, md5Hex(body))
				}
				parts = append(parts, up)
			}
			lp, err := b.ListUploadedParts(imur)
			if err != nil {
				t.Fatal(err)
			}
			if len(lp.UploadedParts) != 2 || lp.UploadedParts[0].Size != len(p1) || lp.UploadedParts[1].ETag != parts[1].ETag {
				t.Errorf("list parts = %+v", lp.UploadedParts)
			}
			bad := []oss.UploadPart{{PartNumber: 1, ETag: `"00"`}, parts[1]}
			if _, err := b.CompleteMultipartUpload(imur, bad); !hasCode(err, "InvalidPart") {
				t.Errorf("complete with a wrong ETag: %v, want InvalidPart", err)
			}
			if _, err := b.CompleteMultipartUpload(imur, parts); err != nil {
				t.Fatal(err)
			}
			h, err := b.GetObjectMeta(key)
			if err != nil {
				t.Fatal(err)
			}
			if got := h.Get("Content-Length"); got != "307210" {
				t.Errorf("object size %s, want 307210", got)
			}
			if err := b.AbortMultipartUpload(imur); !hasCode(err, "NoSuchUpload") {
				t.Errorf("abort after complete: %v, want NoSuchUpload", err)
			}
			if tc.cfg.Dir != "" {
				got, err := os.ReadFile(filepath.Join(tc.cfg.Dir, "objects", "vod-bucket", filepath.FromSlash(key)))
				if err != nil || !bytes.Equal(got, append(append([]byte{}, p1...), p2...)) {
					t.Errorf("object file: %d bytes, %v", len(got), err)
				}
			}
			if n := s.stats.Completed.Load(); n != 1 {
				t.Errorf("completed %d, want 1", n)
			}
		})
	}
}

func hasCode(err error, code string) bool {
	var se oss.ServiceError
	return errors.As(err, &se) && se.Code == code
}

func TestObjects(t *testing.T) {
	_, url := newSink(t, Config{Keep: 64})
	b := ossBucket(t, url)
	if err := b.PutObject("x.info", strings.NewReader(`{"id":"1"}`)); err != nil {
		t.Fatal(err)
	}
	r, err := b.GetObject("x.info")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if string(got) != `{"id":"1"}` {
		t.Errorf("get = %q", got)
	}
	if err := b.PutObject("big", bytes.NewReader(make([]byte, 100))); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetObject("big"); !hasCode(err, "NotImplemented") {
		t.Errorf("get of a discarded object: %v, want NotImplemented", err)
	}
	if err := b.PutObject("sv/clip.mp4", strings.NewReader("small")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetObject("sv/clip.mp4"); !hasCode(err, "NotImplemented") {
		t.Errorf("get of a small object tusd never reads back: %v, want NotImplemented", err)
	}
	if size, err := b.GetObjectMeta("sv/clip.mp4"); err != nil || size.Get("Content-Length") != "5" {
		t.Errorf("meta of a discarded object: %v, %v", size, err)
	}
	if err := b.DeleteObject("x.info"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetObject("x.info"); !hasCode(err, "NoSuchKey") {
		t.Errorf("get after delete: %v, want NoSuchKey", err)
	}
	if ok, err := b.IsObjectExist("x.info"); ok || err != nil {
		t.Errorf("exists after delete = %v, %v", ok, err)
	}
}

// TestTus checks the discarding tus endpoint with raw requests.
func TestTus(t *testing.T) {
	_, url := newSink(t, Config{})
	do := func(method, u string, body io.Reader, hdr ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, u, body)
		req.Header.Set("Tus-Resumable", "1.0.0")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	res := do("POST", url+"/_tus/", nil, "Upload-Length", "10")
	loc := res.Header.Get("Location")
	if res.StatusCode != 201 || loc == "" {
		t.Fatalf("POST = %d, Location %q", res.StatusCode, loc)
	}
	for _, tc := range []struct {
		off, body string
		status    int
		offset    string
	}{
		{"0", "hello", 204, "5"},
		{"0", "again", 409, ""},
		{"5", "world", 204, "10"},
		{"10", "x", 413, ""},
	} {
		res := do("PATCH", loc, strings.NewReader(tc.body), "Upload-Offset", tc.off, "Content-Type", "application/offset+octet-stream")
		if res.StatusCode != tc.status || res.Header.Get("Upload-Offset") != tc.offset {
			t.Errorf("PATCH at %s: %d offset %q, want %d %q", tc.off, res.StatusCode, res.Header.Get("Upload-Offset"), tc.status, tc.offset)
		}
	}
	if res := do("HEAD", loc, nil); res.Header.Get("Upload-Offset") != "10" {
		t.Errorf("HEAD offset %q", res.Header.Get("Upload-Offset"))
	}
	if res := do("PUT", url+"/_discard/x", strings.NewReader("abc")); res.StatusCode != 204 || res.Header.Get("X-Received") != "3" {
		t.Errorf("discard = %d %q", res.StatusCode, res.Header.Get("X-Received"))
	}
}

// BenchmarkUploadPart measures the sink alone: 8 MiB parts over loopback
// HTTP (client in the same process), per ETag mode.
func BenchmarkUploadPart(b *testing.B) {
	for _, mode := range []string{"md5", "none"} {
		b.Run(mode, func(b *testing.B) {
			s, err := New(Config{ETag: mode})
			if err != nil {
				b.Fatal(err)
			}
			hs := httptest.NewServer(s)
			defer hs.Close()
			bk := ossBucket(b, hs.URL)
			imur, err := bk.InitiateMultipartUpload("k")
			if err != nil {
				b.Fatal(err)
			}
			part := make([]byte, 8<<20)
			b.SetBytes(int64(len(part)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := bk.UploadPart(imur, bytes.NewReader(part), int64(len(part)), i%10000+1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
