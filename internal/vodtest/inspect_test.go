package vodtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alibabacloud-go/tea/tea"
	vod "github.com/alibabacloud-go/vod-20170321/v4/client"
)

func TestSimHTTPAPI(t *testing.T) {
	e := newEnv(t, nil)
	c := e.static(t)
	id := tea.StringValue(createVideo(t, c, "sim", "s.mp4").VideoId)
	base := "http://" + e.vod.Endpoint() + "/_sim/"
	get := func(path string, out any) int {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if out != nil {
			if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
				t.Fatalf("decode %s: %v", path, err)
			}
		}
		return resp.StatusCode
	}
	post := func(path, body string) int {
		t.Helper()
		resp, err := http.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	var all []Media
	if st := get("media", &all); st != 200 || len(all) != 1 || all[0].ID != id {
		t.Fatalf("GET media: %d %+v", st, all)
	}
	var one Media
	if st := get("media/"+id, &one); st != 200 || one.Title != "sim" || one.Status != StatusUploading {
		t.Fatalf("GET media/id: %d %+v", st, one)
	}
	if st := get("media/nope", nil); st != 404 {
		t.Errorf("GET media/nope: %d", st)
	}
	var calls []Call
	if st := get("calls", &calls); st != 200 || len(calls) != 1 || calls[0].Action != "CreateUploadVideo" {
		t.Fatalf("GET calls: %d %+v", st, calls)
	}
	for _, tc := range []struct {
		path, body string
		want       int
	}{
		{"fail", `{"action":"GetVideoInfo","n":1,"status":400,"code":"Throttling.User"}`, 200},
		{"fail", `{"action":"GetVideoInfo","n":1}`, 400},
		{"fail", `not json`, 400},
		{"status", `{"id":"` + id + `","status":"Normal"}`, 200},
		{"status", `{"id":"nope","status":"Normal"}`, 404},
		{"latency", `{"ms":1}`, 200},
		{"expire", ``, 200},
		{"sweep", ``, 200},
		{"unknown", ``, 404},
	} {
		if got := post(tc.path, tc.body); got != tc.want {
			t.Errorf("POST %s %s: %d, want %d", tc.path, tc.body, got, tc.want)
		}
	}
	_, err := c.GetVideoInfo(&vod.GetVideoInfoRequest{VideoId: tea.String(id)})
	if se := sdkError(t, err); tea.StringValue(se.Code) != "Throttling.User" {
		t.Fatalf("after /_sim/fail: %v", err)
	}
	info, err := c.GetVideoInfo(&vod.GetVideoInfoRequest{VideoId: tea.String(id)})
	if err != nil || tea.StringValue(info.Body.Video.Status) != StatusNormal {
		t.Fatalf("after /_sim/status: %v %v", info, err)
	}
}

func TestLatency(t *testing.T) {
	e := newEnv(t, nil)
	e.vod.SetLatency(150 * time.Millisecond)
	start := time.Now()
	createVideo(t, e.static(t), "slow", "s.mp4")
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("call took %v, want >= 150ms", d)
	}
}
