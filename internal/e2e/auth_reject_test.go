package e2e

import (
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vodgate/vodgate/internal/osstest"
)

// createHeaders are the headers of a creation POST.
func createHeaders(size int64, filename string) map[string]string {
	return map[string]string{
		"Upload-Length":   itoa(size),
		"Upload-Metadata": encodeMetadata(map[string]string{"filename": filename}),
	}
}

// patchHeaders are the headers of a PATCH at off.
func patchHeaders(off int64) map[string]string {
	return map[string]string{"Content-Type": "application/offset+octet-stream", "Upload-Offset": itoa(off)}
}

// TestAuthRejectionsRaw sends hand-written requests to a gateway that takes
// upload tokens: creations without a valid token get 401 with
// WWW-Authenticate (and CORS headers, so a browser app can read them) and
// create nothing; another owner's token on an upload's URL gets, for HEAD,
// PATCH and DELETE, the very 404 a guessed upload ID gets, and changes
// nothing: the owner then finishes the upload.
func TestAuthRejectionsRaw(t *testing.T) {
	_, keyFile := writeSecretFile(t, "upload-token-keys")
	_, otherKeyFile := writeSecretFile(t, "other-keys")
	s := newStack(t, stackOptions{Env: map[string]string{"VODGATE_AUTH_UPLOAD_TOKEN_KEY_FILE": keyFile}})
	ep := s.GW.Endpoint()
	alice := mintToken(t, keyFile, "alice", 10*time.Minute)
	bob := mintToken(t, keyFile, "bob", 10*time.Minute)

	t.Run("creation", func(t *testing.T) {
		media, inits := len(s.VOD.AllMedia()), s.OSS.CallCount(osstest.OpInitiate)
		jwtSecret := []byte(hex.EncodeToString(randomBytes(t, 32)))
		tests := []struct {
			name   string
			target string
			auth   string // Authorization header; "" for none
			reason string // in WWW-Authenticate; "" for a missing token
		}{
			{name: "no token", target: ep},
			{name: "basic scheme", target: ep, auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:secret"))},
			{name: "empty bearer", target: ep, auth: "Bearer "},
			{name: "token in the query", target: ep + "?access_token=" + url.QueryEscape(alice)},
			{name: "signed with another key", target: ep, auth: "Bearer " + mintToken(t, otherKeyFile, "alice", 10*time.Minute),
				reason: "invalid token signature"},
			// What XHR sends when onBeforeRequest sets Authorization on top of
			// the headers option: the values are joined, not replaced.
			{name: "two bearer values", target: ep, auth: "Bearer " + alice + ", Bearer " + bob, reason: "invalid_token"},
			{name: "JWT where only upload tokens are accepted", target: ep, reason: "JWTs are not accepted",
				auth: "Bearer " + signHS256(jwtSecret, map[string]any{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix()})},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				hdr := createHeaders(1000, "x.mp4")
				if tc.auth != "" {
					hdr["Authorization"] = tc.auth
				}
				r := tusDo(t, http.MethodPost, tc.target, hdr, nil)
				www := r.Header.Get("WWW-Authenticate")
				if r.Status != http.StatusUnauthorized || !strings.HasPrefix(www, `Bearer realm=`) || !strings.Contains(www, tc.reason) {
					t.Errorf("POST: %d, WWW-Authenticate %q; want 401 with a Bearer challenge naming %q (body %q)", r.Status, www, tc.reason, r.Body)
				}
				if r.Header.Get("Location") != "" || r.Header.Get("Vod-Media-Id") != "" {
					t.Errorf("refused POST answered Location %q, Vod-Media-Id %q", r.Header.Get("Location"), r.Header.Get("Vod-Media-Id"))
				}
				if strings.Contains(r.Body, alice) || strings.Contains(www, alice) {
					t.Errorf("the response repeats the token: %q", r.Body)
				}
			})
		}
		if n := len(s.VOD.AllMedia()); n != media {
			t.Errorf("VOD media %d -> %d: a refused creation created a media", media, n)
		}
		if n := s.OSS.CallCount(osstest.OpInitiate); n != inits {
			t.Errorf("InitiateMultipartUpload calls %d -> %d", inits, n)
		}
	})

	t.Run("401-readable-cross-origin", func(t *testing.T) {
		const origin = "http://app.e2e.example"
		hdr := createHeaders(1000, "x.mp4")
		hdr["Origin"] = origin
		r := tusDo(t, http.MethodPost, ep, hdr, nil)
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("POST without a token from %s: %d", origin, r.Status)
		}
		if got := r.Header.Get("Access-Control-Allow-Origin"); got != origin && got != "*" {
			t.Errorf("401 Access-Control-Allow-Origin = %q, want %q: a browser app cannot see why it failed", got, origin)
		}
		if !headerListHas(r.Header.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
			t.Errorf("401 Access-Control-Expose-Headers = %q, want WWW-Authenticate in it", r.Header.Get("Access-Control-Expose-Headers"))
		}
	})

	t.Run("other-owner", func(t *testing.T) {
		src := makeSource(t, MiB+5, 621)
		const first = 300 * KiB
		r := tusDo(t, http.MethodPost, ep, authHeader(alice, createHeaders(src.Size, "alice-raw.mp4")), nil)
		if r.Status != http.StatusCreated {
			t.Fatalf("alice's POST: %d %s", r.Status, r.Body)
		}
		up, mediaID := absURL(t, ep, r.Header.Get("Location")), r.Header.Get("Vod-Media-Id")
		if r = tusDo(t, http.MethodPatch, up, authHeader(alice, patchHeaders(0)), src.readRange(t, 0, first)); r.Status != http.StatusNoContent {
			t.Fatalf("alice's PATCH: %d %s", r.Status, r.Body)
		}
		id := up[strings.LastIndex(up, "/")+1:]
		guessed := ep + hex.EncodeToString(randomBytes(t, (len(id)+1)/2))[:len(id)]

		before := map[osstest.Op]int{}
		for _, op := range []osstest.Op{osstest.OpUploadPart, osstest.OpPut, osstest.OpAbort, osstest.OpComplete, osstest.OpDelete} {
			before[op] = s.OSS.CallCount(op)
		}
		vodCalls := len(s.VOD.Calls())
		next := src.readRange(t, first, 200*KiB)
		tests := []struct {
			name   string
			method string
			tok    string
			hdr    map[string]string
			body   []byte
			want   int
		}{
			{name: "HEAD", method: http.MethodHead, tok: bob, want: http.StatusNotFound},
			{name: "PATCH", method: http.MethodPatch, tok: bob, hdr: patchHeaders(first), body: next, want: http.StatusNotFound},
			{name: "DELETE", method: http.MethodDelete, tok: bob, want: http.StatusNotFound},
			{name: "PATCH via X-HTTP-Method-Override", method: http.MethodPost, tok: bob, body: next, want: http.StatusNotFound,
				hdr: map[string]string{"X-HTTP-Method-Override": "PATCH", "Content-Type": "application/offset+octet-stream", "Upload-Offset": itoa(first)}},
			{name: "DELETE via X-HTTP-Method-Override", method: http.MethodPost, tok: bob, want: http.StatusNotFound,
				hdr: map[string]string{"X-HTTP-Method-Override": "DELETE"}},
			{name: "HEAD without a token", method: http.MethodHead, want: http.StatusUnauthorized},
			{name: "PATCH without a token", method: http.MethodPatch, hdr: patchHeaders(first), body: next, want: http.StatusUnauthorized},
			{name: "DELETE without a token", method: http.MethodDelete, want: http.StatusUnauthorized},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got := tusDo(t, tc.method, up, authHeader(tc.tok, tc.hdr), tc.body)
				if got.Status != tc.want {
					t.Fatalf("%s on alice's upload: %d %q, want %d", tc.name, got.Status, got.Body, tc.want)
				}
				for _, h := range []string{"Upload-Offset", "Upload-Length", "Upload-Metadata", "Vod-Media-Id", "Vod-Media-Type"} {
					if v := got.Header.Get(h); v != "" {
						t.Errorf("%s on alice's upload answered %s: %q", tc.name, h, v)
					}
				}
				// Indistinguishable from an upload that does not exist.
				if want := tusDo(t, tc.method, guessed, authHeader(tc.tok, tc.hdr), tc.body); got.Status != want.Status || got.Body != want.Body {
					t.Errorf("%s: alice's upload answers %d %q, a guessed ID %d %q", tc.name, got.Status, got.Body, want.Status, want.Body)
				}
			})
		}

		// Nothing changed: no OSS or VOD call, and alice's upload is intact.
		for op, n := range before {
			if m := s.OSS.CallCount(op); m != n {
				t.Errorf("OSS %s calls %d -> %d after the refused requests", op, n, m)
			}
		}
		if n := len(s.VOD.Calls()); n != vodCalls {
			t.Errorf("VOD calls %d -> %d after the refused requests", vodCalls, n)
		}
		if off := headOffsetAs(t, up, alice); off != first {
			t.Errorf("alice's offset = %d, want %d", off, first)
		}
		r = tusDo(t, http.MethodPatch, up, authHeader(alice, patchHeaders(first)), src.readRange(t, first, src.Size-first))
		if r.Status != http.StatusNoContent || r.Header.Get("Upload-Offset") != itoa(src.Size) {
			t.Fatalf("alice's last PATCH: %d offset %q %s", r.Status, r.Header.Get("Upload-Offset"), r.Body)
		}
		s.checkUploaded(t, mediaID, src)
		if r = tusDo(t, http.MethodHead, up, authHeader(bob), nil); r.Status != http.StatusNotFound {
			t.Errorf("bob's HEAD on the finished upload: %d, want 404", r.Status)
		}
	})
}

// headerListHas reports whether a comma-separated header value lists name
// (case-insensitively).
func headerListHas(list, name string) bool {
	for _, v := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(v), name) {
			return true
		}
	}
	return false
}
