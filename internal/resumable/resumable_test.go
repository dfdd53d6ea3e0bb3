package resumable

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tus/tusd/v2/pkg/handler"
)

type fakeUploads map[string]State

func (f fakeUploads) State(_ context.Context, id string) (State, error) { return f[id], nil }

func TestVersion(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
	}{{"", 0}, {"2", 0}, {"3", 3}, {" 6 ", 6}, {"7", 7}, {"8", 8}, {"9", 0}, {"x", 0}} {
		h := http.Header{}
		h.Set(HeaderInteropVersion, tt.in)
		if got := Version(h); got != tt.want {
			t.Errorf("Version(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestLimits(t *testing.T) {
	m := &layer{cfg: Config{MaxSize: 1000}}
	for _, tt := range []struct {
		v    int
		age  time.Duration
		want string
	}{
		{8, 90*time.Second + time.Millisecond, "max-size=1000, min-size=0, max-append-size=1000, max-age=91"},
		{7, -1, "max-size=1000, min-size=0, max-append-size=1000"},
		{6, time.Minute, "max-size=1000, min-size=0, max-append-size=1000, expires=60"},
		{0, time.Minute, "max-size=1000, min-size=0, max-append-size=1000, max-age=60"},
	} {
		if got := m.limits(tt.v, tt.age); got != tt.want {
			t.Errorf("limits(%d, %v) = %q, want %q", tt.v, tt.age, got, tt.want)
		}
	}
	if got := (&layer{}).limits(8, -1); got != "min-size=0" {
		t.Errorf("no limits = %q, want min-size=0", got)
	}
}

func TestMetadata(t *testing.T) {
	for _, tt := range []struct {
		name    string
		hdr     map[string]string
		derived handler.MetaData
		def     string
		want    handler.MetaData
	}{
		{"default", nil, nil, "", handler.MetaData{"filename": "upload.mp4"}},
		{"default by type", map[string]string{"Content-Type": "image/jpeg"}, handler.MetaData{"filetype": "image/jpeg"}, "",
			handler.MetaData{"filename": "upload.jpg", "filetype": "image/jpeg"}},
		{"configured default", nil, nil, "clip.mov", handler.MetaData{"filename": "clip.mov"}},
		{"octet-stream is no type", map[string]string{"Content-Type": "application/octet-stream"}, handler.MetaData{"filetype": "application/octet-stream"}, "",
			handler.MetaData{"filename": "upload.mp4"}},
		{"content-disposition", map[string]string{"Content-Disposition": `inline; filename="a b.mov"`}, handler.MetaData{"filename": "a b.mov"}, "",
			handler.MetaData{"filename": "a b.mov"}},
		{"filename* parsed here too", map[string]string{"Content-Disposition": `inline; filename*=UTF-8''%E8%A7%86%E9%A2%91.mp4`}, nil, "",
			handler.MetaData{"filename": "视频.mp4"}},
		{"upload-metadata wins", map[string]string{"Upload-Metadata": "filename eC5tcDQ=,title VA==", "Content-Disposition": `inline; filename="y.mp4"`},
			handler.MetaData{"filename": "y.mp4"}, "", handler.MetaData{"filename": "x.mp4", "title": "T"}},
		{"name counts as filename", map[string]string{"Upload-Metadata": "name eC5tcDQ="}, nil, "", handler.MetaData{"name": "x.mp4"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.hdr {
				h.Set(k, v)
			}
			got := Metadata(h, tt.derived, tt.def)
			if len(got) != len(tt.want) {
				t.Fatalf("Metadata = %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("Metadata[%s] = %q, want %q (all %v)", k, got[k], v, got)
				}
			}
		})
	}
}

// tusdLike answers as tusd's experimental protocol does for the request
// it was given, recording it.
type tusdLike struct {
	seen   *http.Request
	status int
	body   string
	header map[string]string
}

func (f *tusdLike) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.seen = r
	for k, v := range f.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(f.status)
	_, _ = w.Write([]byte(f.body))
}

func TestMiddleware(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ups := fakeUploads{
		"open": {Found: true, Offset: 100, Size: 1000, Expires: now.Add(time.Hour)},
		"done": {Found: true, Offset: 1000, Size: 1000, Finished: true},
	}
	reg := prometheus.NewRegistry()
	mw, err := Middleware(Config{BasePath: "/files/", MaxSize: 5000, Expiration: time.Hour, Uploads: ups, Now: func() time.Time { return now }, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		mfs, err := reg.Gather()
		if err != nil || len(mfs) != 1 || mfs[0].GetName() != "vodgate_resumable_requests_total" || len(mfs[0].GetMetric()) == 0 {
			t.Errorf("metrics %v (%v), want vodgate_resumable_requests_total series", mfs, err)
		}
	}()
	type want struct {
		status  int
		tusdVer string // version tusd saw; "-" when tusd must not be called
		hdr     map[string]string
		body    string // substring
	}
	for _, tt := range []struct {
		name   string
		method string
		path   string
		req    map[string]string
		tusd   tusdLike
		want   want
	}{
		{"v6 append without partial-upload", http.MethodPatch, "/files/open", map[string]string{HeaderInteropVersion: "6", HeaderComplete: "?0", HeaderOffset: "100", "Content-Type": "application/offset+octet-stream"},
			tusdLike{status: 204}, want{415, "-", map[string]string{HeaderComplete: "?0"}, "ERR_INVALID_CONTENT_TYPE"}},
		{"v5 append needs no label", http.MethodPatch, "/files/open", map[string]string{HeaderInteropVersion: "5", HeaderComplete: "?0", HeaderOffset: "100"},
			tusdLike{status: 204}, want{204, "5", map[string]string{HeaderComplete: "?0"}, ""}},
		{"v8 append, translated", http.MethodPatch, "/files/open", map[string]string{HeaderInteropVersion: "8", HeaderComplete: "?0", HeaderOffset: "0", "Content-Type": "application/partial-upload; x=1"},
			tusdLike{status: 204, header: map[string]string{HeaderOffset: "100"}},
			want{204, "6", map[string]string{HeaderComplete: "?0", HeaderLimit: "max-size=5000, min-size=0, max-append-size=5000, max-age=3600"}, ""}},
		{"v8 HEAD names 8", http.MethodHead, "/files/open", map[string]string{HeaderInteropVersion: "8"},
			tusdLike{status: 204, header: map[string]string{HeaderInteropVersion: "6", HeaderOffset: "100", HeaderComplete: "?0"}},
			want{204, "6", map[string]string{HeaderInteropVersion: "8", "Cache-Control": "no-store"}, ""}},
		{"v3 append completes", http.MethodPatch, "/files/done", map[string]string{HeaderInteropVersion: "3", HeaderIncomplete: "?0", HeaderOffset: "100"},
			tusdLike{status: 204}, want{204, "3", map[string]string{HeaderIncomplete: "?0"}, ""}},
		{"v6 mismatch is a problem", http.MethodPatch, "/files/open", map[string]string{HeaderInteropVersion: "6", HeaderComplete: "?0", HeaderOffset: "7", "Content-Type": PartialUpload},
			tusdLike{status: 409, body: "ERR_MISMATCHED_OFFSET: mismatched offset\n"},
			want{409, "6", map[string]string{"Content-Type": ProblemJSON, HeaderOffset: "100", HeaderComplete: "?0"},
				`"expected-offset":100,"provided-offset":7`}},
		{"v5 mismatch keeps tusd's body", http.MethodPatch, "/files/open", map[string]string{HeaderInteropVersion: "5", HeaderComplete: "?0", HeaderOffset: "7"},
			tusdLike{status: 409, body: "ERR_MISMATCHED_OFFSET: mismatched offset\n"},
			want{409, "5", map[string]string{HeaderOffset: "100"}, "ERR_MISMATCHED_OFFSET"}},
		{"append to a finished upload", http.MethodPatch, "/files/done", map[string]string{HeaderInteropVersion: "7", HeaderComplete: "?1", HeaderOffset: "0", "Content-Type": PartialUpload},
			tusdLike{status: 409, body: "ERR_MISMATCHED_OFFSET: mismatched offset\n"},
			want{400, "6", map[string]string{"Content-Type": ProblemJSON}, "#completed-upload"}},
		{"v7 inconsistent creation length", http.MethodPost, "/files/", map[string]string{HeaderInteropVersion: "7", HeaderComplete: "?1", HeaderLength: "5"},
			tusdLike{status: 400, body: "ERR_INVALID_UPLOAD_LENGTH: missing or invalid Upload-Length header\n"},
			want{400, "6", map[string]string{"Content-Type": ProblemJSON}, "#inconsistent-upload-length"}},
		{"v8 append repeating the known length", http.MethodPatch, "/files/open", map[string]string{HeaderInteropVersion: "8", HeaderComplete: "?0", HeaderOffset: "100", HeaderLength: "1000", "Content-Type": PartialUpload},
			tusdLike{status: 204}, want{204, "6", map[string]string{HeaderComplete: "?0"}, ""}},
		{"v8 append contradicting the length", http.MethodPatch, "/files/open", map[string]string{HeaderInteropVersion: "8", HeaderComplete: "?0", HeaderOffset: "100", HeaderLength: "999", "Content-Type": PartialUpload},
			tusdLike{status: 204}, want{400, "-", map[string]string{"Content-Type": ProblemJSON}, "#inconsistent-upload-length"}},
		{"v8 completing append too short", http.MethodPatch, "/files/open", map[string]string{HeaderInteropVersion: "8", HeaderComplete: "?1", HeaderOffset: "100", "Content-Type": PartialUpload, "Content-Length": "899"},
			tusdLike{status: 204}, want{400, "-", map[string]string{"Content-Type": ProblemJSON}, "#inconsistent-upload-length"}},
		{"v8 completing append", http.MethodPatch, "/files/open", map[string]string{HeaderInteropVersion: "8", HeaderComplete: "?1", HeaderOffset: "100", "Content-Type": PartialUpload, "Content-Length": "900"},
			tusdLike{status: 204}, want{204, "6", nil, ""}},
		{"v6 completing append too short is tusd's", http.MethodPatch, "/files/open", map[string]string{HeaderInteropVersion: "6", HeaderComplete: "?1", HeaderOffset: "100", "Content-Type": PartialUpload, "Content-Length": "899"},
			tusdLike{status: 204}, want{204, "6", nil, ""}},
		{"tus OPTIONS announces limits", http.MethodOptions, "/files/", nil,
			tusdLike{status: 200}, want{200, "", map[string]string{HeaderLimit: "max-size=5000, min-size=0, max-append-size=5000, max-age=3600", "Accept-Patch": PartialUpload}, ""}},
		{"tus PATCH untouched", http.MethodPatch, "/files/open", map[string]string{"Tus-Resumable": "1.0.0", HeaderOffset: "7"},
			tusdLike{status: 409, body: "ERR_MISMATCHED_OFFSET: mismatched offset\n"}, want{409, "", map[string]string{HeaderOffset: "", "Content-Type": ""}, "ERR_MISMATCHED_OFFSET"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			next := tt.tusd
			r := httptest.NewRequest(tt.method, tt.path, strings.NewReader(""))
			for k, v := range tt.req {
				r.Header.Set(k, v)
			}
			if cl := tt.req["Content-Length"]; cl != "" {
				r.ContentLength, _ = strconv.ParseInt(cl, 10, 64)
			}
			rec := httptest.NewRecorder()
			mw(&next).ServeHTTP(rec, r)
			if rec.Code != tt.want.status {
				t.Errorf("status %d, want %d (body %q)", rec.Code, tt.want.status, rec.Body.String())
			}
			switch {
			case tt.want.tusdVer == "-" && next.seen != nil:
				t.Errorf("tusd was called")
			case tt.want.tusdVer != "-" && next.seen == nil:
				t.Errorf("tusd was not called")
			case next.seen != nil && next.seen.Header.Get(HeaderInteropVersion) != tt.want.tusdVer:
				t.Errorf("tusd saw interop %q, want %q", next.seen.Header.Get(HeaderInteropVersion), tt.want.tusdVer)
			}
			if next.seen != nil && Version(r.Header) >= 6 && r.Method == http.MethodPatch && next.seen.Header.Get("Content-Type") != PartialUpload {
				t.Errorf("tusd saw Content-Type %q", next.seen.Header.Get("Content-Type"))
			}
			if next.seen != nil && tt.req[HeaderLength] != "" && next.seen.Header.Get(HeaderLength) != "" && tt.method == http.MethodPatch {
				t.Errorf("tusd saw Upload-Length %q on an append", next.seen.Header.Get(HeaderLength))
			}
			for k, v := range tt.want.hdr {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if !strings.Contains(rec.Body.String(), tt.want.body) {
				t.Errorf("body %q, want it to contain %q", rec.Body.String(), tt.want.body)
			}
			if rec.Header().Get("Content-Type") == ProblemJSON {
				var p map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p["type"] == nil || p["title"] == nil {
					t.Errorf("problem body %q: %v", rec.Body.String(), err)
				}
			}
		})
	}
}
