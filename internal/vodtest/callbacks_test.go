package vodtest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alibabacloud-go/tea/tea"
	vod "github.com/alibabacloud-go/vod-20170321/v4/client"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

const testCallbackKey = "TestKey123abcXYZ"

// received is one callback request as the receiver saw it.
type received struct {
	URL    string // the URL it was sent to, as the signature covers it
	Header http.Header
	Body   map[string]any // decoded with UseNumber
	Raw    []byte
	At     time.Time // real time of arrival
}

// receiver is an HTTP callback endpoint. It answers with statuses in turn, then 200.
type receiver struct {
	srv      *httptest.Server
	path     string
	mu       sync.Mutex
	got      []received
	statuses []int
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	t.Helper()
	r := &receiver{path: "/vod/events?env=test", statuses: statuses}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var body map[string]any
		if err := dec.Decode(&body); err != nil || req.Method != http.MethodPost ||
			req.Header.Get("Content-Type") != "application/json" {
			t.Errorf("callback %s %s %q: %v", req.Method, req.Header.Get("Content-Type"), raw, err)
		}
		r.mu.Lock()
		r.got = append(r.got, received{URL: r.URL(), Header: req.Header.Clone(), Body: body, Raw: raw, At: time.Now()})
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// URL is the callback URL; its path and query are part of what gets signed.
func (r *receiver) URL() string { return r.srv.URL + r.path }

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// checkSigned verifies the VOD callback auth headers the way a receiver would, computing the
// signature independently: md5hex(url|timestamp|key), timestamp 10 digits and within maxAge of now.
func checkSigned(rc received, key string, now time.Time, maxAge time.Duration) error {
	ts, sig := rc.Header.Get("X-VOD-TIMESTAMP"), rc.Header.Get("X-VOD-SIGNATURE")
	if len(ts) != 10 {
		return fmt.Errorf("X-VOD-TIMESTAMP %q is not 10 digits", ts)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("X-VOD-TIMESTAMP %q: %w", ts, err)
	}
	if age := now.Sub(time.Unix(sec, 0)); age > maxAge || age < -maxAge {
		return fmt.Errorf("X-VOD-TIMESTAMP %s is %v old", ts, age)
	}
	sum := md5.Sum([]byte(rc.URL + "|" + ts + "|" + key))
	if want := hex.EncodeToString(sum[:]); sig != want {
		return fmt.Errorf("X-VOD-SIGNATURE %q, want %q", sig, want)
	}
	return nil
}

// callbackEnv is newEnv with the global callback set to rcv (if any), signing and fast retries.
func callbackEnv(t *testing.T, rcv *receiver, mutate func(*Config)) *env {
	t.Helper()
	return newEnv(t, func(c *Config) {
		if rcv != nil {
			c.CallbackURL = rcv.URL()
		}
		c.CallbackAuthKey = testCallbackKey
		c.CallbackRetryInterval = 5 * time.Millisecond
		if mutate != nil {
			mutate(c)
		}
	})
}

func waitDeliveries(t *testing.T, e *env, n int) []Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ds, err := e.vod.WaitDeliveries(ctx, n)
	if err != nil {
		t.Fatalf("%v; deliveries %+v", err, ds)
	}
	return ds
}

// upload is one way a client puts media into VOD: create it through the VOD SDK, then write the
// object with the OSS SDK and the issued credential.
type upload struct {
	id     string
	bucket string
	key    string
	size   int64
}

func uploadVideo(t *testing.T, e *env, userData string) upload {
	t.Helper()
	req := &vod.CreateUploadVideoRequest{Title: tea.String("cb"), FileName: tea.String("cb.mp4")}
	if userData != "" {
		req.UserData = tea.String(userData)
	}
	resp, err := e.static(t).CreateUploadVideo(req)
	if err != nil {
		t.Fatalf("CreateUploadVideo: %v", err)
	}
	addr, auth := decodeTarget(t, resp.Body.UploadAddress, resp.Body.UploadAuth)
	b := ossBucket(t, addr, auth, true)
	data := bytes.Repeat([]byte("v"), 3000)
	imur, err := b.InitiateMultipartUpload(addr.FileName)
	if err != nil {
		t.Fatalf("InitiateMultipartUpload: %v", err)
	}
	p1, err := b.UploadPart(imur, bytes.NewReader(data[:2048]), 2048, 1)
	if err != nil {
		t.Fatalf("UploadPart 1: %v", err)
	}
	p2, err := b.UploadPart(imur, bytes.NewReader(data[2048:]), int64(len(data)-2048), 2)
	if err != nil {
		t.Fatalf("UploadPart 2: %v", err)
	}
	if _, err := b.CompleteMultipartUpload(imur, []oss.UploadPart{p1, p2}); err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	return upload{id: tea.StringValue(resp.Body.VideoId), bucket: addr.Bucket, key: addr.FileName, size: int64(len(data))}
}

func uploadImage(t *testing.T, e *env, userData string) upload {
	t.Helper()
	req := &vod.CreateUploadImageRequest{ImageType: tea.String("default"), ImageExt: tea.String("png"), AppId: tea.String("app-2000000")}
	if userData != "" {
		req.UserData = tea.String(userData)
	}
	resp, err := e.static(t).CreateUploadImage(req)
	if err != nil {
		t.Fatalf("CreateUploadImage: %v", err)
	}
	addr, auth := decodeTarget(t, resp.Body.UploadAddress, resp.Body.UploadAuth)
	if err := ossBucket(t, addr, auth, false).PutObject(addr.FileName, strings.NewReader("\x89PNG....")); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	return upload{id: tea.StringValue(resp.Body.ImageId), bucket: addr.Bucket, key: addr.FileName, size: 8}
}

func uploadAttached(t *testing.T, e *env, userData string) upload {
	t.Helper()
	req := &vod.CreateUploadAttachedMediaRequest{BusinessType: tea.String("subtitle"), MediaExt: tea.String("vtt")}
	if userData != "" {
		req.UserData = tea.String(userData)
	}
	resp, err := e.static(t).CreateUploadAttachedMedia(req)
	if err != nil {
		t.Fatalf("CreateUploadAttachedMedia: %v", err)
	}
	addr, auth := decodeTarget(t, resp.Body.UploadAddress, resp.Body.UploadAuth)
	if err := ossBucket(t, addr, auth, true).PutObject(addr.FileName, strings.NewReader("WEBVTT\n")); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	return upload{id: tea.StringValue(resp.Body.MediaId), bucket: addr.Bucket, key: addr.FileName, size: 7}
}

func TestCallbackEventBodies(t *testing.T) {
	const extend = `{"MessageCallback":{"CallbackType":"http","CallbackURL":""},"Extend":{"tenant": "t1","n":1}}`
	for _, tc := range []struct {
		name   string
		upload func(*testing.T, *env, string) upload
		want   func(u upload, ossURL string, at time.Time) map[string]any
	}{
		{"video", uploadVideo, func(u upload, ossURL string, at time.Time) map[string]any {
			return map[string]any{
				"EventTime": at.UTC().Format("2006-01-02T15:04:05Z"), "EventType": "FileUploadComplete", "VideoId": u.id,
				"Size": json.Number(strconv.FormatInt(u.size, 10)), "FileUrl": ossURL + "/" + u.bucket + "/" + u.key,
				"Status": "success", "Extend": `{"tenant":"t1","n":1}`,
			}
		}},
		{"image", uploadImage, func(u upload, ossURL string, at time.Time) map[string]any {
			// The image event's time has milliseconds after a colon: 2024-04-10T01:37:14:627Z.
			return map[string]any{
				"EventTime": at.UTC().Format("2006-01-02T15:04:05") + ":627Z", "EventType": "ImageUploadComplete", "ImageId": u.id,
				"Size": json.Number(strconv.FormatInt(u.size, 10)), "FileURL": ossURL + "/" + u.bucket + "/" + u.key,
				"Status": "success", "AppId": "app-2000000",
			}
		}},
		{"attached", uploadAttached, func(u upload, ossURL string, at time.Time) map[string]any {
			return map[string]any{
				"EventTime": at.UTC().Format("2006-01-02T15:04:05Z"), "EventType": "AttachedMediaUploadComplete",
				"AttachedMediaId": u.id, "Size": json.Number(strconv.FormatInt(u.size, 10)),
				"FileURL": ossURL + "/" + u.bucket + "/" + u.key, "Status": "success",
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcv := newReceiver(t)
			e := callbackEnv(t, rcv, nil)
			e.clock.Advance(627 * time.Millisecond) // the fake clock starts on a whole second
			u := tc.upload(t, e, extend)
			ds := waitDeliveries(t, e, 1)
			got := rcv.requests()
			if len(got) != 1 || len(ds) != 1 {
				t.Fatalf("received %d, deliveries %+v", len(got), ds)
			}
			if want := tc.want(u, e.oss.URL(), e.clock.Now()); !reflect.DeepEqual(got[0].Body, want) {
				t.Errorf("body %s\nwant %v", got[0].Raw, want)
			}
			if err := checkSigned(got[0], testCallbackKey, e.clock.Now(), 5*time.Minute); err != nil {
				t.Error(err)
			}
			d := ds[0]
			if d.URL != rcv.URL() || d.EventType != got[0].Body["EventType"] || d.MediaID != u.id || d.Attempt != 1 ||
				d.Copy != 1 || d.Status != 200 || !d.Delivered || !d.Final || d.Body != string(got[0].Raw) ||
				d.Timestamp != got[0].Header.Get("X-VOD-TIMESTAMP") || !d.Time.Equal(e.clock.Now()) {
				t.Errorf("delivery %+v", d)
			}
		})
	}
}

func TestCallbackURLJobs(t *testing.T) {
	for _, tc := range []struct {
		name, source string
		viaQuery     bool          // GetURLUploadInfos notices completion (else the background poller does)
		steps        time.Duration // URLJobSteps until the job finishes
		want         func(jobID, videoID string, at time.Time) map[string]any
	}{
		{"success", "https://example.com/media/a b.mp4", false, 6, func(jobID, videoID string, at time.Time) map[string]any {
			return map[string]any{
				"EventTime": at.Format("2006-01-02T15:04:05Z"), "EventType": "UploadByURLComplete", "JobId": jobID,
				"SourceURL": "https://example.com/media/a b.mp4", "Status": "success", "VideoId": videoID, "Size": "123",
			}
		}},
		{"failure", "https://nowhere.invalid/b.mp4", true, 3, func(jobID, _ string, at time.Time) map[string]any {
			return map[string]any{
				"EventTime": at.Format("2006-01-02T15:04:05Z"), "EventType": "UploadByURLComplete", "JobId": jobID,
				"SourceURL": "https://nowhere.invalid/b.mp4", "Status": "fail",
				"ErrorCode": urlJobFailCode, "ErrorMessage": urlJobFailMessage,
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			global, own := newReceiver(t), newReceiver(t)
			e := callbackEnv(t, global, func(c *Config) { c.URLJobStep = 10 * time.Second })
			c := e.static(t)
			start := e.clock.Now().UTC()
			resp, err := c.UploadMediaByURL(&vod.UploadMediaByURLRequest{
				UploadURLs:      tea.String(urlEncode(tc.source)),
				UploadMetadatas: tea.String(`[{"SourceURL":"` + tc.source + `","Title":"pulled","FileSize":"123"}]`),
				UserData:        tea.String(`{"MessageCallback":{"CallbackURL":"` + own.URL() + `"}}`),
			})
			if err != nil {
				t.Fatalf("UploadMediaByURL: %v", err)
			}
			jobID := tea.StringValue(resp.Body.UploadJobs[0].JobId)
			e.clock.Advance(25 * time.Second)
			time.Sleep(20 * time.Millisecond) // let the poller see an unfinished job
			if n := len(e.vod.Deliveries()); n != 0 {
				t.Fatalf("%d deliveries before the job finished", n)
			}
			e.clock.Advance(2 * time.Minute)
			var videoID string
			if tc.viaQuery {
				infos, err := c.GetURLUploadInfos(&vod.GetURLUploadInfosRequest{JobIds: tea.String(jobID)})
				if err != nil {
					t.Fatal(err)
				}
				videoID = tea.StringValue(infos.Body.URLUploadInfoList[0].MediaId)
			}
			waitDeliveries(t, e, 1)
			got := own.requests()
			if len(got) != 1 || len(global.requests()) != 0 {
				t.Fatalf("own receiver got %d, global %d", len(got), len(global.requests()))
			}
			if videoID == "" {
				videoID, _ = got[0].Body["VideoId"].(string)
				if m, ok := e.vod.Media(videoID); !ok || m.Params["SourceURL"] != tc.source {
					t.Errorf("VideoId %q is not the job's video: %+v", videoID, m)
				}
			}
			if want := tc.want(jobID, videoID, start.Add(tc.steps*10*time.Second)); !reflect.DeepEqual(got[0].Body, want) {
				t.Errorf("body %s\nwant %v", got[0].Raw, want)
			}
			if err := checkSigned(got[0], testCallbackKey, e.clock.Now(), time.Minute); err != nil {
				t.Error(err)
			}
			// Once only, however often the job is looked at.
			if _, err := c.GetURLUploadInfos(&vod.GetURLUploadInfosRequest{JobIds: tea.String(jobID)}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
			if n := len(e.vod.Deliveries()); n != 1 {
				t.Errorf("%d deliveries, want 1", n)
			}
		})
	}
}

func TestCallbackRouting(t *testing.T) {
	for _, tc := range []struct {
		name       string
		global     bool   // Config.CallbackURL points at the global receiver
		userData   string // %s is the per-upload receiver's URL
		events     []string
		wantGlobal int
		wantOwn    int
	}{
		{"global only", true, "", nil, 1, 0},
		{"UserData overrides global", true, `{"MessageCallback":{"CallbackType":"http","CallbackURL":"%s"}}`, nil, 0, 1},
		{"UserData without CallbackType is http", true, `{"MessageCallback":{"CallbackURL":"%s"}}`, nil, 0, 1},
		{"UserData without a global URL", false, `{"MessageCallback":{"CallbackType":"HTTP","CallbackURL":"%s"}}`, nil, 0, 1},
		{"MNS MessageCallback is ignored", true, `{"MessageCallback":{"CallbackType":"mns","CallbackURL":"%s"}}`, nil, 1, 0},
		{"UserData with Extend only", true, `{"Extend":{"a":"b"}}`, nil, 1, 0},
		{"no URL anywhere", false, `{"Extend":{"a":"b"}}`, nil, 0, 0},
		{"event type not selected", true, `{"MessageCallback":{"CallbackURL":"%s"}}`, []string{EventImageUploadComplete}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			global, own := newReceiver(t), newReceiver(t)
			var g *receiver
			if tc.global {
				g = global
			}
			e := callbackEnv(t, g, func(c *Config) { c.CallbackEvents = tc.events })
			ud := tc.userData
			if strings.Contains(ud, "%s") {
				ud = fmt.Sprintf(ud, own.URL())
			}
			uploadVideo(t, e, ud)
			if tc.wantGlobal+tc.wantOwn > 0 {
				waitDeliveries(t, e, tc.wantGlobal+tc.wantOwn)
			}
			// The event is generated synchronously when OSS completes the object, so a delivery
			// that was going to start has started by now; give it time to arrive anyway.
			time.Sleep(20 * time.Millisecond)
			e.vod.cb.mu.Lock()
			events := e.vod.cb.events
			e.vod.cb.mu.Unlock()
			if events != 1 {
				t.Errorf("%d events generated, want 1", events)
			}
			if g, o, d := len(global.requests()), len(own.requests()), len(e.vod.Deliveries()); g != tc.wantGlobal ||
				o != tc.wantOwn || d != tc.wantGlobal+tc.wantOwn {
				t.Errorf("global got %d, own got %d, deliveries %d; want %d, %d", g, o, d, tc.wantGlobal, tc.wantOwn)
			}
			for _, r := range append(global.requests(), own.requests()...) {
				if err := checkSigned(r, testCallbackKey, e.clock.Now(), time.Minute); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestVideoUploadAddressObjectPrefix(t *testing.T) {
	e := newEnv(t, nil)
	created := createVideo(t, e.static(t), "m3u8", "list.m3u8")
	raw, err := decodeBase64JSON(tea.StringValue(created.UploadAddress))
	if err != nil {
		t.Fatal(err)
	}
	fileName, _ := raw["FileName"].(string)
	if prefix, _ := raw["ObjectPrefix"].(string); prefix != path.Dir(fileName)+"/" || !strings.HasPrefix(fileName, prefix) {
		t.Errorf("ObjectPrefix %q for FileName %q", prefix, fileName)
	}
}
