package e2e

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDraftRules shows that draft requests obey the gateway's rules as tus
// requests do: authentication, ownership, metadata mapping and its
// validation, size limits and CORS.
func TestDraftRules(t *testing.T) {
	_, keyFile := writeSecretFile(t, "upload-token-keys")
	s := newStack(t, stackOptions{Env: map[string]string{
		"VODGATE_AUTH_UPLOAD_TOKEN_KEY_FILE": keyFile,
		"VODGATE_PART_SIZE":                  "1MiB",
		"VODGATE_MAX_SIZE":                   "8MiB",
	}})
	ep := s.GW.Endpoint()
	alice, bob := newDraftClient(8), newDraftClient(8)
	alice.auth = "Bearer " + mintToken(t, keyFile, "alice", 10*time.Minute)
	bob.auth = "Bearer " + mintToken(t, keyFile, "bob", 10*time.Minute)

	t.Run("no token", func(t *testing.T) {
		anon := newDraftClient(8)
		media := len(s.VOD.AllMedia())
		r := anon.create(t, ep, "x.mp4", []byte("abc"), true, 3)
		if r.Status != http.StatusUnauthorized || len(r.Interim) != 0 {
			t.Errorf("POST without a token: %d with %d interim responses, want 401 and none", r.Status, len(r.Interim))
		}
		if n := len(s.VOD.AllMedia()); n != media {
			t.Errorf("refused POST created %d media", n-media)
		}
	})

	src := makeSource(t, 2*MiB+99, 501)
	var u string
	t.Run("metadata from Upload-Metadata and Content-Disposition", func(t *testing.T) {
		h := http.Header{}
		alice.setComplete(h, false)
		h.Set("Content-Disposition", `inline; filename="holiday.mov"`)
		h.Set("Upload-Metadata", encodeMetadata(map[string]string{"title": "Holiday by the sea", "tags": "sea,summer"}))
		h.Set("Upload-Length", strconv.FormatInt(src.Size, 10))
		r, err := alice.do(t.Context(), http.MethodPost, ep, h, bytes.NewReader(src.readRange(t, 0, MiB)), MiB, nil)
		if err != nil || r.Status != http.StatusCreated {
			t.Fatalf("POST: %v %d %s", err, r.Status, r.Body)
		}
		u = absURL(t, ep, r.Header.Get("Location"))
		m, ok := s.VOD.Media(r.Header.Get("Vod-Media-Id"))
		if !ok || m.Title != "Holiday by the sea" || m.FileName != "holiday.mov" || m.Params["Tags"] != "sea,summer" {
			t.Errorf("media %+v, want title, file name and tags from the request", m)
		}
	})

	t.Run("another owner", func(t *testing.T) {
		for _, method := range []string{http.MethodHead, http.MethodPatch, http.MethodDelete} {
			h := http.Header{}
			if method == http.MethodPatch {
				bob.setComplete(h, true)
				h.Set("Upload-Offset", strconv.Itoa(MiB))
				h.Set("Content-Type", "application/partial-upload")
			}
			r, err := bob.do(t.Context(), method, u, h, strings.NewReader("x"), 1, nil)
			if err != nil || r.Status != http.StatusNotFound {
				t.Errorf("bob's %s of alice's upload: %v %d, want 404", method, err, r.Status)
			}
		}
		if off, _ := alice.offset(t, u); off != MiB {
			t.Errorf("offset after bob's attempts = %d, want %d", off, MiB)
		}
	})

	t.Run("owner completes", func(t *testing.T) {
		r := alice.appendData(t, u, MiB, src.readRange(t, MiB, src.Size-MiB), true)
		if r.Status/100 != 2 {
			t.Fatalf("PATCH: %d %s", r.Status, r.Body)
		}
		checkDraftResponse(t, alice, "PATCH", r, true)
		s.checkUploaded(t, r.Header.Get("Vod-Media-Id"), src)
	})

	t.Run("default file name by Content-Type", func(t *testing.T) {
		img := makeSource(t, 150*KiB, 502)
		h := http.Header{}
		alice.setComplete(h, true)
		h.Set("Content-Type", "image/png")
		r, err := alice.do(t.Context(), http.MethodPost, ep, h, bytes.NewReader(img.readRange(t, 0, img.Size)), img.Size, nil)
		if err != nil || r.Status/100 != 2 {
			t.Fatalf("POST: %v %d %s", err, r.Status, r.Body)
		}
		m, ok := s.VOD.Media(r.Header.Get("Vod-Media-Id"))
		if !ok || m.Type != "image" || r.Header.Get("Vod-Media-Type") != "image" || m.Params["OriginalFileName"] != "upload.png" {
			t.Errorf("media %+v (Vod-Media-Type %q), want an image named upload.png", m, r.Header.Get("Vod-Media-Type"))
		}
		s.checkUploaded(t, m.ID, img)
	})

	t.Run("invalid metadata", func(t *testing.T) {
		media := len(s.VOD.AllMedia())
		r := alice.create(t, ep, "setup.exe", []byte("abc"), true, 3)
		if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, "ERR_INVALID_METADATA") || len(r.Interim) != 0 {
			t.Errorf("POST of setup.exe: %d %q with %d interim responses, want 400 ERR_INVALID_METADATA and no 104", r.Status, r.Body, len(r.Interim))
		}
		if n := len(s.VOD.AllMedia()); n != media {
			t.Errorf("refused POST created %d media", n-media)
		}
	})

	t.Run("over max-size", func(t *testing.T) {
		h := http.Header{}
		alice.setComplete(h, false)
		h.Set("Content-Disposition", `inline; filename="big.mp4"`)
		h.Set("Upload-Length", strconv.Itoa(9*MiB))
		r, err := alice.do(t.Context(), http.MethodPost, ep, h, nil, 0, nil)
		if err != nil || r.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("POST of 9 MiB over max-size 8 MiB: %v %d %s, want 413", err, r.Status, r.Body)
		}
		if lim := limitKeys(t, r.Header.Get("Upload-Limit")); lim["max-size"] != 8*MiB {
			t.Errorf("413 Upload-Limit %v, want max-size %d", lim, 8*MiB)
		}
	})

	t.Run("CORS", func(t *testing.T) {
		pre, err := alice.do(t.Context(), http.MethodOptions, ep, http.Header{
			"Origin":                         {"https://app.example.com"},
			"Access-Control-Request-Method":  {"POST"},
			"Access-Control-Request-Headers": {"upload-complete,upload-draft-interop-version,content-disposition,upload-length"},
		}, nil, 0, nil)
		if err != nil || pre.Status/100 != 2 {
			t.Fatalf("preflight: %v %d", err, pre.Status)
		}
		allow := strings.ToLower(pre.Header.Get("Access-Control-Allow-Headers"))
		for _, name := range []string{"upload-complete", "upload-incomplete", "upload-draft-interop-version", "content-disposition", "upload-offset", "upload-length"} {
			if !strings.Contains(allow, name) {
				t.Errorf("Access-Control-Allow-Headers %q lacks %s", allow, name)
			}
		}
		h := http.Header{"Origin": {"https://app.example.com"}}
		r, err := alice.do(t.Context(), http.MethodHead, u, h, nil, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		expose := strings.ToLower(r.Header.Get("Access-Control-Expose-Headers"))
		for _, name := range []string{"upload-limit", "upload-complete", "upload-offset", "upload-length", "upload-draft-interop-version", "location", "vod-media-id"} {
			if !strings.Contains(expose, name) {
				t.Errorf("Access-Control-Expose-Headers %q lacks %s", expose, name)
			}
		}
	})
}
