package vodtest

import (
	"regexp"
	"strings"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	"github.com/alibabacloud-go/tea/tea"
	vod "github.com/alibabacloud-go/vod-20170321/v4/client"
)

func isHex32(s string) bool { return regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(s) }

// callers are the three ways a client can authenticate: ACS3 with a static AK, ACS3 with an STS
// AK plus token, and the legacy RPC signature (SignatureAlgorithm "v2").
func callers(t *testing.T, e *env) []struct {
	name string
	c    *vod.Client
} {
	t.Helper()
	rpc := e.static(t)
	rpc.SignatureAlgorithm = tea.String("v2")
	stsRPC := e.client(t, stsAK, stsSK, stsToken)
	stsRPC.SignatureAlgorithm = tea.String("v2")
	return []struct {
		name string
		c    *vod.Client
	}{
		{"static-acs3", e.static(t)},
		{"sts-acs3", e.client(t, stsAK, stsSK, stsToken)},
		{"static-rpc-v2", rpc},
		{"sts-rpc-v2", stsRPC},
	}
}

func TestCreateUploadVideo(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range callers(t, e) {
		t.Run(tc.name, func(t *testing.T) {
			// Spaces, '*', '~', '+', '/', '&' and CJK exercise the canonical query encoding.
			title := "My movie * ~ (1) +x/y & 标题"
			resp, err := tc.c.CreateUploadVideo(&vod.CreateUploadVideoRequest{
				Title: tea.String(title), FileName: tea.String("clip one.MP4"), FileSize: tea.Int64(12345),
				Description: tea.String("d"), Tags: tea.String("a,b c"), CateId: tea.Int64(7),
				TemplateGroupId: tea.String(NoTranscodeTemplateGroup),
				UserData:        tea.String(`{"Extend":{"k":"v w"}}`),
			})
			if err != nil {
				t.Fatalf("CreateUploadVideo: %v", err)
			}
			b := resp.Body
			if tea.StringValue(b.RequestId) == "" || !isHex32(tea.StringValue(b.VideoId)) {
				t.Fatalf("RequestId %q VideoId %q", tea.StringValue(b.RequestId), tea.StringValue(b.VideoId))
			}
			addr, auth := decodeTarget(t, b.UploadAddress, b.UploadAuth)
			if addr.Endpoint != e.oss.URL() || !regexp.MustCompile(`^outin-[0-9a-f]{32}$`).MatchString(addr.Bucket) {
				t.Errorf("address %+v, want endpoint %s and an outin bucket", addr, e.oss.URL())
			}
			if !strings.Contains(addr.FileName, "/") || !strings.HasSuffix(addr.FileName, ".mp4") {
				t.Errorf("FileName %q: want a key with '/' ending in .mp4", addr.FileName)
			}
			wantExp := e.clock.Now().Add(DefaultCredentialTTL).Format("2006-01-02T15:04:05Z")
			if !strings.HasPrefix(auth.AccessKeyId, "STS.") || !strings.HasPrefix(auth.SecurityToken, "CAIS") ||
				auth.AccessKeySecret == "" || auth.Expiration != "3000" || auth.ExpireUTCTime != wantExp || auth.Region != "cn-shanghai" {
				t.Errorf("auth %+v, want STS./CAIS, Expiration 3000, ExpireUTCTime %s", auth, wantExp)
			}
			m, ok := e.vod.Media(tea.StringValue(b.VideoId))
			if !ok || m.Status != StatusUploading || m.Title != title || m.Bucket != addr.Bucket || m.Key != addr.FileName ||
				m.Type != MediaVideo || m.Params["FileSize"] != "12345" || m.Params["Tags"] != "a,b c" {
				t.Errorf("Media = %+v, %v", m, ok)
			}
		})
	}
	for _, c := range e.vod.Calls() {
		for _, secret := range []string{"Signature", "SecurityToken", "AccessKeyId"} {
			if _, ok := c.Params[secret]; ok {
				t.Errorf("call %s recorded %s", c.Action, secret)
			}
		}
		if c.Action != "CreateUploadVideo" || c.Status != 200 || (c.AccessKeyID != staticAK && c.AccessKeyID != stsAK) {
			t.Errorf("call %+v", c)
		}
	}
	if n := e.vod.CallCount("CreateUploadVideo"); n != 4 {
		t.Errorf("CallCount = %d, want 4", n)
	}
}

func TestRefreshUploadVideoKeepsAddress(t *testing.T) {
	e := newEnv(t, nil)
	c := e.static(t)
	created := createVideo(t, c, "t", "a.mov")
	addr1, auth1 := decodeTarget(t, created.UploadAddress, created.UploadAuth)
	e.clock.Advance(time.Minute)
	resp, err := c.RefreshUploadVideo(&vod.RefreshUploadVideoRequest{VideoId: created.VideoId})
	if err != nil {
		t.Fatalf("RefreshUploadVideo: %v", err)
	}
	addr2, auth2 := decodeTarget(t, resp.Body.UploadAddress, resp.Body.UploadAuth)
	if addr1 != addr2 || tea.StringValue(resp.Body.VideoId) != tea.StringValue(created.VideoId) {
		t.Errorf("refresh changed the address: %+v -> %+v", addr1, addr2)
	}
	if auth1.AccessKeyId == auth2.AccessKeyId || auth1.SecurityToken == auth2.SecurityToken {
		t.Error("refresh returned the same credential")
	}
	if auth2.ExpireUTCTime != e.clock.Now().Add(DefaultCredentialTTL).Format("2006-01-02T15:04:05Z") {
		t.Errorf("ExpireUTCTime %s", auth2.ExpireUTCTime)
	}
}

func TestCreateUploadImageAndAttached(t *testing.T) {
	e := newEnv(t, nil)
	c := e.static(t)
	for _, tc := range []struct {
		name, ext string
		req       *vod.CreateUploadImageRequest
	}{
		{"default ext", ".png", &vod.CreateUploadImageRequest{ImageType: tea.String("default")}},
		{"cover jpg", ".jpg", &vod.CreateUploadImageRequest{ImageType: tea.String("cover"), ImageExt: tea.String("JPG"), Title: tea.String("c")}},
	} {
		t.Run("image "+tc.name, func(t *testing.T) {
			resp, err := c.CreateUploadImage(tc.req)
			if err != nil {
				t.Fatalf("CreateUploadImage: %v", err)
			}
			b := resp.Body
			addr, auth := decodeTarget(t, b.UploadAddress, b.UploadAuth)
			if !isHex32(tea.StringValue(b.ImageId)) || !strings.HasSuffix(addr.FileName, tc.ext) ||
				!strings.HasSuffix(tea.StringValue(b.ImageURL), "/"+addr.Bucket+"/"+addr.FileName) ||
				tea.StringValue(b.FileURL) == "" || !strings.HasPrefix(auth.AccessKeyId, "STS.") {
				t.Errorf("image response %s, address %+v", tea.Prettify(b), addr)
			}
			if m, _ := e.vod.Media(tea.StringValue(b.ImageId)); m.Type != MediaImage || m.Status != StatusUploading {
				t.Errorf("Media %+v", m)
			}
		})
	}
	for _, tc := range []struct {
		name, ext string
		req       *vod.CreateUploadAttachedMediaRequest
	}{
		{"subtitle", ".vtt", &vod.CreateUploadAttachedMediaRequest{BusinessType: tea.String("subtitle"), MediaExt: tea.String("vtt"), FileSize: tea.String("10")}},
		{"watermark from file name", ".png", &vod.CreateUploadAttachedMediaRequest{BusinessType: tea.String("watermark"), FileName: tea.String("logo.PNG")}},
		{"material", ".zip", &vod.CreateUploadAttachedMediaRequest{BusinessType: tea.String("material"), MediaExt: tea.String("zip"), CateIds: tea.String("1,2")}},
	} {
		t.Run("attached "+tc.name, func(t *testing.T) {
			resp, err := c.CreateUploadAttachedMedia(tc.req)
			if err != nil {
				t.Fatalf("CreateUploadAttachedMedia: %v", err)
			}
			b := resp.Body
			addr, _ := decodeTarget(t, b.UploadAddress, b.UploadAuth)
			if !isHex32(tea.StringValue(b.MediaId)) || !strings.HasSuffix(addr.FileName, tc.ext) ||
				!strings.HasSuffix(tea.StringValue(b.MediaURL), addr.FileName) || tea.StringValue(b.FileURL) == "" {
				t.Errorf("attached response %s, address %+v", tea.Prettify(b), addr)
			}
			if m, _ := e.vod.Media(tea.StringValue(b.MediaId)); m.Type != MediaAttached {
				t.Errorf("Media %+v", m)
			}
		})
	}
}

func TestVideoStateMachine(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.NormalAfter = 30 * time.Second })
	c := e.static(t)
	created := createVideo(t, c, "state", "s.mp4")
	id := tea.StringValue(created.VideoId)
	status := func() (string, int64) {
		t.Helper()
		info, err := c.GetVideoInfo(&vod.GetVideoInfoRequest{VideoId: tea.String(id)})
		if err != nil {
			t.Fatalf("GetVideoInfo: %v", err)
		}
		mezz, err := c.GetMezzanineInfo(&vod.GetMezzanineInfoRequest{VideoId: tea.String(id)})
		if err != nil {
			t.Fatalf("GetMezzanineInfo: %v", err)
		}
		v := info.Body.Video
		if tea.StringValue(v.VideoId) != id || tea.StringValue(v.Title) != "state" || tea.StringValue(v.StorageLocation) != e.vod.DefaultStorageLocation() ||
			tea.StringValue(mezz.Body.Mezzanine.Status) != tea.StringValue(v.Status) || tea.StringValue(mezz.Body.Mezzanine.FileName) != "s.mp4" {
			t.Errorf("video %s mezzanine %s", tea.Prettify(v), tea.Prettify(mezz.Body.Mezzanine))
		}
		return tea.StringValue(v.Status), tea.Int64Value(v.Size)
	}
	if st, _ := status(); st != StatusUploading {
		t.Fatalf("status %s, want Uploading", st)
	}
	m, _ := e.vod.Media(id)
	e.vod.objectCompleted(m.Bucket, m.Key, 4096) // what the OSS simulator reports on Complete
	if st, size := status(); st != StatusUploadSucc || size != 4096 {
		t.Fatalf("status %s size %d, want UploadSucc 4096", st, size)
	}
	e.clock.Advance(31 * time.Second)
	if st, _ := status(); st != StatusNormal {
		t.Fatalf("status %s, want Normal", st)
	}
	if err := e.vod.SetStatus(id, StatusBlocked); err != nil {
		t.Fatal(err)
	}
	if st, _ := status(); st != StatusBlocked {
		t.Fatalf("status %s, want Blocked", st)
	}
}

func TestGetUploadDetailsAndDeletes(t *testing.T) {
	e := newEnv(t, nil)
	c := e.static(t)
	a := tea.StringValue(createVideo(t, c, "a", "a.mp4").VideoId)
	b := tea.StringValue(createVideo(t, c, "b", "b.mp4").VideoId)
	if err := e.vod.Forbid(b); err != nil {
		t.Fatal(err)
	}
	details, err := c.GetUploadDetails(&vod.GetUploadDetailsRequest{MediaIds: tea.String(a + "," + b + ",nope"), MediaType: tea.String("video")})
	if err != nil {
		t.Fatalf("GetUploadDetails: %v", err)
	}
	d := details.Body
	if len(d.UploadDetails) != 1 || tea.StringValue(d.UploadDetails[0].MediaId) != a || tea.StringValue(d.UploadDetails[0].Status) != StatusUploading ||
		len(d.NonExistMediaIds) != 1 || tea.StringValue(d.NonExistMediaIds[0]) != "nope" ||
		len(d.ForbiddenMediaIds) != 1 || tea.StringValue(d.ForbiddenMediaIds[0]) != b {
		t.Errorf("GetUploadDetails = %s", tea.Prettify(d))
	}

	del, err := c.DeleteVideo(&vod.DeleteVideoRequest{VideoIds: tea.String(a + "," + b + ",nope")})
	if err != nil {
		t.Fatalf("DeleteVideo: %v", err)
	}
	if got := tea.StringSliceValue(del.Body.NonExistVideoIds); len(got) != 1 || got[0] != "nope" {
		t.Errorf("NonExistVideoIds = %v", got)
	}
	if got := tea.StringSliceValue(del.Body.ForbiddenVideoIds); len(got) != 1 || got[0] != b {
		t.Errorf("ForbiddenVideoIds = %v", got)
	}
	if _, ok := e.vod.Media(a); ok {
		t.Error("deleted video still listed")
	}
	_, err = c.GetVideoInfo(&vod.GetVideoInfoRequest{VideoId: tea.String(a)})
	if se := sdkError(t, err); tea.StringValue(se.Code) != codeVideoNotFound || tea.IntValue(se.StatusCode) != 404 {
		t.Errorf("GetVideoInfo after delete: %v", err)
	}

	img, err := c.CreateUploadImage(&vod.CreateUploadImageRequest{ImageType: tea.String("default")})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.GetImageInfo(&vod.GetImageInfoRequest{ImageId: img.Body.ImageId})
	if err != nil || tea.StringValue(info.Body.ImageInfo.Status) != StatusUploading || tea.StringValue(info.Body.ImageInfo.ImageType) != "default" {
		t.Fatalf("GetImageInfo = %v, %v", info, err)
	}
	if _, err := c.DeleteImage(&vod.DeleteImageRequest{DeleteImageType: tea.String("ImageId"), ImageIds: img.Body.ImageId}); err != nil {
		t.Fatalf("DeleteImage: %v", err)
	}
	if _, ok := e.vod.Media(tea.StringValue(img.Body.ImageId)); ok {
		t.Error("deleted image still listed")
	}
	att, err := c.CreateUploadAttachedMedia(&vod.CreateUploadAttachedMediaRequest{BusinessType: tea.String("subtitle"), MediaExt: tea.String("srt")})
	if err != nil {
		t.Fatal(err)
	}
	delAtt, err := c.DeleteAttachedMedia(&vod.DeleteAttachedMediaRequest{MediaIds: tea.String(tea.StringValue(att.Body.MediaId) + ",gone")})
	if err != nil {
		t.Fatalf("DeleteAttachedMedia: %v", err)
	}
	if got := tea.StringSliceValue(delAtt.Body.NonExistMediaIds); len(got) != 1 || got[0] != "gone" {
		t.Errorf("NonExistMediaIds = %v", got)
	}
}

func TestUploadMediaByURL(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.URLJobStep = 10 * time.Second })
	c := e.static(t)
	good, bad := "https://example.com/media/a b.mp4", "ftp://example.com/b.mp4"
	resp, err := c.UploadMediaByURL(&vod.UploadMediaByURLRequest{
		UploadURLs:      tea.String(strings.Join([]string{urlEncode(good), urlEncode(bad)}, ",")),
		UploadMetadatas: tea.String(`[{"SourceURL":"` + good + `","Title":"pulled","FileSize":"99"}]`),
	})
	if err != nil {
		t.Fatalf("UploadMediaByURL: %v", err)
	}
	jobs := resp.Body.UploadJobs
	if len(jobs) != 2 || tea.StringValue(jobs[0].SourceURL) != good {
		t.Fatalf("UploadJobs = %s", tea.Prettify(jobs))
	}
	ids := tea.StringValue(jobs[0].JobId) + "," + tea.StringValue(jobs[1].JobId) + ",missing"
	statuses := func() (string, string, string) {
		t.Helper()
		r, err := c.GetURLUploadInfos(&vod.GetURLUploadInfosRequest{JobIds: tea.String(ids)})
		if err != nil {
			t.Fatalf("GetURLUploadInfos: %v", err)
		}
		l := r.Body.URLUploadInfoList
		if len(l) != 2 || len(r.Body.NonExists) != 1 {
			t.Fatalf("infos %s", tea.Prettify(r.Body))
		}
		return tea.StringValue(l[0].Status), tea.StringValue(l[1].Status), tea.StringValue(l[0].MediaId)
	}
	if s1, s2, _ := statuses(); s1 != "PENDING" || s2 != "PENDING" {
		t.Fatalf("statuses %s %s", s1, s2)
	}
	e.clock.Advance(35 * time.Second)
	if s1, s2, _ := statuses(); s1 != "DOWNLOAD_SUCCESS" || s2 != "DOWNLOAD_FAIL" {
		t.Fatalf("statuses %s %s", s1, s2)
	}
	e.clock.Advance(time.Minute)
	s1, _, mediaID := statuses()
	if s1 != "SUCCESS" {
		t.Fatalf("status %s, want SUCCESS", s1)
	}
	if m, _ := e.vod.Media(mediaID); m.Status != StatusUploadSucc || m.Title != "pulled" || m.Size != 99 {
		t.Errorf("media %+v", m)
	}
}

// urlEncode is how callers are told to encode each URL before joining them with commas.
func urlEncode(s string) string { return strings.ReplaceAll(percentEncode(s), "%2F", "/") }

func TestSDKConfigRegionEndpointIsIgnoredWhenEndpointSet(t *testing.T) {
	// Guard for the helper: a set Endpoint must win over RegionId (wire §1.1).
	e := newEnv(t, nil)
	cfg := &openapi.Config{Endpoint: tea.String(e.vod.Endpoint()), Protocol: tea.String("http"), RegionId: tea.String("cn-hangzhou"),
		AccessKeyId: tea.String(staticAK), AccessKeySecret: tea.String(staticSK)}
	c, err := vod.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateUploadVideo(&vod.CreateUploadVideoRequest{Title: tea.String("x"), FileName: tea.String("x.mp4")}); err != nil {
		t.Fatalf("CreateUploadVideo: %v", err)
	}
}
