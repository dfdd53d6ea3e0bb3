package osstest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

func simPost(t *testing.T, s *Server, path, body string) int {
	t.Helper()
	resp, err := http.Post(s.URL()+"/_sim/"+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func simGet(t *testing.T, s *Server, path string, v any) int {
	t.Helper()
	resp, err := http.Get(s.URL() + "/_sim/" + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("decode %s: %v", path, err)
		}
	}
	return resp.StatusCode
}

func TestSimFaultEndpoints(t *testing.T) {
	s, b, imur := faultEnv(t, Config{})
	part := randBytes(20_000, 5)
	for _, tc := range []struct {
		name, path, body string
		check            func(t *testing.T)
	}{
		{"fail", "fail", `{"op":"UploadPart","n":1,"status":503,"code":"ServiceUnavailable"}`, func(t *testing.T) {
			_, err := uploadPart(b, imur, part, 1)
			wantServiceError(t, err, 503, "ServiceUnavailable")
		}},
		{"reset", "reset", `{"op":"UploadPart","n":1,"afterBytes":100}`, func(t *testing.T) {
			if _, err := uploadPart(b, imur, part, 1); err == nil {
				t.Fatal("upload through a reset succeeded")
			}
			if c := lastCall(t, s, OpUploadPart); c.Code != "ConnectionReset" || c.Bytes != 100 {
				t.Errorf("reset call %+v", c)
			}
		}},
		{"lose", "lose", `{"op":"UploadPart","n":1}`, func(t *testing.T) {
			if _, err := uploadPart(b, imur, part, 1); err == nil {
				t.Fatal("upload with a lost response succeeded")
			}
			if u := s.Uploads(); u[0].Parts != 1 {
				t.Errorf("lost UploadPart was not performed: %+v", u)
			}
		}},
		{"crc", "crc", `{"op":"UploadPart","n":1}`, func(t *testing.T) {
			_, err := uploadPart(b, imur, part, 1)
			if !errors.As(err, new(oss.CRCCheckError)) {
				t.Fatalf("want oss.CRCCheckError, got %v", err)
			}
		}},
		{"latency", "latency", `{"ms":120}`, func(t *testing.T) {
			start := time.Now()
			_, _ = b.GetObject(testKey)
			if d := time.Since(start); d < 120*time.Millisecond {
				t.Errorf("took %v", d)
			}
			s.SetLatency(0)
		}},
		{"bandwidth", "bandwidth", `{"bytesPerSec":100000}`, func(t *testing.T) {
			start := time.Now()
			if _, err := uploadPart(b, imur, part, 2); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d < 150*time.Millisecond {
				t.Errorf("20 kB at 100 kB/s took %v", d)
			}
			s.SetBandwidth(0)
		}},
		{"expire", "expire", ``, func(t *testing.T) {
			_, err := uploadPart(b, imur, part, 1)
			wantServiceError(t, err, 403, "SecurityTokenExpired")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if st := simPost(t, s, tc.path, tc.body); st != http.StatusNoContent {
				t.Fatalf("POST /_sim/%s: %d", tc.path, st)
			}
			tc.check(t)
		})
	}
	for _, tc := range []struct{ path, body string }{
		{"fail", `{"op":"Nope","n":1}`},
		{"reset", `{"op":`},
		{"lose", `{}`},
	} {
		if st := simPost(t, s, tc.path, tc.body); st != http.StatusBadRequest {
			t.Errorf("POST /_sim/%s %s: %d, want 400", tc.path, tc.body, st)
		}
	}
	if st := simPost(t, s, "nope", ""); st != http.StatusNotFound {
		t.Errorf("POST /_sim/nope: %d", st)
	}
}

func TestSimInspection(t *testing.T) {
	s := newTestServer(t, Config{})
	g := stsGrant(s, 1)
	b := grantBucket(t, s, g, authModes()[0])
	data := randBytes(4321, 6)
	if err := b.PutObject(testKey, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	imur, err := b.InitiateMultipartUpload(testKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := uploadPart(b, imur, data, 3); err != nil {
		t.Fatal(err)
	}

	var objs []Object
	if st := simGet(t, s, "objects", &objs); st != 200 || len(objs) != 1 {
		t.Fatalf("objects: %d %+v", st, objs)
	}
	want := Object{Bucket: testBucket, Key: testKey, Size: 4321, SHA256: sha256Hex(data), CRC64: crcOf(data)}
	if objs[0] != want {
		t.Errorf("object %+v, want %+v", objs[0], want)
	}
	var one map[string]any // the JSON shape other tools read
	if st := simGet(t, s, "objects/"+testBucket+"/"+testKey, &one); st != 200 ||
		one["crc64"] != strconv.FormatUint(crcOf(data), 10) || one["sha256"] != sha256Hex(data) || one["size"] != 4321.0 {
		t.Errorf("object JSON: %d %v", st, one)
	}
	resp, err := http.Get(s.URL() + "/_sim/objects/" + testBucket + "/" + testKey + "?data=1")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(raw, data) {
		t.Errorf("?data=1 returned %d bytes", len(raw))
	}
	if st := simGet(t, s, "objects/"+testBucket+"/missing", nil); st != 404 {
		t.Errorf("missing object: %d", st)
	}
	var ups []Upload
	if st := simGet(t, s, "uploads", &ups); st != 200 || len(ups) != 1 || ups[0].UploadID != imur.UploadID || ups[0].Parts != 1 || ups[0].Bytes != 4321 {
		t.Errorf("uploads: %d %+v", st, ups)
	}
	var calls []Call
	if st := simGet(t, s, "calls", &calls); st != 200 || len(calls) != 3 {
		t.Fatalf("calls: %d %+v", st, calls)
	}
	if c := calls[2]; c.Op != OpUploadPart || c.PartNumber != 3 || c.UploadID != imur.UploadID ||
		c.AccessKeyID != g.AccessKeyID || c.Bytes != 4321 || c.Status != 200 {
		t.Errorf("upload call %+v", c)
	}
	if st := simGet(t, s, "nope", nil); st != 404 {
		t.Errorf("GET /_sim/nope: %d", st)
	}
	// The inspection API needs no signature and is not recorded as OSS calls.
	if n := len(s.Calls()); n != 3 {
		t.Errorf("calls after inspection: %d", n)
	}
}
