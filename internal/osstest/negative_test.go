package osstest

import (
	"bytes"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// negEnv is the state a negative case starts from: a server, a grant for
// testBucket/testKey, an SDK bucket signed with it and an initiated upload.
type negEnv struct {
	s    *Server
	g    Grant
	m    authMode
	b    *oss.Bucket
	imur oss.InitiateMultipartUploadResult
}

// completeRaw sends a Complete body as given (the SDK sorts parts, so this
// is the only way to send them out of order), signed by the SDK.
func (e *negEnv) completeRaw(body string) error {
	resp, err := e.b.Client.Conn.Do("POST", testBucket, testKey, map[string]any{"uploadId": e.imur.UploadID},
		nil, strings.NewReader(body), 0, nil)
	if resp != nil {
		resp.Body.Close()
	}
	return err
}

func TestNegativeSDK(t *testing.T) {
	small := randBytes(1000, 1)
	cases := []struct {
		name   string
		cfg    Config
		skew   time.Duration // server clock offset applied after setup
		run    func(t *testing.T, e *negEnv) error
		status int
		code   string
		body   string // a substring the error XML must contain
	}{
		{name: "wrong secret", status: 403, code: "SignatureDoesNotMatch", body: "<StringToSign>",
			run: func(t *testing.T, e *negEnv) error {
				b := bucketFor(t, e.s, e.g.AccessKeyID, "not-the-secret", e.g.SecurityToken, e.m.opts...)
				_, err := uploadPart(b, e.imur, small, 1)
				return err
			}},
		{name: "missing token", status: 403, code: "InvalidAccessKeyId", body: "Security Token may be lost",
			run: func(t *testing.T, e *negEnv) error {
				b := bucketFor(t, e.s, e.g.AccessKeyID, e.g.AccessKeySecret, "", e.m.opts...)
				_, err := uploadPart(b, e.imur, small, 1)
				return err
			}},
		{name: "token of another access key", status: 403, code: "AccessKeyIdAndSecurityTokenNotMatch",
			run: func(t *testing.T, e *negEnv) error {
				other := stsGrant(e.s, 2)
				b := bucketFor(t, e.s, e.g.AccessKeyID, e.g.AccessKeySecret, other.SecurityToken, e.m.opts...)
				_, err := uploadPart(b, e.imur, small, 1)
				return err
			}},
		{name: "unknown token", status: 403, code: "InvalidSecurityToken",
			run: func(t *testing.T, e *negEnv) error {
				b := bucketFor(t, e.s, e.g.AccessKeyID, e.g.AccessKeySecret, "CAIS-forged", e.m.opts...)
				_, err := uploadPart(b, e.imur, small, 1)
				return err
			}},
		{name: "unknown access key", status: 403, code: "InvalidAccessKeyId",
			run: func(t *testing.T, e *negEnv) error {
				b := bucketFor(t, e.s, "LTAI-nobody", "x", "", e.m.opts...)
				_, err := b.GetObject(testKey)
				return err
			}},
		{name: "revoked grant", status: 403, code: "InvalidAccessKeyId",
			run: func(t *testing.T, e *negEnv) error {
				e.s.RevokeGrant(e.g.AccessKeyID)
				_, err := uploadPart(e.b, e.imur, small, 1)
				return err
			}},
		{name: "long-lived key sent with a token", status: 403, code: "InvalidAccessKeyId",
			run: func(t *testing.T, e *negEnv) error {
				e.s.AddAccessKey("LTAI-main", "main-secret")
				b := bucketFor(t, e.s, "LTAI-main", "main-secret", "CAIS-x", e.m.opts...)
				_, err := b.GetObject(testKey)
				return err
			}},
		{name: "key outside scope", status: 403, code: "AccessDenied",
			run: func(t *testing.T, e *negEnv) error {
				return e.b.PutObject("sv/other.mp4", bytes.NewReader(small))
			}},
		{name: "bucket outside scope", status: 403, code: "AccessDenied",
			run: func(t *testing.T, e *negEnv) error {
				other, err := e.b.Client.Bucket("outin-ffffffffffffffffffffffffffffffff")
				if err != nil {
					t.Fatal(err)
				}
				return other.PutObject(testKey, bytes.NewReader(small))
			}},
		{name: "expired credential", status: 403, code: "SecurityTokenExpired", body: "<SecurityToken>",
			run: func(t *testing.T, e *negEnv) error {
				e.s.ExpireAll()
				_, err := uploadPart(e.b, e.imur, small, 1)
				return err
			}},
		{name: "undersized non-last part", cfg: Config{MinPartSize: 2000}, status: 400, code: "EntityTooSmall", body: "<MinSizeAllowed>2000<",
			run: func(t *testing.T, e *negEnv) error {
				p1, err1 := uploadPart(e.b, e.imur, small, 1)
				p2, err2 := uploadPart(e.b, e.imur, small, 2)
				if err1 != nil || err2 != nil {
					t.Fatalf("upload: %v %v", err1, err2)
				}
				_, err := e.b.CompleteMultipartUpload(e.imur, []oss.UploadPart{p1, p2})
				return err
			}},
		{name: "wrong ETag at complete", status: 400, code: "InvalidPart",
			run: func(t *testing.T, e *negEnv) error {
				p1, err := uploadPart(e.b, e.imur, small, 1)
				if err != nil {
					t.Fatal(err)
				}
				p1.ETag = `"0123456789ABCDEF0123456789ABCDEF"`
				_, err = e.b.CompleteMultipartUpload(e.imur, []oss.UploadPart{p1})
				return err
			}},
		{name: "missing part at complete", status: 400, code: "InvalidPart",
			run: func(t *testing.T, e *negEnv) error {
				p1, err := uploadPart(e.b, e.imur, small, 1)
				if err != nil {
					t.Fatal(err)
				}
				_, err = e.b.CompleteMultipartUpload(e.imur, []oss.UploadPart{p1, {PartNumber: 2, ETag: p1.ETag}})
				return err
			}},
		{name: "parts out of order", cfg: Config{MinPartSize: 1}, status: 400, code: "InvalidPartOrder",
			run: func(t *testing.T, e *negEnv) error {
				p1, err1 := uploadPart(e.b, e.imur, small, 1)
				p2, err2 := uploadPart(e.b, e.imur, small, 2)
				if err1 != nil || err2 != nil {
					t.Fatalf("upload: %v %v", err1, err2)
				}
				return e.completeRaw("<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>" + p2.ETag +
					"</ETag></Part><Part><PartNumber>1</PartNumber><ETag>" + p1.ETag + "</ETag></Part></CompleteMultipartUpload>")
			}},
		{name: "complete-all with a part list", status: 400, code: "InvalidArgument",
			run: func(t *testing.T, e *negEnv) error {
				p1, err := uploadPart(e.b, e.imur, small, 1)
				if err != nil {
					t.Fatal(err)
				}
				_, err = e.b.CompleteMultipartUpload(e.imur, []oss.UploadPart{p1}, oss.SetHeader("x-oss-complete-all", "yes"))
				return err
			}},
		{name: "malformed complete body", status: 400, code: "MalformedXML",
			run: func(t *testing.T, e *negEnv) error { return e.completeRaw("<nope") }},
		{name: "unknown upload id: upload part", status: 404, code: "NoSuchUpload", body: "<UploadId>0000",
			run: func(t *testing.T, e *negEnv) error {
				e.imur.UploadID = strings.Repeat("0", 32)
				_, err := uploadPart(e.b, e.imur, small, 1)
				return err
			}},
		{name: "unknown upload id: complete", status: 404, code: "NoSuchUpload",
			run: func(t *testing.T, e *negEnv) error {
				p1, err := uploadPart(e.b, e.imur, small, 1)
				if err != nil {
					t.Fatal(err)
				}
				e.imur.UploadID = strings.Repeat("A", 32)
				_, err = e.b.CompleteMultipartUpload(e.imur, []oss.UploadPart{p1})
				return err
			}},
		{name: "part number 0", status: 400, code: "InvalidArgument", body: "between 1 and 10000",
			run: func(t *testing.T, e *negEnv) error { _, err := uploadPart(e.b, e.imur, small, 0); return err }},
		{name: "part number 10001", status: 400, code: "InvalidArgument", body: "between 1 and 10000",
			run: func(t *testing.T, e *negEnv) error { _, err := uploadPart(e.b, e.imur, small, 10001); return err }},
		{name: "Date 20 minutes behind the server", skew: 20 * time.Minute, status: 403, code: "RequestTimeTooSkewed",
			run: func(t *testing.T, e *negEnv) error { _, err := uploadPart(e.b, e.imur, small, 1); return err }},
		{name: "Date 20 minutes ahead of the server", skew: -20 * time.Minute, status: 403, code: "RequestTimeTooSkewed",
			run: func(t *testing.T, e *negEnv) error { _, err := e.b.GetObject(testKey); return err }},
		{name: "get missing object", status: 404, code: "NoSuchKey",
			run: func(t *testing.T, e *negEnv) error { _, err := e.b.GetObject(testKey); return err }},
	}
	for _, m := range authModes() {
		for _, tc := range cases {
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				clock := &testClock{}
				tc.cfg.Clock = clock.Now
				s := newTestServer(t, tc.cfg)
				e := &negEnv{s: s, g: stsGrant(s, 1), m: m}
				e.b = grantBucket(t, s, e.g, m)
				var err error
				if e.imur, err = e.b.InitiateMultipartUpload(testKey); err != nil {
					t.Fatalf("initiate: %v", err)
				}
				clock.Set(tc.skew)
				se := wantServiceError(t, tc.run(t, e), tc.status, tc.code)
				if tc.body != "" && !strings.Contains(se.RawMessage, tc.body) {
					t.Errorf("error body lacks %q:\n%s", tc.body, se.RawMessage)
				}
				calls := s.Calls()
				if last := calls[len(calls)-1]; last.Status != tc.status || last.Code != tc.code {
					t.Errorf("last call recorded %d %s", last.Status, last.Code)
				}
			})
		}
	}
}

// testClock is an injectable Clock: real time plus an adjustable offset.
type testClock struct{ off atomic.Int64 }

func (c *testClock) Now() time.Time        { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *testClock) Set(off time.Duration) { c.off.Store(int64(off)) }

// TestRefreshKeepsUploadID: a credential expires mid-upload; a refreshed
// grant (new AK and token, same scope) continues the same upload id.
func TestRefreshKeepsUploadID(t *testing.T) {
	for _, m := range authModes() {
		t.Run(m.name, func(t *testing.T) {
			s := newTestServer(t, Config{MinPartSize: 1000})
			b1 := grantBucket(t, s, stsGrant(s, 1), m)
			imur, err := b1.InitiateMultipartUpload(testKey)
			if err != nil {
				t.Fatal(err)
			}
			d1, d2 := randBytes(1500, 1), randBytes(700, 2)
			p1, err := uploadPart(b1, imur, d1, 1)
			if err != nil {
				t.Fatal(err)
			}
			s.ExpireAll()
			_, err = uploadPart(b1, imur, d2, 2)
			wantServiceError(t, err, 403, "SecurityTokenExpired")

			b2 := grantBucket(t, s, stsGrant(s, 2), m) // the refresh
			p2, err := uploadPart(b2, imur, d2, 2)
			if err != nil {
				t.Fatalf("upload with the refreshed credential: %v", err)
			}
			parts, err := b2.ListUploadedParts(imur)
			if err != nil || len(parts.UploadedParts) != 2 {
				t.Fatalf("list after refresh: %+v %v", parts, err)
			}
			if _, err := b2.CompleteMultipartUpload(imur, []oss.UploadPart{p1, p2}); err != nil {
				t.Fatalf("complete after refresh: %v", err)
			}
			checkObject(t, s, b2, append(d1, d2...), 2)
		})
	}
}

func TestV4WrongRegion(t *testing.T) {
	s := newTestServer(t, Config{})
	g := stsGrant(s, 1)
	b := bucketFor(t, s, g.AccessKeyID, g.AccessKeySecret, g.SecurityToken, oss.AuthVersion(oss.AuthV4), oss.Region("cn-beijing"))
	_, err := b.GetObject(testKey)
	wantServiceError(t, err, 400, "InvalidArgument")
}

func TestAnonymousAndHeadErrors(t *testing.T) {
	s := newTestServer(t, Config{})
	resp := rawDo(t, "GET", s.URL()+"/"+testBucket+"/"+testKey, nil)
	if resp.StatusCode != 403 || resp.Header.Get("Content-Type") != "application/xml" {
		t.Errorf("anonymous GET: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp = rawDo(t, "HEAD", s.URL()+"/"+testBucket+"/"+testKey, nil)
	if resp.StatusCode != 403 || resp.Header.Get("x-oss-err") == "" || resp.Header.Get("x-oss-request-id") == "" {
		t.Errorf("anonymous HEAD: %d %v", resp.StatusCode, resp.Header)
	}
	resp = rawDo(t, "GET", s.URL()+"/"+testBucket+"/"+testKey+"?acl", nil)
	if resp.StatusCode != 501 {
		t.Errorf("GET ?acl: %d, want 501", resp.StatusCode)
	}
}
