package vodtest

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alibabacloud-go/tea/tea"
	vod "github.com/alibabacloud-go/vod-20170321/v4/client"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// ossBucket opens the UploadAddress bucket with the UploadAuth credential, as a client uploader does.
func ossBucket(t *testing.T, addr decodedAddress, auth decodedAuth, v4 bool) *oss.Bucket {
	t.Helper()
	opts := []oss.ClientOption{oss.SecurityToken(auth.SecurityToken), oss.Timeout(5, 10)}
	if v4 {
		opts = append(opts, oss.AuthVersion(oss.AuthV4), oss.Region(auth.Region))
	}
	c, err := oss.New(addr.Endpoint, auth.AccessKeyId, auth.AccessKeySecret, opts...)
	if err != nil {
		t.Fatalf("oss.New: %v", err)
	}
	b, err := c.Bucket(addr.Bucket)
	if err != nil {
		t.Fatalf("Bucket: %v", err)
	}
	return b
}

func ossCode(err error) string {
	var se oss.ServiceError
	if errors.As(err, &se) {
		return se.Code
	}
	return ""
}

// TestMultipartUploadAcrossRefresh is the full client-upload flow: CreateUploadVideo with an STS
// caller, upload part 1 with the issued credential, let it expire, RefreshUploadVideo, continue the
// same uploadId with the new credential, complete, and see the video become UploadSucc.
func TestMultipartUploadAcrossRefresh(t *testing.T) {
	for _, tc := range []struct {
		name string
		v4   bool
	}{{"oss-v1", false}, {"oss-v4", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.CredentialTTL = 2 * time.Minute })
			c := e.client(t, stsAK, stsSK, stsToken)
			created := createVideo(t, c, "multipart", "big movie.mp4")
			id := tea.StringValue(created.VideoId)
			addr, auth := decodeTarget(t, created.UploadAddress, created.UploadAuth)
			bucket := ossBucket(t, addr, auth, tc.v4)

			part1 := bytes.Repeat([]byte("a"), 2048)
			part2 := bytes.Repeat([]byte("b"), 1000)
			imur, err := bucket.InitiateMultipartUpload(addr.FileName)
			if err != nil {
				t.Fatalf("InitiateMultipartUpload: %v", err)
			}
			p1, err := bucket.UploadPart(imur, bytes.NewReader(part1), int64(len(part1)), 1)
			if err != nil {
				t.Fatalf("UploadPart 1: %v", err)
			}
			// The credential is scoped to exactly this key.
			if err := bucket.PutObject(addr.FileName+".other", strings.NewReader("x")); ossCode(err) != "AccessDenied" {
				t.Errorf("PutObject outside the grant: %v, want AccessDenied", err)
			}

			details, err := c.GetUploadDetails(&vod.GetUploadDetailsRequest{MediaIds: tea.String(id)})
			if err != nil {
				t.Fatalf("GetUploadDetails: %v", err)
			}
			if d := details.Body.UploadDetails; len(d) != 1 || tea.Int64Value(d[0].UploadSize) != int64(len(part1)) ||
				tea.StringValue(d[0].Status) != StatusUploading {
				t.Errorf("UploadDetails %s", tea.Prettify(d))
			}

			e.clock.Advance(3 * time.Minute) // the first credential has expired
			_, err = bucket.UploadPart(imur, bytes.NewReader(part2), int64(len(part2)), 2)
			if ossCode(err) != "SecurityTokenExpired" {
				t.Fatalf("UploadPart with the expired credential: %v, want SecurityTokenExpired", err)
			}

			refreshed, err := c.RefreshUploadVideo(&vod.RefreshUploadVideoRequest{VideoId: tea.String(id)})
			if err != nil {
				t.Fatalf("RefreshUploadVideo: %v", err)
			}
			addr2, auth2 := decodeTarget(t, refreshed.Body.UploadAddress, refreshed.Body.UploadAuth)
			if addr2 != addr {
				t.Fatalf("refreshed address %+v != %+v", addr2, addr)
			}
			bucket2 := ossBucket(t, addr2, auth2, tc.v4)
			p2, err := bucket2.UploadPart(imur, bytes.NewReader(part2), int64(len(part2)), 2)
			if err != nil {
				t.Fatalf("UploadPart 2 with the refreshed credential: %v", err)
			}
			if _, err := bucket2.CompleteMultipartUpload(imur, []oss.UploadPart{p1, p2}); err != nil {
				t.Fatalf("CompleteMultipartUpload: %v", err)
			}

			info, err := c.GetVideoInfo(&vod.GetVideoInfoRequest{VideoId: tea.String(id)})
			if err != nil {
				t.Fatalf("GetVideoInfo: %v", err)
			}
			total := int64(len(part1) + len(part2))
			if v := info.Body.Video; tea.StringValue(v.Status) != StatusUploadSucc || tea.Int64Value(v.Size) != total {
				t.Errorf("video %s, want UploadSucc size %d", tea.Prettify(v), total)
			}
			mezz, err := c.GetMezzanineInfo(&vod.GetMezzanineInfoRequest{VideoId: tea.String(id)})
			if err != nil || tea.Int64Value(mezz.Body.Mezzanine.Size) != total {
				t.Errorf("GetMezzanineInfo = %v, %v", mezz, err)
			}
			if obj, ok := e.oss.Object(addr.Bucket, addr.FileName); !ok || obj.Size != total {
				t.Errorf("OSS object %+v %v", obj, ok)
			}
		})
	}
}

func TestDeleteMultipartUploadAbortsParts(t *testing.T) {
	e := newEnv(t, nil)
	c := e.static(t)
	created := createVideo(t, c, "abort", "a.mkv")
	addr, auth := decodeTarget(t, created.UploadAddress, created.UploadAuth)
	bucket := ossBucket(t, addr, auth, false)
	imur, err := bucket.InitiateMultipartUpload(addr.FileName)
	if err != nil {
		t.Fatalf("InitiateMultipartUpload: %v", err)
	}
	if _, err := bucket.UploadPart(imur, strings.NewReader("part"), 4, 1); err != nil {
		t.Fatalf("UploadPart: %v", err)
	}
	if _, err := c.DeleteMultipartUpload(&vod.DeleteMultipartUploadRequest{MediaId: created.VideoId, MediaType: tea.String("video")}); err != nil {
		t.Fatalf("DeleteMultipartUpload: %v", err)
	}
	if ups := e.oss.Uploads(); len(ups) != 0 {
		t.Errorf("uploads left: %+v", ups)
	}
	if _, err := bucket.UploadPart(imur, strings.NewReader("part"), 4, 2); ossCode(err) != "NoSuchUpload" {
		t.Errorf("UploadPart after DeleteMultipartUpload: %v, want NoSuchUpload", err)
	}
}

func TestSweepLeftoverParts(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.LeftoverPartsTTL = time.Hour })
	created := createVideo(t, e.static(t), "old", "o.mp4")
	addr, auth := decodeTarget(t, created.UploadAddress, created.UploadAuth)
	if _, err := ossBucket(t, addr, auth, false).InitiateMultipartUpload(addr.FileName); err != nil {
		t.Fatal(err)
	}
	if n := e.vod.SweepLeftoverParts(); n != 0 {
		t.Fatalf("swept %d fresh uploads", n)
	}
	e.clock.Advance(61 * time.Minute)
	if n := e.vod.SweepLeftoverParts(); n != 1 || len(e.oss.Uploads()) != 0 {
		t.Fatalf("swept %d, uploads left %d", n, len(e.oss.Uploads()))
	}
}

func TestImageUploadBecomesNormal(t *testing.T) {
	e := newEnv(t, nil)
	c := e.static(t)
	resp, err := c.CreateUploadImage(&vod.CreateUploadImageRequest{ImageType: tea.String("cover"), ImageExt: tea.String("gif")})
	if err != nil {
		t.Fatal(err)
	}
	addr, auth := decodeTarget(t, resp.Body.UploadAddress, resp.Body.UploadAuth)
	if err := ossBucket(t, addr, auth, true).PutObject(addr.FileName, strings.NewReader("GIF89a")); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	info, err := c.GetImageInfo(&vod.GetImageInfoRequest{ImageId: resp.Body.ImageId})
	if err != nil {
		t.Fatal(err)
	}
	if ii := info.Body.ImageInfo; tea.StringValue(ii.Status) != StatusNormal || tea.StringValue(ii.Mezzanine.FileSize) != "6" {
		t.Errorf("image %s", tea.Prettify(ii))
	}
}

func TestExpireAllAndRevokeOnRefresh(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RevokeOnRefresh = true })
	c := e.static(t)
	created := createVideo(t, c, "x", "x.mp4")
	addr, auth := decodeTarget(t, created.UploadAddress, created.UploadAuth)
	b := ossBucket(t, addr, auth, false)
	if err := b.PutObject(addr.FileName, strings.NewReader("1")); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	e.vod.ExpireAll()
	if err := b.PutObject(addr.FileName, strings.NewReader("2")); ossCode(err) != "SecurityTokenExpired" {
		t.Errorf("after ExpireAll: %v", err)
	}
	r1, err := c.RefreshUploadVideo(&vod.RefreshUploadVideoRequest{VideoId: created.VideoId})
	if err != nil {
		t.Fatal(err)
	}
	_, auth1 := decodeTarget(t, r1.Body.UploadAddress, r1.Body.UploadAuth)
	if _, err := c.RefreshUploadVideo(&vod.RefreshUploadVideoRequest{VideoId: created.VideoId}); err != nil {
		t.Fatal(err)
	}
	err = ossBucket(t, addr, auth1, false).PutObject(addr.FileName, strings.NewReader("3"))
	if code := ossCode(err); code == "" {
		t.Errorf("revoked credential still works: %v", err)
	}
}

// TestVideoByPutObject: a video whose object is written with one PutObject (as uploaders do for
// small files, and the gateway for uploads under one part) completes like a multipart one:
// UploadSucc, its size in GetMezzanineInfo, and one FileUploadComplete.
func TestVideoByPutObject(t *testing.T) {
	rcv := newReceiver(t)
	e := callbackEnv(t, rcv, nil)
	c := e.static(t)
	created := createVideo(t, c, "small", "small.mp4")
	id := tea.StringValue(created.VideoId)
	addr, auth := decodeTarget(t, created.UploadAddress, created.UploadAuth)
	data := bytes.Repeat([]byte("p"), 5000)
	if err := ossBucket(t, addr, auth, false).PutObject(addr.FileName, bytes.NewReader(data)); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	mezz, err := c.GetMezzanineInfo(&vod.GetMezzanineInfoRequest{VideoId: tea.String(id)})
	if err != nil {
		t.Fatalf("GetMezzanineInfo: %v", err)
	}
	if m := mezz.Body.Mezzanine; tea.StringValue(m.Status) != StatusUploadSucc || tea.Int64Value(m.Size) != int64(len(data)) {
		t.Errorf("mezzanine %s, want UploadSucc size %d", tea.Prettify(m), len(data))
	}
	ds := waitDeliveries(t, e, 1)
	if d := ds[0]; d.EventType != EventFileUploadComplete || d.MediaID != id || !d.Delivered {
		t.Errorf("delivery %+v, want a delivered FileUploadComplete for %s", d, id)
	}
}
