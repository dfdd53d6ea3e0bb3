package osstest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// faultEnv returns a server, an SDK bucket with an STS grant and an
// initiated upload.
func faultEnv(t *testing.T, cfg Config, opts ...oss.ClientOption) (*Server, *oss.Bucket, oss.InitiateMultipartUploadResult) {
	t.Helper()
	s := newTestServer(t, cfg)
	g := stsGrant(s, 1)
	b := bucketFor(t, s, g.AccessKeyID, g.AccessKeySecret, g.SecurityToken, opts...)
	imur, err := b.InitiateMultipartUpload(testKey)
	if err != nil {
		t.Fatalf("initiate: %v", err)
	}
	return s, b, imur
}

func lastCall(t *testing.T, s *Server, op Op) Call {
	t.Helper()
	calls := s.Calls()
	for i := len(calls) - 1; i >= 0; i-- {
		if calls[i].Op == op {
			return calls[i]
		}
	}
	t.Fatalf("no %s call recorded", op)
	return Call{}
}

func TestFailNext(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		code       string
		wantStatus int
		wantCode   string
	}{
		{"explicit", 503, "ServiceUnavailable", 503, "ServiceUnavailable"},
		{"defaults", 0, "", 500, "InternalError"},
		{"expiry on one call", 403, "SecurityTokenExpired", 403, "SecurityTokenExpired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, b, imur := faultEnv(t, Config{})
			s.FailNext(OpUploadPart, 2, tc.status, tc.code)
			for i := range 2 {
				_, err := uploadPart(b, imur, randBytes(50_000, 1), 1)
				wantServiceError(t, err, tc.wantStatus, tc.wantCode)
				if c := lastCall(t, s, OpUploadPart); c.Status != tc.wantStatus || c.Code != tc.wantCode || c.Bytes != 50_000 {
					t.Errorf("call %d recorded %+v", i, c)
				}
			}
			if _, err := uploadPart(b, imur, randBytes(50_000, 1), 1); err != nil {
				t.Fatalf("third upload: %v", err)
			}
			if n := s.CallCount(OpUploadPart); n != 3 {
				t.Errorf("CallCount = %d, want 3", n)
			}
			if u := s.Uploads(); u[0].Parts != 1 {
				t.Errorf("failed calls stored parts: %+v", u)
			}
		})
	}
}

func TestFailNextClear(t *testing.T) {
	s, b, _ := faultEnv(t, Config{})
	s.FailNext(OpGet, 5, 500, "")
	s.LoseNextResponse(OpGet, 5)
	s.FailNext(OpGet, 0, 0, "") // clears both
	_, err := b.GetObject(testKey)
	wantServiceError(t, err, 404, "NoSuchKey")
}

func TestResetNext(t *testing.T) {
	s, b, imur := faultEnv(t, Config{})
	s.ResetNext(OpUploadPart, 1, 64<<10)
	_, err := uploadPart(b, imur, randBytes(1<<20, 2), 1)
	if err == nil {
		t.Fatal("upload through a reset connection succeeded")
	}
	var se oss.ServiceError
	if errors.As(err, &se) {
		t.Fatalf("want a network error, got a service error %v", se)
	}
	c := lastCall(t, s, OpUploadPart)
	if c.Status != 0 || c.Code != "ConnectionReset" || c.Bytes != 64<<10 {
		t.Errorf("reset call recorded %+v", c)
	}
	if u := s.Uploads(); u[0].Parts != 0 {
		t.Errorf("reset upload stored a part: %+v", u)
	}
	// Next call is normal again.
	if _, err := uploadPart(b, imur, randBytes(1<<20, 2), 1); err != nil {
		t.Fatalf("upload after the reset: %v", err)
	}
	// A reset without a body (GET) fails the same way. net/http replays an
	// idempotent request once when a reused connection dies, so reset two.
	before := s.CallCount(OpGet)
	s.ResetNext(OpGet, 2, 0)
	if _, err := b.GetObject(testKey); err == nil || errors.As(err, &se) {
		t.Fatalf("GET through a reset: %v", err)
	}
	if n := s.CallCount(OpGet) - before; n != 2 {
		t.Errorf("GET attempts %d, want 2 (one transparent replay)", n)
	}
}

// TestLoseNextResponse: Complete is performed but its answer is lost; the
// retry gets NoSuchUpload and HEAD shows the object.
func TestLoseNextResponse(t *testing.T) {
	s, b, imur := faultEnv(t, Config{})
	data := randBytes(1234, 3)
	p, err := uploadPart(b, imur, data, 1)
	if err != nil {
		t.Fatal(err)
	}
	s.LoseNextResponse(OpComplete, 1)
	if _, err := b.CompleteMultipartUpload(imur, []oss.UploadPart{p}); err == nil {
		t.Fatal("complete with a lost response succeeded")
	}
	if c := lastCall(t, s, OpComplete); c.Status != 200 || c.Code != "ResponseLost" {
		t.Errorf("lost call recorded %+v", c)
	}
	if _, ok := s.Object(testBucket, testKey); !ok {
		t.Fatal("lost Complete was not performed")
	}
	_, err = b.CompleteMultipartUpload(imur, []oss.UploadPart{p})
	wantServiceError(t, err, 404, "NoSuchUpload")
	if ok, err := b.IsObjectExist(testKey); !ok || err != nil {
		t.Fatalf("HEAD after lost complete: %v %v", ok, err)
	}
}

func TestSetLatency(t *testing.T) {
	s, b, _ := faultEnv(t, Config{}, oss.Timeout(5, 1))
	s.SetLatency(150 * time.Millisecond)
	start := time.Now()
	_, err := b.GetObject(testKey)
	wantServiceError(t, err, 404, "NoSuchKey")
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("request took %v with 150ms latency", d)
	}
	// Longer than the SDK's 1s read timeout: the client gives up.
	s.SetLatency(1300 * time.Millisecond)
	if _, err := b.GetObject(testKey); err == nil || errors.As(err, new(oss.ServiceError)) {
		t.Fatalf("want a timeout, got %v", err)
	}
	s.SetLatency(0)
	start = time.Now()
	_, _ = b.GetObject(testKey)
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("request took %v after latency was cleared", d)
	}
}

func TestSetBandwidth(t *testing.T) {
	s, b, _ := faultEnv(t, Config{})
	data := randBytes(300_000, 4)
	s.SetBandwidth(1_000_000)
	start := time.Now()
	if err := b.PutObject(testKey, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("300 kB upload at 1 MB/s took %v", d)
	}
	start = time.Now()
	rc, err := b.GetObject(testKey)
	if got := readAll(t, rc, err); !bytes.Equal(got, data) {
		t.Fatal("throttled GET returned other bytes")
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("300 kB download at 1 MB/s took %v", d)
	}
	s.SetBandwidth(0)
	start = time.Now()
	if err := b.PutObject(testKey, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("unthrottled upload took %v", d)
	}
}

func TestCorruptNextCRC(t *testing.T) {
	s, b, imur := faultEnv(t, Config{})
	s.CorruptNextCRC(OpUploadPart, 1)
	_, err := uploadPart(b, imur, randBytes(10_000, 8), 1)
	var ce oss.CRCCheckError
	if !errors.As(err, &ce) {
		t.Fatalf("want oss.CRCCheckError, got %T %v", err, err)
	}
	if u := s.Uploads(); u[0].Parts != 1 {
		t.Errorf("the part was not stored: %+v", u)
	}
	if _, err := uploadPart(b, imur, randBytes(10_000, 8), 1); err != nil {
		t.Fatalf("next upload: %v", err)
	}
	s.CorruptNextCRC(OpPut, 1)
	if err := b.PutObject(testKey, bytes.NewReader([]byte("abc"))); !errors.As(err, &ce) {
		t.Fatalf("put: want oss.CRCCheckError, got %v", err)
	}
}
