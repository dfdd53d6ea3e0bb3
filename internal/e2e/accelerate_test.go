package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// Issue 16: with AccelerateConfig in the media's UserData, every OSS
// request of the upload goes to the acceleration host and none to the
// region host; a Domain outside oss-accelerate-hosts is refused with 400
// before VOD is called.
func TestAccelerateConfig(t *testing.T) {
	_, keyFile := writeSecretFile(t, "upload-token-keys")
	s := newStack(t, stackOptions{Env: map[string]string{
		"VODGATE_AUTH_UPLOAD_TOKEN_KEY_FILE": keyFile,
		"VODGATE_PART_SIZE":                  "256KiB",
		"VODGATE_OSS_ACCELERATE_HOSTS":       "localhost",
	}})
	alice := mintToken(t, keyFile, "alice", 10*time.Minute)
	regionHost := strings.TrimPrefix(s.OSS.URL(), "http://")
	accelHost := "localhost:" + regionHost[strings.LastIndex(regionHost, ":")+1:]
	src := makeSource(t, 1*MiB+5, 1601)

	userData := `{"AccelerateConfig":{"Type":"oss","Domain":"http://` + accelHost + `"}}`
	res := runTus(t, tusOptions{Endpoint: s.GW.Endpoint(), File: src.Path, ChunkSize: 512 << 10,
		Metadata: map[string]string{"filename": "fast.mp4", "userData": userData}, Headers: authHeader(alice)})
	s.checkUploaded(t, res.MediaID, src)
	parts := 0
	for _, c := range s.OSS.Calls() {
		if c.Host != accelHost {
			t.Errorf("OSS %s went to %s, want the acceleration host %s", c.Op, c.Host, accelHost)
		}
		if c.Op == "UploadPart" {
			parts++
		}
	}
	if parts < 4 {
		t.Fatalf("%d parts uploaded, want at least 4", parts)
	}

	before := s.VOD.CallCount("CreateUploadVideo")
	bad := `{"AccelerateConfig":{"Type":"oss","Domain":"https://collector.example.net"}}`
	r := tusDo(t, http.MethodPost, s.GW.Endpoint(), authHeader(alice, map[string]string{
		"Upload-Length":   "1000",
		"Upload-Metadata": encodeMetadata(map[string]string{"filename": "x.mp4", "userData": bad}),
	}), nil)
	if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, "oss-accelerate-hosts") {
		t.Fatalf("AccelerateConfig to another host = %d %q, want 400 naming oss-accelerate-hosts", r.Status, r.Body)
	}
	if s.VOD.CallCount("CreateUploadVideo") != before {
		t.Fatal("a refused creation reached VOD")
	}
}
