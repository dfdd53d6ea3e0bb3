package e2e

import (
	"net/http"
	"testing"
)

// TestOSSAuthV4Default uploads through a gateway with the default OSS
// signing config against an OSS simulator that refuses signature V1: the
// upload (several parts, so initiate, upload part and complete are all
// signed) succeeds. With oss-auth-v4=false the same upload's bytes are
// refused by OSS and the PATCH fails.
func TestOSSAuthV4Default(t *testing.T) {
	const total = 12 * MiB // > one 5 MiB part, so a multipart upload
	src := makeSource(t, total, 16)
	tests := []struct {
		name   string
		env    map[string]string
		wantOK bool
	}{
		{name: "default config signs V4", env: nil, wantOK: true},
		{name: "oss-auth-v4=false signs V1", env: map[string]string{"VODGATE_OSS_AUTH_V4": "false"}, wantOK: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t, stackOptions{OSSRefuseV1: true, Env: tc.env})
			uploadURL, _ := createUpload(t, s.GW.Endpoint(), total, map[string]string{"filename": "v4.mp4"})
			r := patchUpload(t, uploadURL, 0, src.readRange(t, 0, total))
			if !tc.wantOK {
				if r.Status == http.StatusNoContent {
					t.Fatalf("PATCH with V1 signing against an OSS that refuses V1: 204, want a failure")
				}
				if h := headUpload(t, uploadURL); h.Offset == itoa(total) {
					t.Fatalf("HEAD after refused PATCH: offset %s, want < %d", h.Offset, total)
				}
				return
			}
			if r.Status != http.StatusNoContent {
				t.Fatalf("PATCH: %d %s", r.Status, r.Body)
			}
			s.checkUploaded(t, r.Header.Get("Vod-Media-Id"), src)
		})
	}
}
