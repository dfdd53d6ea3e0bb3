package e2e

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/vodgate/vodgate/internal/osstest"
)

// abandon creates an upload of 1 MB as tok's owner and sends its first
// 300 KB (so its OSS multipart upload exists), then leaves it.
func abandon(t testing.TB, endpoint, tok string, src source) (url string) {
	t.Helper()
	r := tusDo(t, http.MethodPost, endpoint, authHeader(tok, map[string]string{
		"Upload-Length":   strconv.FormatInt(src.Size, 10),
		"Upload-Metadata": encodeMetadata(map[string]string{"filename": "left.mp4"}),
	}), nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("POST = %d %s", r.Status, r.Body)
	}
	url = absURL(t, endpoint, r.Header.Get("Location"))
	p := tusDo(t, http.MethodPatch, url, authHeader(tok, map[string]string{
		"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}), src.readRange(t, 0, 300_000))
	if p.Status != http.StatusNoContent {
		t.Fatalf("PATCH = %d %s", p.Status, p.Body)
	}
	return url
}

// waitExpired polls the upload API until want uploads of tok's owner are
// listed as expired.
func waitExpired(t testing.TB, api, tok string, want int, within time.Duration) []apiItem {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		items := listAll(t, api, tok, "&state=expired", 100)
		if len(items) >= want {
			return items
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d uploads listed expired after %v", len(items), want, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// reaperEnv expires uploads after 2 s and reaps every 300 ms.
func reaperEnv(keyFile string) map[string]string {
	return map[string]string{
		"VODGATE_AUTH_UPLOAD_TOKEN_KEY_FILE": keyFile,
		"VODGATE_PART_SIZE":                  "100KiB",
		"VODGATE_EXPIRATION":                 "2s",
		"VODGATE_REAPER_INTERVAL":            "300ms",
	}
}

// Issue 14: with a short expiry and two instances, abandoned uploads are
// reaped exactly once: one abort per multipart upload, their media
// deleted, their records gone (HEAD 404), and they are listed as expired.
// A finished upload is left alone.
func TestReaperEndsAbandonedUploadsOnce(t *testing.T) {
	_, keyFile := writeSecretFile(t, "upload-token-keys")
	s := newStack(t, stackOptions{Env: reaperEnv(keyFile)})
	s.startGateway(nil)
	alice := mintToken(t, keyFile, "alice", 10*time.Minute)
	src := makeSource(t, 1_000_000, 1404)

	const n = 6
	urls := make([]string, n)
	for i := range urls {
		urls[i] = abandon(t, s.GW.Endpoint(), alice, src)
	}
	done := runTus(t, tusOptions{Endpoint: s.GW.Endpoint(), File: makeSource(t, 5000, 1405).Path,
		Metadata: map[string]string{"filename": "kept.mp4"}, Headers: authHeader(alice)})
	if got := len(s.OSS.Uploads()); got != n {
		t.Fatalf("OSS has %d multipart uploads before reaping, want %d", got, n)
	}

	deadline := time.Now().Add(30 * time.Second)
	for len(s.OSS.Uploads()) > 0 || s.VOD.CallCount("DeleteVideo") < n {
		if time.Now().After(deadline) {
			t.Fatalf("after 30s, OSS still has %d multipart uploads; VOD saw %d deletions", len(s.OSS.Uploads()), s.VOD.CallCount("DeleteVideo"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	items := waitExpired(t, s.GW.URL()+"/uploads", alice, n, 10*time.Second)
	time.Sleep(time.Second) // more passes, on either instance, must not repeat anything
	if got := s.OSS.CallCount(osstest.OpAbort); got != n {
		t.Errorf("OSS saw %d aborts, want exactly %d", got, n)
	}
	if left := s.OSS.Uploads(); len(left) != 0 {
		t.Errorf("OSS still has multipart uploads: %+v", left)
	}
	if got := s.VOD.CallCount("DeleteVideo"); got != n {
		t.Errorf("VOD saw %d DeleteVideo calls, want %d", got, n)
	}
	for _, it := range items {
		if _, ok := s.VOD.Media(it.MediaID); ok {
			t.Errorf("expired upload %s: media %s still exists", it.ID, it.MediaID)
		}
		if it.ExpiresAt != nil || it.Offset != 300_000 {
			t.Errorf("expired item %+v: want no expiresAt and offset 300000", it)
		}
	}
	for _, u := range urls {
		if h := tusDo(t, http.MethodHead, u, authHeader(alice), nil); h.Status != http.StatusNotFound {
			t.Errorf("HEAD %s after reaping = %d, want 404", u, h.Status)
		}
	}
	if _, ok := s.VOD.Media(done.MediaID); !ok {
		t.Errorf("the finished upload's media %s was deleted", done.MediaID)
	}
	if st := byState(listAll(t, s.GW.URL()+"/uploads", alice, "", 100)); st["complete"] != 1 || st["expired"] != n {
		t.Errorf("states %v, want 1 complete and %d expired", st, n)
	}
}

// Issue 14: a reaper SIGKILLed mid-pass (its VOD answer held) loses
// nothing: after its lease lapses, the other instance finishes every
// upload, and nothing is left in OSS or VOD.
func TestReaperKilledMidPassIsFinishedByAnother(t *testing.T) {
	_, keyFile := writeSecretFile(t, "upload-token-keys")
	s := newStack(t, stackOptions{Env: reaperEnv(keyFile)})
	alice := mintToken(t, keyFile, "alice", 10*time.Minute)
	src := makeSource(t, 1_000_000, 1406)

	s.VOD.SetReplyDelay("DeleteVideo", time.Minute)
	const n = 4
	for range n {
		abandon(t, s.GW.Endpoint(), alice, src)
	}
	deadline := time.Now().Add(30 * time.Second)
	for s.OSS.CallCount(osstest.OpAbort) == 0 || len(s.VOD.AllMedia()) == n {
		if time.Now().After(deadline) {
			t.Fatal("the reaper never got to its first upload")
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.GW.Kill() // mid-pass: one upload aborted and its media deleted, its record not yet removed
	s.VOD.SetReplyDelay("DeleteVideo", 0)

	gw2 := s.startGateway(nil)
	deadline = time.Now().Add(40 * time.Second) // the dead reaper's lease lapses first
	for len(s.OSS.Uploads()) > 0 || len(s.VOD.AllMedia()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after 40s, OSS still has %d multipart uploads and VOD %d media", len(s.OSS.Uploads()), len(s.VOD.AllMedia()))
		}
		time.Sleep(200 * time.Millisecond)
	}
	items := waitExpired(t, gw2.URL()+"/uploads", alice, n, 10*time.Second)
	if got := s.OSS.CallCount(osstest.OpAbort); got > n+1 {
		t.Errorf("OSS saw %d aborts for %d uploads, want at most one repeat", got, n)
	}
	if len(items) != n {
		t.Errorf("%d items expired, want %d", len(items), n)
	}
}
