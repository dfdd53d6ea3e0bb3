package e2e

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// parallelMeta is the documented partial metadata: the group key and the
// media's metadata (the final's metadata arrives after the media exists).
func parallelMeta(group, filename string) map[string]string {
	return map[string]string{"vodGroup": group, "filename": filename, "title": "parallel " + filename}
}

// TestTusJSParallelUploads uploads with tus-js-client's parallelUploads: 4
// (tus concatenation): one media is created at VOD, the object has the
// file's bytes, and the final upload's responses name the media.
func TestTusJSParallelUploads(t *testing.T) {
	s := newStack(t, stackOptions{})
	type sizeCase struct {
		name      string
		size      int64
		chunkSize int64
	}
	sizes := []sizeCase{
		{name: "64MiB", size: 64 * MiB},
		{name: "odd-size", size: 3*MiB + 12345}, // partials of 789,590 bytes, the last one shorter
		// Partials of 8 MiB + 50 KiB: an 8 MiB part would strand 50 KiB,
		// below OSS's minimum, at the end of a partial in mid-object.
		{name: "no-small-part-mid-object", size: 4 * (8*MiB + 50*KiB)},
		{name: "no-small-part-mid-object-8MiB-chunks", size: 4 * (8*MiB + 50*KiB), chunkSize: 8 * MiB},
	}
	if os.Getenv("VODGATE_E2E_PARALLEL_1GIB") != "" {
		sizes = append(sizes, sizeCase{name: "1GiB", size: 1 << 30})
	}
	for i, tc := range sizes {
		t.Run(tc.name, func(t *testing.T) {
			before := len(s.VOD.AllMedia())
			src := makeSource(t, tc.size, uint64(1700+i))
			started := time.Now()
			res := runTus(t, tusOptions{
				Endpoint:            s.GW.Endpoint(),
				File:                src.Path,
				SourceBuffer:        true,
				ChunkSize:           tc.chunkSize,
				ParallelUploads:     4,
				MetadataForPartials: parallelMeta("group-"+tc.name+"-"+strconv.FormatInt(time.Now().UnixNano(), 36), tc.name+".mp4"),
				Metadata:            map[string]string{"filename": tc.name + ".mp4"},
			})
			t.Logf("%s in %v (%.1f MiB/s)", tc.name, time.Since(started), float64(tc.size)/MiB/time.Since(started).Seconds())
			posts, partials := 0, 0
			for _, rq := range res.Requests {
				if rq.Method == http.MethodPost {
					posts++
					if rq.Status == http.StatusCreated && rq.MediaID != res.FinalMediaID {
						t.Errorf("a POST answered media %q, the final %q", rq.MediaID, res.FinalMediaID)
					}
				}
				if rq.Method == http.MethodPatch {
					partials++
				}
			}
			if posts != 5 || partials < 4 {
				t.Errorf("want 4 partial POSTs + 1 final POST and >= 4 PATCHes, got %d POSTs and %d PATCHes: %s", posts, partials, describeRequests(res.Requests))
			}
			if got := len(s.VOD.AllMedia()) - before; got != 1 {
				t.Errorf("VOD has %d new media, want exactly 1 (one CreateUploadVideo per group)", got)
			}
			s.checkUploaded(t, res.FinalMediaID, src)
			h := tusDo(t, http.MethodHead, res.UploadURL, nil, nil)
			if h.Header.Get("Vod-Media-Id") != res.FinalMediaID || h.Header.Get("Upload-Offset") != itoa(tc.size) {
				t.Errorf("HEAD of the final: status %d offset %q media %q, want offset %d media %q",
					h.Status, h.Header.Get("Upload-Offset"), h.Header.Get("Vod-Media-Id"), tc.size, res.FinalMediaID)
			}
			// A client whose final response was lost sends the final again:
			// it is answered as the first, with the same media.
			concat := h.Header.Get("Upload-Concat")
			if !strings.HasPrefix(concat, "final;") || len(strings.Fields(strings.TrimPrefix(concat, "final;"))) != 4 {
				t.Fatalf("HEAD of the final: Upload-Concat %q, want final; and 4 partial URLs", concat)
			}
			again := tusDo(t, http.MethodPost, s.GW.Endpoint(), map[string]string{"Upload-Concat": concat}, nil)
			if again.Status != http.StatusCreated || again.Header.Get("Vod-Media-Id") != res.FinalMediaID {
				t.Errorf("repeated final: %d media %q %q, want 201 and media %q", again.Status, again.Header.Get("Vod-Media-Id"), again.Body, res.FinalMediaID)
			}
			s.checkUploaded(t, res.FinalMediaID, src)
		})
	}
}

// cutProxy forwards to a gateway (set once it runs) and cuts the body of
// the n-th PATCH after cut bytes (the client sees the request fail).
type cutProxy struct {
	srv     *httptest.Server
	target  atomic.Pointer[url.URL]
	patches atomic.Int32
	cuts    atomic.Int32
}

func newCutProxy(t *testing.T, nth int32, cut int64) *cutProxy {
	t.Helper()
	p := &cutProxy{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(p.target.Load())
			r.Out.Host = r.In.Host
			if r.In.Method == http.MethodPatch && p.patches.Add(1) == nth {
				p.cuts.Add(1)
				r.Out.Body = io.NopCloser(&cutReader{r: r.In.Body, left: cut})
			}
		},
		FlushInterval: -1,
	}
	p.srv = httptest.NewServer(rp)
	t.Cleanup(p.srv.Close)
	return p
}

type cutReader struct {
	r    io.Reader
	left int64
}

func (c *cutReader) Read(b []byte) (int, error) {
	if c.left <= 0 {
		return 0, errors.New("cut by the test proxy")
	}
	if int64(len(b)) > c.left {
		b = b[:c.left]
	}
	n, err := c.r.Read(b)
	c.left -= int64(n)
	return n, err
}

// TestTusJSParallelPartialInterrupted cuts one partial upload's PATCH in
// the middle: tus-js-client retries that partial (HEAD, then PATCH from
// the offset the gateway kept) and the file still lands whole in one media.
func TestTusJSParallelPartialInterrupted(t *testing.T) {
	// Creations go straight to the gateway (a proxy would reorder them);
	// upload URLs name the proxy (public-url), so PATCH and HEAD pass it.
	proxy := newCutProxy(t, 2, 3*MiB+777)
	s := newStack(t, stackOptions{NoGateway: true})
	s.GW = s.startGateway(map[string]string{"VODGATE_PUBLIC_URL": proxy.srv.URL})
	gw, err := url.Parse(s.GW.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy.target.Store(gw)
	const size = 24 * MiB
	src := makeSource(t, size, 1717)
	res := runTus(t, tusOptions{
		Endpoint:            s.GW.Endpoint(),
		SourceBuffer:        true,
		File:                src.Path,
		ParallelUploads:     4,
		MetadataForPartials: parallelMeta("cut-"+strconv.FormatInt(time.Now().UnixNano(), 36), "cut.mp4"),
		RetryDelays:         []int{0, 200, 500},
	})
	if proxy.cuts.Load() != 1 {
		t.Fatalf("the proxy cut %d PATCHes, want 1", proxy.cuts.Load())
	}
	heads := 0
	for _, rq := range res.Requests {
		if rq.Method == http.MethodHead {
			heads++
			if rq.Offset == nil || *rq.Offset == 0 {
				t.Errorf("HEAD after the cut reported offset %v: the bytes read before the cut were dropped", rq.Offset)
			}
		}
	}
	if heads == 0 {
		t.Errorf("the cut partial was not resumed with HEAD: %s", describeRequests(res.Requests))
	}
	if n := len(s.VOD.AllMedia()); n != 1 {
		t.Errorf("VOD has %d media, want 1", n)
	}
	s.checkUploaded(t, res.FinalMediaID, src)
}

// TestParallelFinalOrderChecked: a final upload that lists the partials
// in another order than they were created is refused with 400
// ERR_CONCAT_ORDER (their part ranges follow creation order), and
// concatenation is advertised while a partial without vodGroup is refused.
func TestParallelFinalOrderChecked(t *testing.T) {
	s := newStack(t, stackOptions{})
	opt := tusDo(t, http.MethodOptions, s.GW.Endpoint(), nil, nil)
	if ext := opt.Header.Get("Tus-Extension"); !strings.Contains(ext, "concatenation") {
		t.Errorf("Tus-Extension %q does not advertise concatenation", ext)
	}
	r := tusDo(t, http.MethodPost, s.GW.Endpoint(), map[string]string{
		"Upload-Concat": "partial", "Upload-Length": "1000",
		"Upload-Metadata": encodeMetadata(map[string]string{"filename": "a.mp4"}),
	}, nil)
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "ERR_CONCAT_GROUP_REQUIRED") {
		t.Errorf("partial without vodGroup: %d %q, want 400 ERR_CONCAT_GROUP_REQUIRED", r.Status, r.Body)
	}

	src := makeSource(t, 4*MiB, 1718)
	res := startTus(t, tusOptions{
		Endpoint:            s.GW.Endpoint(),
		File:                src.Path,
		SourceBuffer:        true,
		ParallelUploads:     4,
		MetadataForPartials: parallelMeta("order-"+strconv.FormatInt(time.Now().UnixNano(), 36), "order.mp4"),
		FinalOrder:          []int{1, 0, 2, 3},
		RetryDelays:         []int{0},
	}).wait(2 * time.Minute)
	if res.OK {
		t.Fatalf("a final listing the partials out of order succeeded")
	}
	if res.Status != http.StatusBadRequest || !strings.Contains(res.Body, "ERR_CONCAT_ORDER") {
		t.Errorf("out-of-order final: %d %q, want 400 ERR_CONCAT_ORDER", res.Status, res.Body)
	}
}

// TestParallelCreationOrder measures how often tus-js-client's partial
// creations reach the gateway in index order, with a Buffer source (the
// order tus-js-client sends them in) and an fs.ReadStream source (which
// tus-js-client 4.3.1 stats once per partial, in parallel). Trials:
// $VODGATE_E2E_ORDER_TRIALS (default 5). The Buffer case must keep the
// order every time on one gateway.
func TestParallelCreationOrder(t *testing.T) {
	s := newStack(t, stackOptions{})
	trials := 5
	if v, err := strconv.Atoi(os.Getenv("VODGATE_E2E_ORDER_TRIALS")); err == nil && v > 0 {
		trials = v
	}
	src := makeSource(t, 4*500*KiB+3, 1719)
	for _, c := range []struct {
		name   string
		buffer bool
		warmup int
		must   bool
	}{
		{name: "Buffer source, new connections", buffer: true, must: true},
		{name: "Buffer source, 4 open keep-alive connections", buffer: true, warmup: 4, must: true},
		{name: "fs.ReadStream source, new connections"},
	} {
		kept := 0
		for i := 0; i < trials; i++ {
			res := startTus(t, tusOptions{
				Endpoint:            s.GW.Endpoint(),
				File:                src.Path,
				ParallelUploads:     4,
				SourceBuffer:        c.buffer,
				Warmup:              c.warmup,
				MetadataForPartials: parallelMeta("trial-"+strconv.Itoa(i)+"-"+strconv.FormatInt(time.Now().UnixNano(), 36), "trial.mp4"),
				RetryDelays:         []int{0},
			}).wait(time.Minute)
			switch {
			case res.OK:
				kept++
			case res.Status != http.StatusBadRequest || !strings.Contains(res.Body, "ERR_CONCAT_ORDER"):
				t.Fatalf("trial %d (%s): %s (status %d, body %q)", i, c.name, res.Error, res.Status, res.Body)
			}
		}
		t.Logf("%s: order kept in %d of %d trials (%.0f%%)", c.name, kept, trials, 100*float64(kept)/float64(trials))
		if c.must && kept != trials {
			t.Errorf("%s: the order was kept in only %d of %d trials", c.name, kept, trials)
		}
	}
}

// TestParallelGroupTerminated: two partials created one after the other
// (raw tus) share one media and one multipart upload; a final naming an
// unfinished partial is refused; tus DELETE of one partial aborts the
// shared multipart upload, after which the group is gone for a new
// partial (410) and for the final.
func TestParallelGroupTerminated(t *testing.T) {
	s := newStack(t, stackOptions{})
	group := "term-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	meta := encodeMetadata(parallelMeta(group, "term.mp4"))
	partial := func(size int) (string, rawResp) {
		r := tusDo(t, http.MethodPost, s.GW.Endpoint(), map[string]string{
			"Upload-Concat": "partial", "Upload-Length": strconv.Itoa(size), "Upload-Metadata": meta,
		}, nil)
		if r.Status != http.StatusCreated {
			t.Fatalf("partial creation: %d %s", r.Status, r.Body)
		}
		return absURL(t, s.GW.Endpoint(), r.Header.Get("Location")), r
	}
	src := makeSource(t, 2*MiB, 1720)
	u1, r1 := partial(MiB)
	u2, r2 := partial(MiB)
	if m1, m2 := r1.Header.Get("Vod-Media-Id"), r2.Header.Get("Vod-Media-Id"); m1 == "" || m1 != m2 {
		t.Fatalf("partials answered media %q and %q, want one media", m1, m2)
	}
	if n := len(s.VOD.AllMedia()); n != 1 {
		t.Errorf("VOD has %d media after two partials, want 1", n)
	}
	if r := patchUpload(t, u1, 0, src.readRange(t, 0, MiB)); r.Status != http.StatusNoContent {
		t.Fatalf("PATCH partial 1: %d %s", r.Status, r.Body)
	}
	if h := tusDo(t, http.MethodHead, u1, nil, nil); h.Header.Get("Upload-Offset") != itoa(MiB) || h.Header.Get("Upload-Concat") != "partial" {
		t.Errorf("HEAD partial 1: %d offset %q Upload-Concat %q", h.Status, h.Header.Get("Upload-Offset"), h.Header.Get("Upload-Concat"))
	}
	final := func() rawResp {
		return tusDo(t, http.MethodPost, s.GW.Endpoint(), map[string]string{"Upload-Concat": "final;" + u1 + " " + u2}, nil)
	}
	if r := final(); r.Status != http.StatusBadRequest || !strings.Contains(r.Body, "ERR_UPLOAD_NOT_FINISHED") {
		t.Errorf("final with an unfinished partial: %d %q, want 400 ERR_UPLOAD_NOT_FINISHED", r.Status, r.Body)
	}
	if n := len(s.OSS.Uploads()); n != 1 {
		t.Fatalf("%d open multipart uploads, want the group's 1", n)
	}
	if r := tusDo(t, http.MethodDelete, u2, nil, nil); r.Status != http.StatusNoContent {
		t.Fatalf("DELETE partial 2: %d %s", r.Status, r.Body)
	}
	if n := len(s.OSS.Uploads()); n != 0 {
		t.Errorf("%d open multipart uploads after a partial was terminated, want 0 (aborted)", n)
	}
	r := tusDo(t, http.MethodPost, s.GW.Endpoint(), map[string]string{
		"Upload-Concat": "partial", "Upload-Length": "1000", "Upload-Metadata": meta,
	}, nil)
	if r.Status != http.StatusGone || !strings.Contains(r.Body, "ERR_CONCAT_GROUP_GONE") {
		t.Errorf("partial joining a terminated group: %d %q, want 410 ERR_CONCAT_GROUP_GONE", r.Status, r.Body)
	}
}

// TestParallelGroupExpires: partials that never get their final expire
// like any upload; the reaper aborts the group's shared multipart upload,
// and the group is gone for a late partial.
func TestParallelGroupExpires(t *testing.T) {
	s := newStack(t, stackOptions{Env: map[string]string{
		"VODGATE_EXPIRATION": "2s", "VODGATE_REAPER_INTERVAL": "300ms",
	}})
	group := "expire-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	meta := encodeMetadata(parallelMeta(group, "expire.mp4"))
	src := makeSource(t, 600*KiB, 1721)
	var urls []string
	for i := 0; i < 2; i++ {
		r := tusDo(t, http.MethodPost, s.GW.Endpoint(), map[string]string{
			"Upload-Concat": "partial", "Upload-Length": strconv.Itoa(300 * KiB), "Upload-Metadata": meta,
		}, nil)
		if r.Status != http.StatusCreated {
			t.Fatalf("partial creation: %d %s", r.Status, r.Body)
		}
		urls = append(urls, absURL(t, s.GW.Endpoint(), r.Header.Get("Location")))
	}
	// The first partial complete, the second half sent: both have parts.
	if r := patchUpload(t, urls[0], 0, src.readRange(t, 0, 300*KiB)); r.Status != http.StatusNoContent {
		t.Fatalf("PATCH partial 1: %d %s", r.Status, r.Body)
	}
	if r := patchUpload(t, urls[1], 0, src.readRange(t, 300*KiB, 150*KiB)); r.Status != http.StatusNoContent {
		t.Fatalf("PATCH partial 2: %d %s", r.Status, r.Body)
	}
	if n := len(s.OSS.Uploads()); n != 1 {
		t.Fatalf("%d open multipart uploads, want the group's 1", n)
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(s.OSS.Uploads()) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the group's multipart upload is still open 15 s after its partials expired")
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, u := range urls {
		if h := tusDo(t, http.MethodHead, u, nil, nil); h.Status != http.StatusNotFound {
			t.Errorf("HEAD of an expired partial: %d, want 404", h.Status)
		}
	}
	r := tusDo(t, http.MethodPost, s.GW.Endpoint(), map[string]string{
		"Upload-Concat": "partial", "Upload-Length": "1000", "Upload-Metadata": meta,
	}, nil)
	if r.Status != http.StatusGone {
		t.Errorf("partial joining an expired group: %d %q, want 410", r.Status, r.Body)
	}
}
