package limits

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode"

	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/vodgate/vodgate/tusstore"
)

// FuzzMetadata feeds Upload-Metadata headers through the gateway's
// metadata path: the limiter's header check, tusd's parser and
// tusstore.CreateRequest. Nothing may panic; a header the check accepts
// parses to the same keys; CreateRequest either fails with a 400 tus error
// or returns a request whose file name carries no path or control
// character and whose fields respect VOD's limits.
func FuzzMetadata(f *testing.F) {
	for _, s := range []string{
		"filename " + b64("a.mp4") + ",filetype " + b64("video/mp4"),
		"filename " + b64("../../etc/passwd.mp4"),
		"filename " + b64("a\r\nb.mp4"),
		"name " + b64("cover.png") + ",type " + b64("image") + ",imageType " + b64("cover"),
		"filename " + b64("sub.vtt") + ",type " + b64("attached") + ",businessType " + b64("subtitle"),
		"filename " + b64("a.mp4") + ",tags " + b64("a, b,,c") + ",cateId " + b64("12") + ",userData " + b64(`{"k":1}`),
		"filename " + b64("a.mp4") + ",coverURL " + b64("javascript:alert(1)"),
		"filename " + b64("a.mp4") + ",templateGroupId " + b64("tg-1") + ",storageLocation " + b64("x y"),
		"filename " + b64("\xff\xfe.mp4"),
		"filename " + b64("a.mp4") + ",title " + b64("😀"),
		"filename a.mp4", "a,,b", ",", "k " + b64(""), "",
	} {
		f.Add(s, int64(1000))
	}
	f.Fuzz(func(t *testing.T, header string, size int64) {
		if err := checkMetadata(header, DefaultMaxMetadataBytes); err != nil {
			if err.HTTPResponse.StatusCode != http.StatusBadRequest {
				t.Fatalf("check status %d", err.HTTPResponse.StatusCode)
			}
			return
		}
		meta := handler.ParseMetadataHeader(header)
		for _, pair := range strings.Split(header, ",") {
			if key, _, _ := strings.Cut(strings.TrimSpace(pair), " "); key != "" {
				if _, ok := meta[key]; !ok {
					t.Fatalf("accepted key %q dropped by tusd", key)
				}
			}
		}
		if size < 0 {
			size = -size
		}
		req, err := tusstore.CreateRequest(meta, tusstore.Defaults{}, size)
		if err != nil {
			var he handler.Error
			if !errors.As(err, &he) || he.HTTPResponse.StatusCode != http.StatusBadRequest {
				t.Fatalf("CreateRequest error %v is not a 400 tus error", err)
			}
			return
		}
		if req.FileName == "" || strings.ContainsAny(req.FileName, "/\\") || req.FileName == ".." {
			t.Fatalf("file name %q accepted", req.FileName)
		}
		for _, r := range req.FileName + req.Title {
			if unicode.IsControl(r) {
				t.Fatalf("control character in %q / %q", req.FileName, req.Title)
			}
		}
		if len(req.Title) > 128 || len(req.Description) > 1024 || len(req.Tags) > 16 || len(req.UserData) > 1024 {
			t.Fatalf("field over VOD's limits: %+v", req)
		}
		if req.CoverURL != "" && !strings.HasPrefix(req.CoverURL, "http") {
			t.Fatalf("cover URL %q accepted", req.CoverURL)
		}
	})
}
