package e2e

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/vodgate/vodgate/internal/testenv"
)

// TestAuthUppyChromium uploads 8 MiB with @uppy/core + @uppy/tus in headless
// Chromium, from a page on another origin, to a gateway that takes upload
// tokens: once with the token in the @uppy/tus headers option, once with the
// token renewed mid-upload in onBeforeRequest. Before that it checks the
// CORS preflight the browser sends: Authorization must be allowed by name
// (a wildcard does not cover it).
func TestAuthUppyChromium(t *testing.T) {
	testenv.Node(t)
	testenv.Chromium(t)
	_, keyFile := writeSecretFile(t, "upload-token-keys")
	s := newStack(t, stackOptions{Env: map[string]string{"VODGATE_AUTH_UPLOAD_TOKEN_KEY_FILE": keyFile}})

	t.Run("preflight", func(t *testing.T) {
		const origin = "http://page.e2e.example:8000"
		for _, method := range []string{http.MethodPost, http.MethodHead, http.MethodPatch, http.MethodDelete} {
			target := s.GW.Endpoint()
			if method != http.MethodPost {
				target += "0123456789abcdef0123456789abcdef"
			}
			r := tusDo(t, http.MethodOptions, target, map[string]string{
				"Tus-Resumable":                  "", // a preflight carries no tus headers
				"Origin":                         origin,
				"Access-Control-Request-Method":  method,
				"Access-Control-Request-Headers": "authorization,tus-resumable,upload-length,upload-metadata,upload-offset,content-type",
			}, nil)
			if r.Status != http.StatusOK && r.Status != http.StatusNoContent {
				t.Errorf("preflight for %s: %d %q", method, r.Status, r.Body)
				continue
			}
			if got := r.Header.Get("Access-Control-Allow-Origin"); got != origin && got != "*" {
				t.Errorf("preflight for %s: Access-Control-Allow-Origin %q", method, got)
			}
			if got := r.Header.Get("Access-Control-Allow-Headers"); !headerListHas(got, "Authorization") {
				t.Errorf("preflight for %s: Access-Control-Allow-Headers %q does not name Authorization", method, got)
			}
			if got := r.Header.Get("Access-Control-Allow-Methods"); !headerListHas(got, method) {
				t.Errorf("preflight for %s: Access-Control-Allow-Methods %q", method, got)
			}
		}
	})

	const size = 8 * MiB
	tests := []struct {
		name    string
		renewed bool
	}{
		{name: "headers-option"},
		{name: "renewed-in-onBeforeRequest", renewed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{
				"size":    {strconv.Itoa(size)},
				"chunk":   {strconv.Itoa(2 * MiB)},
				"pauseAt": {strconv.Itoa(3 * MiB)},
				"pauseMs": {"500"},
				"token":   {mintToken(t, keyFile, "dave", 10*time.Minute)},
			}
			if tc.renewed {
				q.Set("token2", mintToken(t, keyFile, "dave", 10*time.Minute))
				q.Set("renewAfter", "2")
			}
			res, stderr := runUppyPage(t, s, q)
			if !res.OK {
				t.Fatalf("uppy upload failed: %s\nrequests: %+v\ndriver stderr:\n%s", res.Error, res.Requests, stderr)
			}
			var trace []tusRequest
			byToken := map[int]int{}
			var postID, finalID string
			for _, rq := range res.Requests {
				trace = append(trace, tusRequest{Method: rq.Method, Status: rq.Status, Offset: rq.Offset})
				byToken[rq.Auth]++
				if rq.Status >= 300 {
					t.Errorf("%s answered %d", rq.Method, rq.Status)
				}
				if rq.Method == http.MethodPost && rq.Status == http.StatusCreated {
					postID = rq.MediaID
				}
				if rq.Method == http.MethodPatch && rq.Status < 300 {
					finalID = rq.MediaID
				}
			}
			t.Logf("requests: %s; by token: %v", describeRequests(trace), byToken)
			switch {
			case byToken[0] > 0:
				t.Errorf("%d requests carried no token we gave", byToken[0])
			case !tc.renewed && byToken[2] > 0, !tc.renewed && byToken[1] == 0:
				t.Errorf("requests by token %v, want all with the first", byToken)
			case tc.renewed && (byToken[1] == 0 || byToken[2] == 0):
				t.Errorf("requests by token %v, want some with each", byToken)
			}
			if postID == "" || postID != finalID {
				t.Errorf("Vod-Media-Id on POST %q, on the final PATCH %q", postID, finalID)
			}
			s.checkUploaded(t, finalID, source{Size: size, SHA256: res.SHA256})
		})
	}
}
