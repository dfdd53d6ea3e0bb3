package osstest

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// TestMultipartSDK drives the official SDK through a whole multipart upload
// with an STS grant, signed with V1 and V4.
func TestMultipartSDK(t *testing.T) {
	for _, m := range authModes() {
		t.Run(m.name, func(t *testing.T) {
			s := newTestServer(t, Config{})
			var mu sync.Mutex
			var hooks []string
			s.OnComplete(func(bucket, key string, size int64) {
				mu.Lock()
				defer mu.Unlock()
				hooks = append(hooks, bucket+"/"+key+":"+strconv.FormatInt(size, 10))
			})
			b := grantBucket(t, s, stsGrant(s, 1), m)

			imur, err := b.InitiateMultipartUpload(testKey)
			if err != nil {
				t.Fatalf("initiate: %v", err)
			}
			if imur.Key != testKey || imur.Bucket != testBucket || len(imur.UploadID) != 32 {
				t.Fatalf("initiate result %+v", imur)
			}
			sizes := []int{DefaultMinPartSize, 150_000, 130_000, 12_345}
			data := make([][]byte, len(sizes))
			for i, n := range sizes {
				data[i] = randBytes(n, uint64(i+1))
			}
			var parts []oss.UploadPart
			for _, i := range []int{3, 0, 2, 1} { // any order
				p, err := uploadPart(b, imur, data[i], i+1)
				if err != nil {
					t.Fatalf("upload part %d: %v", i+1, err)
				}
				parts = append(parts, p)
			}
			// Re-upload part 2 with other bytes: last write wins.
			data[1] = randBytes(sizes[1], 99)
			p2, err := uploadPart(b, imur, data[1], 2)
			if err != nil {
				t.Fatalf("re-upload part 2: %v", err)
			}
			parts = slices.DeleteFunc(parts, func(p oss.UploadPart) bool { return p.PartNumber == 2 })
			parts = append(parts, p2)

			listed := listAllParts(t, b, imur, 1)
			if len(listed) != len(sizes) {
				t.Fatalf("listed %d parts, want %d", len(listed), len(sizes))
			}
			for i, lp := range listed {
				if lp.PartNumber != i+1 || lp.Size != sizes[i] || lp.LastModified.IsZero() {
					t.Errorf("listed part %d: %+v", i+1, lp)
				}
				if want := quoteETag(md5Of(data[i])); lp.ETag != want {
					t.Errorf("part %d etag %s, want %s", i+1, lp.ETag, want)
				}
			}

			var hdr http.Header
			res, err := b.CompleteMultipartUpload(imur, parts, oss.GetResponseHeader(&hdr))
			if err != nil {
				t.Fatalf("complete: %v", err)
			}
			whole := bytes.Join(data, nil)
			if res.Key != testKey || res.Bucket != testBucket || res.ETag == "" {
				t.Errorf("complete result %+v", res)
			}
			if got := hdr.Get("x-oss-hash-crc64ecma"); got != strconv.FormatUint(crcOf(whole), 10) {
				t.Errorf("complete crc %s, want %d", got, crcOf(whole))
			}
			checkObject(t, s, b, whole, len(sizes))
			if got := s.Uploads(); len(got) != 0 {
				t.Errorf("uploads after complete: %+v", got)
			}
			if _, err := b.ListUploadedParts(imur); err == nil {
				t.Error("list parts after complete succeeded")
			} else {
				se := wantServiceError(t, err, 404, "NoSuchUpload")
				if !bytes.Contains([]byte(se.RawMessage), []byte("<UploadId>"+imur.UploadID+"</UploadId>")) {
					t.Errorf("NoSuchUpload body lacks UploadId: %s", se.RawMessage)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if want := testBucket + "/" + testKey + ":" + strconv.Itoa(len(whole)); len(hooks) != 1 || hooks[0] != want {
				t.Errorf("OnComplete calls %v, want [%s]", hooks, want)
			}
		})
	}
}

// listAllParts pages through ListParts with max-parts = page.
func listAllParts(t *testing.T, b *oss.Bucket, imur oss.InitiateMultipartUploadResult, page int) []oss.UploadedPart {
	t.Helper()
	var out []oss.UploadedPart
	marker := 0
	for range 100 {
		res, err := b.ListUploadedParts(imur, oss.MaxParts(page), oss.PartNumberMarker(marker))
		if err != nil {
			t.Fatalf("list parts: %v", err)
		}
		if res.Key != testKey || res.UploadID != imur.UploadID || res.MaxParts != page {
			t.Fatalf("list result header %+v", res)
		}
		if len(res.UploadedParts) > page {
			t.Fatalf("got %d parts with max-parts %d", len(res.UploadedParts), page)
		}
		out = append(out, res.UploadedParts...)
		if !res.IsTruncated {
			return out
		}
		marker, _ = strconv.Atoi(res.NextPartNumberMarker)
	}
	t.Fatal("list parts never finished")
	return nil
}

// checkObject verifies the stored object through the SDK (GET, ranged GET,
// HEAD) and through the inspection API.
func checkObject(t *testing.T, s *Server, b *oss.Bucket, want []byte, parts int) {
	t.Helper()
	o, ok := s.Object(testBucket, testKey)
	if !ok {
		t.Fatal("object missing")
	}
	if o.Size != int64(len(want)) || o.SHA256 != sha256Hex(want) || o.CRC64 != crcOf(want) || o.Parts != parts {
		t.Errorf("object %+v, want size %d sha %s crc %d parts %d", o, len(want), sha256Hex(want), crcOf(want), parts)
	}
	rc, err := b.GetObject(testKey)
	if got := readAll(t, rc, err); !bytes.Equal(got, want) {
		t.Errorf("GET returned %d bytes (sha %s), want %d (sha %s)", len(got), sha256Hex(got), len(want), sha256Hex(want))
	}
	start := int64(len(want) / 3)
	end := min(start+DefaultMinPartSize+10, int64(len(want)-1)) // crosses a part boundary
	rc, err = b.GetObject(testKey, oss.Range(start, end))
	if got := readAll(t, rc, err); !bytes.Equal(got, want[start:end+1]) {
		t.Errorf("ranged GET returned %d bytes, want %d", len(got), end-start+1)
	}
	h, err := b.GetObjectDetailedMeta(testKey)
	if err != nil {
		t.Fatalf("head: %v", err)
	}
	if h.Get("Content-Length") != strconv.Itoa(len(want)) || h.Get("x-oss-hash-crc64ecma") != strconv.FormatUint(crcOf(want), 10) {
		t.Errorf("head headers %v", h)
	}
	if h.Get("x-oss-request-id") == "" || h.Get("Server") != "AliyunOSS" {
		t.Errorf("head lacks common headers: %v", h)
	}
	if _, err := b.GetObjectMeta(testKey); err != nil {
		t.Errorf("GetObjectMeta (?objectMeta): %v", err)
	}
	data, err := s.ReadObject(testBucket, testKey)
	if err != nil || !bytes.Equal(data, want) {
		t.Errorf("ReadObject: %d bytes, err %v", len(data), err)
	}
}

func TestAbortSDK(t *testing.T) {
	for _, m := range authModes() {
		t.Run(m.name, func(t *testing.T) {
			s := newTestServer(t, Config{})
			b := grantBucket(t, s, stsGrant(s, 1), m)
			imur, err := b.InitiateMultipartUpload(testKey)
			if err != nil {
				t.Fatalf("initiate: %v", err)
			}
			if _, err := uploadPart(b, imur, randBytes(1000, 1), 1); err != nil {
				t.Fatalf("upload part: %v", err)
			}
			if u := s.Uploads(); len(u) != 1 || u[0].Parts != 1 || u[0].Bytes != 1000 || u[0].UploadID != imur.UploadID {
				t.Fatalf("uploads %+v", u)
			}
			if err := b.AbortMultipartUpload(imur); err != nil {
				t.Fatalf("abort: %v", err)
			}
			if u := s.Uploads(); len(u) != 0 {
				t.Fatalf("uploads after abort %+v", u)
			}
			wantServiceError(t, b.AbortMultipartUpload(imur), 404, "NoSuchUpload")
			_, err = uploadPart(b, imur, []byte("x"), 2)
			wantServiceError(t, err, 404, "NoSuchUpload")
		})
	}
}

func TestPutGetDeleteSDK(t *testing.T) {
	for _, m := range authModes() {
		t.Run(m.name, func(t *testing.T) {
			s := newTestServer(t, Config{})
			b := grantBucket(t, s, stsGrant(s, 1), m)
			data := randBytes(300_000, 7)
			var hdr http.Header
			if err := b.PutObject(testKey, bytes.NewReader(data), oss.Meta("origin", "test"), oss.GetResponseHeader(&hdr)); err != nil {
				t.Fatalf("put: %v", err)
			}
			if hdr.Get("ETag") != quoteETag(md5Of(data)) {
				t.Errorf("put etag %s", hdr.Get("ETag"))
			}
			checkObject(t, s, b, data, 0)
			h, err := b.GetObjectDetailedMeta(testKey)
			if err != nil || h.Get("x-oss-meta-origin") != "test" || h.Get("Content-Type") != "video/mp4" {
				t.Errorf("head meta %v err %v", h, err)
			}
			if err := b.DeleteObject(testKey); err != nil {
				t.Fatalf("delete: %v", err)
			}
			_, err = b.GetObject(testKey)
			wantServiceError(t, err, 404, "NoSuchKey")
			_, err = b.GetObjectDetailedMeta(testKey) // HEAD: the error comes from x-oss-err
			wantServiceError(t, err, 404, "NoSuchKey")
			if err := b.DeleteObject(testKey); err != nil {
				t.Errorf("delete of a missing key: %v", err)
			}
		})
	}
}

func TestCompleteAll(t *testing.T) {
	s := newTestServer(t, Config{MinPartSize: 10})
	b := grantBucket(t, s, stsGrant(s, 1), authModes()[1])
	imur, err := b.InitiateMultipartUpload(testKey)
	if err != nil {
		t.Fatal(err)
	}
	p1, p2 := randBytes(20, 1), randBytes(5, 2)
	for i, d := range [][]byte{p1, p2} {
		if _, err := uploadPart(b, imur, d, i+1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.CompleteMultipartUpload(imur, nil, oss.SetHeader("x-oss-complete-all", "yes")); err != nil {
		t.Fatalf("complete-all: %v", err)
	}
	checkObject(t, s, b, append(p1, p2...), 2)
}

func TestForbidOverwrite(t *testing.T) {
	s := newTestServer(t, Config{})
	b := grantBucket(t, s, stsGrant(s, 1), authModes()[0])
	if err := b.PutObject(testKey, bytes.NewReader([]byte("one")), oss.ForbidOverWrite(true)); err != nil {
		t.Fatal(err)
	}
	err := b.PutObject(testKey, bytes.NewReader([]byte("two")), oss.ForbidOverWrite(true))
	wantServiceError(t, err, 409, "FileAlreadyExists")
}

func TestContentMD5(t *testing.T) {
	s := newTestServer(t, Config{})
	g := stsGrant(s, 1)
	b := bucketFor(t, s, g.AccessKeyID, g.AccessKeySecret, g.SecurityToken, oss.EnableMD5(true))
	imur, err := b.InitiateMultipartUpload(testKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := uploadPart(b, imur, []byte("hello"), 1); err != nil {
		t.Fatalf("upload with a correct Content-MD5: %v", err)
	}
	_, err = uploadPart(b, imur, []byte("hello"), 2, oss.ContentMD5("AAAAAAAAAAAAAAAAAAAAAA=="))
	wantServiceError(t, err, 400, "InvalidDigest")
}

// TestOddKeys: keys the SDK must escape survive the round trip (the key comes
// from the decoded path; V1 signs it raw, V4 escaped with '/' kept).
func TestOddKeys(t *testing.T) {
	keys := []string{"a//b/../c", "q?x=1&y=2#frag", "pct%2F%zz", "spaces  and+plus", "视频/文件.mp4", "tilde~star*(paren)!"}
	for _, m := range authModes() {
		for _, key := range keys {
			t.Run(m.name+"/"+key, func(t *testing.T) {
				s := newTestServer(t, Config{})
				g := Grant{AccessKeyID: "STS.odd", AccessKeySecret: "s", SecurityToken: "t", Bucket: testBucket, Key: key}
				s.Grant(g)
				b := grantBucket(t, s, g, m)
				data := randBytes(777, 1)
				if err := b.PutObject(key, bytes.NewReader(data)); err != nil {
					t.Fatalf("put: %v", err)
				}
				rc, err := b.GetObject(key)
				if got := readAll(t, rc, err); !bytes.Equal(got, data) {
					t.Fatal("GET returned other bytes")
				}
				imur, err := b.InitiateMultipartUpload(key)
				if err != nil {
					t.Fatalf("initiate: %v", err)
				}
				if _, err := uploadPart(b, imur, data, 1); err != nil {
					t.Fatalf("upload part: %v", err)
				}
				res, err := b.ListUploadedParts(imur)
				if err != nil || res.Key != key || len(res.UploadedParts) != 1 {
					t.Fatalf("list parts: key %q, %v", res.Key, err)
				}
				if _, ok := s.Object(testBucket, key); !ok {
					t.Fatalf("stored under another key: %+v", s.Objects())
				}
			})
		}
	}
}
