package e2e

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// keyedPost sends a creation with an Idempotency-Key as tok's owner.
func keyedPost(t testing.TB, endpoint, tok, key string, length int64) rawResp {
	t.Helper()
	return tusDo(t, http.MethodPost, endpoint, authHeader(tok, map[string]string{
		"Idempotency-Key": key,
		"Upload-Length":   strconv.FormatInt(length, 10),
		"Upload-Metadata": encodeMetadata(map[string]string{"filename": "keyed.mp4"}),
	}), nil)
}

// Issue 14: a POST repeated with the same Idempotency-Key, on the same
// instance or another, yields one upload and one VOD media; another
// length gets 422; another owner's key is another key.
func TestIdempotentCreation(t *testing.T) {
	_, keyFile := writeSecretFile(t, "upload-token-keys")
	s := newStack(t, stackOptions{Env: map[string]string{"VODGATE_AUTH_UPLOAD_TOKEN_KEY_FILE": keyFile}})
	gw2 := s.startGateway(nil)
	alice := mintToken(t, keyFile, "alice", 10*time.Minute)
	bob := mintToken(t, keyFile, "bob", 10*time.Minute)

	first := keyedPost(t, s.GW.Endpoint(), alice, `"order-4711"`, 1000)
	if first.Status != http.StatusCreated {
		t.Fatalf("first POST = %d %s", first.Status, first.Body)
	}
	loc := first.Header.Get("Location")
	for _, ep := range []string{s.GW.Endpoint(), gw2.Endpoint()} {
		again := keyedPost(t, ep, alice, `"order-4711"`, 1000)
		if again.Status != http.StatusCreated || again.Header.Get("Location") != loc || again.Header.Get("Upload-Offset") != "0" {
			t.Fatalf("repeat on %s = %d Location %q Upload-Offset %q, want 201 %q 0",
				ep, again.Status, again.Header.Get("Location"), again.Header.Get("Upload-Offset"), loc)
		}
	}
	if r := keyedPost(t, gw2.Endpoint(), alice, `"order-4711"`, 1001); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("same key, other length = %d %s, want 422", r.Status, r.Body)
	}
	if r := keyedPost(t, gw2.Endpoint(), bob, `"order-4711"`, 1000); r.Status != http.StatusCreated || r.Header.Get("Location") == loc {
		t.Fatalf("bob with alice's key = %d Location %q, want a new upload", r.Status, r.Header.Get("Location"))
	}
	for _, bad := range []string{`""`, "caf\u00e9", strings.Repeat("k", 256)} {
		if r := keyedPost(t, s.GW.Endpoint(), alice, bad, 1000); r.Status != http.StatusBadRequest {
			t.Errorf("Idempotency-Key %q = %d, want 400", bad, r.Status)
		}
	}
	if n := s.VOD.CallCount("CreateUploadVideo"); n != 2 {
		t.Fatalf("VOD CreateUploadVideo called %d times, want 2 (alice once, bob once)", n)
	}
}

// Issue 14: a gateway SIGKILLed after VOD created the video and before the
// upload was recorded: the client's retry, on another instance, gets one
// upload whose media is that video (found by its ReferenceId), and the
// upload completes with the right bytes.
func TestIdempotentCreationSurvivesKill(t *testing.T) {
	_, keyFile := writeSecretFile(t, "upload-token-keys")
	s := newStack(t, stackOptions{Env: map[string]string{
		"VODGATE_AUTH_UPLOAD_TOKEN_KEY_FILE": keyFile,
		"VODGATE_IDEMPOTENCY_STALE_AFTER":    "2s",
	}})
	gw2 := s.startGateway(nil)
	alice := mintToken(t, keyFile, "alice", 10*time.Minute)
	src := makeSource(t, 700_000, 1403)

	s.VOD.SetReplyDelay("CreateUploadVideo", time.Minute)
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequest(http.MethodPost, s.GW.Endpoint(), nil)
		for k, v := range authHeader(alice, map[string]string{"Tus-Resumable": "1.0.0", "Idempotency-Key": "clip-1",
			"Upload-Length": strconv.FormatInt(src.Size, 10), "Upload-Metadata": encodeMetadata(map[string]string{"filename": "keyed.mp4"})}) {
			req.Header.Set(k, v)
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for len(s.VOD.AllMedia()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("VOD never created the video")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.GW.Kill() // VOD made the video; the gateway dies before it hears so
	<-done
	s.VOD.SetReplyDelay("CreateUploadVideo", 0)

	if r := keyedPost(t, gw2.Endpoint(), alice, "clip-1", src.Size); r.Status != http.StatusConflict {
		t.Fatalf("retry while the claim is fresh = %d %s, want 409", r.Status, r.Body)
	}
	time.Sleep(2100 * time.Millisecond)
	r := keyedPost(t, gw2.Endpoint(), alice, "clip-1", src.Size)
	if r.Status != http.StatusCreated {
		t.Fatalf("retry after the claim went stale = %d %s, want 201", r.Status, r.Body)
	}
	media := s.VOD.AllMedia()
	if len(media) != 1 || r.Header.Get("Vod-Media-Id") != media[0].ID {
		t.Fatalf("VOD has %d media (%+v); the retry's media is %q, want the one video", len(media), media, r.Header.Get("Vod-Media-Id"))
	}
	url := absURL(t, gw2.Endpoint(), r.Header.Get("Location"))
	p := tusDo(t, http.MethodPatch, url, authHeader(alice, map[string]string{
		"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}), src.readRange(t, 0, src.Size))
	if p.Status != http.StatusNoContent {
		t.Fatalf("PATCH = %d %s", p.Status, p.Body)
	}
	s.checkUploaded(t, media[0].ID, src)
	again := keyedPost(t, gw2.Endpoint(), alice, "clip-1", src.Size)
	if again.Status != http.StatusCreated || again.Header.Get("Upload-Offset") != strconv.FormatInt(src.Size, 10) {
		t.Fatalf("replay after completion = %d offset %q, want 201 at %d", again.Status, again.Header.Get("Upload-Offset"), src.Size)
	}
	if n := len(s.VOD.AllMedia()); n != 1 {
		t.Fatalf("VOD has %d media, want 1", n)
	}
}
