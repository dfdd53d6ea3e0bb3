package osstest

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash/crc64"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

const (
	testBucket = "outin-0123456789abcdef0123456789abcdef"
	// testKey has a slash, a space and a plus: the SDK escapes all three.
	testKey    = "sv/5d1a2b/clip one+2.mp4"
	testRegion = "cn-shanghai"
)

// authMode is one way of signing: V1, or V4 with a region.
type authMode struct {
	name string
	opts []oss.ClientOption
}

func authModes() []authMode {
	return []authMode{
		{name: "V1"},
		{name: "V4", opts: []oss.ClientOption{oss.AuthVersion(oss.AuthV4), oss.Region(testRegion)}},
	}
}

func newTestServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	s := NewServer(cfg)
	t.Cleanup(s.Close)
	return s
}

// stsGrant registers a one-hour grant for testBucket/testKey.
func stsGrant(s *Server, n int) Grant {
	g := Grant{
		AccessKeyID:     "STS.test" + strconv.Itoa(n),
		AccessKeySecret: "secret-" + strconv.Itoa(n),
		SecurityToken:   "CAIS-token-" + strconv.Itoa(n),
		Bucket:          testBucket,
		Key:             testKey,
		Expires:         s.now().Add(time.Hour),
	}
	s.Grant(g)
	return g
}

// bucketFor returns an SDK bucket handle for testBucket with the given credential.
func bucketFor(t *testing.T, s *Server, ak, secret, token string, opts ...oss.ClientOption) *oss.Bucket {
	t.Helper()
	all := []oss.ClientOption{oss.Timeout(5, 20)}
	if token != "" {
		all = append(all, oss.SecurityToken(token))
	}
	client, err := oss.New(s.URL(), ak, secret, append(all, opts...)...)
	if err != nil {
		t.Fatalf("oss.New: %v", err)
	}
	b, err := client.Bucket(testBucket)
	if err != nil {
		t.Fatalf("client.Bucket: %v", err)
	}
	return b
}

func grantBucket(t *testing.T, s *Server, g Grant, m authMode) *oss.Bucket {
	t.Helper()
	return bucketFor(t, s, g.AccessKeyID, g.AccessKeySecret, g.SecurityToken, m.opts...)
}

func randBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func md5Of(b []byte) []byte { s := md5.Sum(b); return s[:] }

func crcOf(b []byte) uint64 { return crc64.Checksum(b, crc64.MakeTable(crc64.ECMA)) }

// serviceError extracts the SDK's ServiceError, failing the test if err is another kind.
func serviceError(t *testing.T, err error) oss.ServiceError {
	t.Helper()
	var se oss.ServiceError
	if !errors.As(err, &se) {
		t.Fatalf("want oss.ServiceError, got %T: %v", err, err)
	}
	return se
}

func wantServiceError(t *testing.T, err error, status int, code string) oss.ServiceError {
	t.Helper()
	if err == nil {
		t.Fatalf("want %d %s, got success", status, code)
	}
	se := serviceError(t, err)
	if se.StatusCode != status || se.Code != code {
		t.Fatalf("want %d %s, got %d %s (%s)", status, code, se.StatusCode, se.Code, se.Message)
	}
	if se.RequestID == "" {
		t.Errorf("error without request id: %+v", se)
	}
	return se
}

// uploadPart uploads data as part n.
func uploadPart(b *oss.Bucket, imur oss.InitiateMultipartUploadResult, data []byte, n int, opts ...oss.Option) (oss.UploadPart, error) {
	return b.UploadPart(imur, bytes.NewReader(data), int64(len(data)), n, opts...)
}

func readAll(t *testing.T, rc io.ReadCloser, err error) []byte {
	t.Helper()
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return b
}

// rawDo sends an unsigned request straight to the server.
func rawDo(t *testing.T, method, url string, body io.Reader) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}
