package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vodgate/vodgate/internal/testenv"
	"github.com/vodgate/vodgate/internal/vodtest"
)

// hook is one line of js/webhook-receiver.mjs.
type hook struct {
	Event    string `json:"event"`
	Port     int    `json:"port"`
	ID       string `json:"id"`
	Type     string `json:"type"`
	UploadID string `json:"uploadId"`
	Attempts int    `json:"attempts"`
	Error    string `json:"error"`
	Body     struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	} `json:"body"`
}

// receiver is a running js/webhook-receiver.mjs.
type receiver struct {
	URL   string
	stdin io.Writer
	mu    sync.Mutex
	lines []hook
}

// startReceiver starts a receiver verifying with secret that fails the
// first failFirst deliveries of each event.
func startReceiver(t *testing.T, secret string, failFirst int) *receiver {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, testenv.Node(t), jsPath("webhook-receiver.mjs"))
	cmd.Env = append(os.Environ(), "WEBHOOK_SECRET="+secret, "FAIL_FIRST="+strconv.Itoa(failFirst))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := newTailLog(64 << 10)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("receiver stderr: %s", stderr.String())
		}
	})
	r := &receiver{stdin: stdin}
	port := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var h hook
			if json.Unmarshal(sc.Bytes(), &h) != nil {
				continue
			}
			if h.Event == "listening" {
				port <- h.Port
				continue
			}
			r.mu.Lock()
			r.lines = append(r.lines, h)
			r.mu.Unlock()
		}
	}()
	select {
	case p := <-port:
		r.URL = "http://127.0.0.1:" + strconv.Itoa(p) + "/hooks"
	case <-time.After(20 * time.Second):
		t.Fatalf("webhook receiver did not start: %s", stderr.String())
	}
	return r
}

func (r *receiver) snapshot() []hook {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hook(nil), r.lines...)
}

// accepted returns the accepted events, in the order accepted.
func (r *receiver) accepted() []hook {
	var out []hook
	for _, h := range r.snapshot() {
		if h.Event == "accepted" {
			out = append(out, h)
		}
	}
	return out
}

// waitAccepted waits until n events are accepted.
func (r *receiver) waitAccepted(t *testing.T, n int, within time.Duration) []hook {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := r.accepted()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events accepted after %v: %+v", len(got), n, within, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writeWebhookSecret writes a whsec_ secret file and returns the secret.
func writeWebhookSecret(t *testing.T) (string, string) {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	secret := "whsec_" + base64.StdEncoding.EncodeToString(b)
	p := filepath.Join(t.TempDir(), "webhook-secrets")
	if err := os.WriteFile(p, []byte("# e2e\n"+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return secret, p
}

// checkEvents asserts that every accepted event passed verification, that
// no webhook-id was accepted twice and no (upload, type) got two ids, and
// that each upload's events arrived in lifecycle order.
func checkEvents(t *testing.T, r *receiver) map[string][]hook {
	t.Helper()
	byUpload := map[string][]hook{}
	ids := map[string]bool{}
	kinds := map[string]string{}
	for _, h := range r.snapshot() {
		if h.Event == "invalid" {
			t.Errorf("a delivery failed standardwebhooks verification: %s", h.Error)
		}
		if h.Event != "accepted" {
			continue
		}
		if ids[h.ID] {
			t.Errorf("webhook-id %s accepted twice", h.ID)
		}
		ids[h.ID] = true
		k := h.UploadID + " " + h.Type
		if prev, ok := kinds[k]; ok && prev != h.ID && h.Type != "upload.stalled" {
			t.Errorf("%s has two event ids: %s and %s", k, prev, h.ID)
		}
		kinds[k] = h.ID
		byUpload[h.UploadID] = append(byUpload[h.UploadID], h)
	}
	for id, hs := range byUpload {
		if id != "" && len(hs) > 0 && hs[0].Type != "upload.created" { // "": media of no upload
			t.Errorf("upload %s: first event %s, want upload.created", id, hs[0].Type)
		}
	}
	return byUpload
}

// Issue 15: a receiver verifying with the npm standardwebhooks package
// fails the first three deliveries of each event. Through two gateways,
// every event arrives, signed, once per webhook-id, in order per upload;
// completion carries the object's CRC-64.
func TestWebhooksDeliveredAtLeastOnceInOrder(t *testing.T) {
	secret, secretFile := writeWebhookSecret(t)
	rcv := startReceiver(t, secret, 3)
	_, keyFile := writeSecretFile(t, "upload-token-keys")
	s := newStack(t, stackOptions{Env: map[string]string{
		"VODGATE_AUTH_UPLOAD_TOKEN_KEY_FILE": keyFile,
		"VODGATE_WEBHOOK_URL":                rcv.URL,
		"VODGATE_WEBHOOK_SECRET_FILE":        secretFile,
		"VODGATE_WEBHOOK_RETRY_BASE":         "50ms",
	}})
	gw2 := s.startGateway(nil)
	alice := mintToken(t, keyFile, "alice", 10*time.Minute)
	src := makeSource(t, 300_000, 1501)

	const done = 4
	for i := range done {
		ep := s.GW.Endpoint()
		if i%2 == 1 {
			ep = gw2.Endpoint()
		}
		runTus(t, tusOptions{Endpoint: ep, File: src.Path, Metadata: map[string]string{"filename": "e.mp4"}, Headers: authHeader(alice)})
	}
	url, _ := createUploadAs(t, gw2.Endpoint(), alice, 1000)
	if r := tusDo(t, "DELETE", url, authHeader(alice), nil); r.Status != 204 {
		t.Fatalf("DELETE = %d", r.Status)
	}

	got := rcv.waitAccepted(t, 2*done+2, 90*time.Second)
	byUpload := checkEvents(t, rcv)
	if len(byUpload) != done+1 {
		t.Fatalf("events for %d uploads, want %d", len(byUpload), done+1)
	}
	completed := 0
	for _, h := range got {
		if h.Attempts < 4 {
			t.Errorf("event %s accepted at attempt %d, want the 4th (3 refused)", h.ID, h.Attempts)
		}
		if h.Type == "upload.completed" {
			completed++
			d := h.Body.Data
			if d["crc64"] == nil || d["mediaId"] == "" || d["owner"] != "alice" || d["size"] != float64(src.Size) {
				t.Errorf("upload.completed data %v: want crc64, mediaId, owner alice and size %d", d, src.Size)
			}
		}
	}
	if completed != done {
		t.Errorf("%d upload.completed events, want %d", completed, done)
	}
	for id, hs := range byUpload {
		if len(hs) != 2 {
			t.Errorf("upload %s: %d events, want 2", id, len(hs))
		}
	}
}

// createUploadAs creates an upload of length bytes as tok's owner.
func createUploadAs(t *testing.T, endpoint, tok string, length int64) (string, rawResp) {
	t.Helper()
	r := tusDo(t, "POST", endpoint, authHeader(tok, map[string]string{
		"Upload-Length":   strconv.FormatInt(length, 10),
		"Upload-Metadata": encodeMetadata(map[string]string{"filename": "c.mp4"}),
	}), nil)
	if r.Status != 201 {
		t.Fatalf("POST = %d %s", r.Status, r.Body)
	}
	return absURL(t, endpoint, r.Header.Get("Location")), r
}

// Issue 15: a gateway SIGKILLed right after a finish is recorded and
// before its event is written, 20 times: the other instance (its reaper
// reconciling the list with the records) writes every upload.completed,
// and the receiver gets each once; no event exists for a change that did
// not commit (no upload.completed for the upload left unfinished).
func TestWebhooksSurviveKillBeforeEvent(t *testing.T) {
	secret, secretFile := writeWebhookSecret(t)
	rcv := startReceiver(t, secret, 0)
	_, keyFile := writeSecretFile(t, "upload-token-keys")
	s := newStack(t, stackOptions{NoGateway: true, Env: map[string]string{
		"VODGATE_AUTH_UPLOAD_TOKEN_KEY_FILE": keyFile,
		"VODGATE_WEBHOOK_URL":                rcv.URL,
		"VODGATE_WEBHOOK_SECRET_FILE":        secretFile,
		"VODGATE_WEBHOOK_RETRY_BASE":         "50ms",
		"VODGATE_REAPER_INTERVAL":            "300ms",
		"VODGATE_LOCK_TTL":                   "500ms", // the dead gateway's lock lapses soon
	}})
	gw2 := s.startGateway(nil)
	doomed := s.startGateway(map[string]string{"VODGATE_TEST_FAILPOINT": "kill-before-completed-event"})
	alice := mintToken(t, keyFile, "alice", 10*time.Minute)
	src := makeSource(t, 200_000, 1502)
	data := src.readRange(t, 0, src.Size)

	const n = 20
	for i := range n {
		if i > 0 {
			doomed.Start()
		}
		doomedURL, _ := createUploadAs(t, doomed.Endpoint(), alice, src.Size)
		url := gw2.Endpoint() + doomedURL[strings.LastIndex(doomedURL, "/")+1:]
		// The PATCH dies with the gateway, after the finish is recorded.
		req, _ := http.NewRequest(http.MethodPatch, doomedURL, bytes.NewReader(data))
		for k, v := range authHeader(alice, map[string]string{"Tus-Resumable": "1.0.0",
			"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}) {
			req.Header.Set(k, v)
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("upload %d: PATCH answered %d; the gateway should have died", i, resp.StatusCode)
		}
		doomed.Stop()
		if off := tusDo(t, "HEAD", url, authHeader(alice), nil).Header.Get("Upload-Offset"); off != strconv.FormatInt(src.Size, 10) {
			t.Fatalf("upload %d: HEAD on the other instance says offset %q, want %d", i, off, src.Size)
		}
	}
	createUploadAs(t, gw2.Endpoint(), alice, src.Size) // created, never finished

	rcv.waitAccepted(t, 2*n+1, 60*time.Second)
	time.Sleep(time.Second)
	byUpload := checkEvents(t, rcv)
	completed := 0
	for _, hs := range byUpload {
		for _, h := range hs {
			if h.Type == "upload.completed" {
				completed++
			}
		}
	}
	if completed != n {
		t.Fatalf("%d upload.completed events for %d finished uploads (and one unfinished)", completed, n)
	}
}

// Issue 15: VOD's callbacks relayed. A genuine callback from the VOD
// simulator (signed, for an upload's media) becomes one media.uploaded
// event linked to the upload and its owner; a forged, a stale and a
// replayed callback get 401 and emit nothing.
func TestVODCallbacksRelayed(t *testing.T) {
	const vodKey = "VodCallbackKey2026xyz"
	secret, secretFile := writeWebhookSecret(t)
	rcv := startReceiver(t, secret, 0)
	_, keyFile := writeSecretFile(t, "upload-token-keys")
	cbKeyFile := filepath.Join(t.TempDir(), "vod-callback-key")
	if err := os.WriteFile(cbKeyFile, []byte(vodKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newStack(t, stackOptions{VODCallbackKey: vodKey, Env: map[string]string{
		"VODGATE_AUTH_UPLOAD_TOKEN_KEY_FILE": keyFile,
		"VODGATE_WEBHOOK_URL":                rcv.URL,
		"VODGATE_WEBHOOK_SECRET_FILE":        secretFile,
		"VODGATE_VOD_CALLBACK_KEY_FILE":      cbKeyFile,
		"VODGATE_USER_DATA_CALLBACK_HOSTS":   "127.0.0.1",
	}})
	alice := mintToken(t, keyFile, "alice", 10*time.Minute)
	cbURL := s.GW.URL() + "/vod/callback"
	userData := `{"MessageCallback":{"CallbackURL":"` + cbURL + `","CallbackType":"http"}}`
	res := runTus(t, tusOptions{Endpoint: s.GW.Endpoint(), File: makeSource(t, 150_000, 1503).Path,
		Metadata: map[string]string{"filename": "cb.mp4", "userData": userData}, Headers: authHeader(alice)})

	got := rcv.waitAccepted(t, 3, 30*time.Second)
	var relayed []hook
	for _, h := range got {
		if h.Type == "media.uploaded" {
			relayed = append(relayed, h)
		}
	}
	if len(relayed) != 1 || relayed[0].Body.Data["mediaId"] != res.MediaID ||
		relayed[0].Body.Data["owner"] != "alice" || relayed[0].UploadID == "" {
		t.Fatalf("relayed events %+v, want one media.uploaded for media %s of alice's upload", relayed, res.MediaID)
	}

	post := func(ts, sig string) int {
		body := `{"EventTime":"2026-12-05T10:00:00Z","EventType":"FileUploadComplete","VideoId":"0123456789abcdef0123456789abcdef","Size":1,"Status":"success"}`
		req, _ := http.NewRequest(http.MethodPost, cbURL, strings.NewReader(body))
		req.Header.Set("X-VOD-TIMESTAMP", ts)
		req.Header.Set("X-VOD-SIGNATURE", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	now := strconv.FormatInt(time.Now().Unix(), 10)
	stale := strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10)
	if c := post(now, vodtest.CallbackSignature(cbURL, now, "not-the-key")); c != http.StatusUnauthorized {
		t.Errorf("forged callback = %d, want 401", c)
	}
	if c := post(stale, vodtest.CallbackSignature(cbURL, stale, vodKey)); c != http.StatusUnauthorized {
		t.Errorf("stale callback = %d, want 401", c)
	}
	genuine := vodtest.CallbackSignature(cbURL, now, vodKey)
	if c := post(now, genuine); c != http.StatusOK {
		t.Fatalf("genuine callback = %d, want 200", c)
	}
	if c := post(now, genuine); c != http.StatusUnauthorized {
		t.Errorf("replayed callback = %d, want 401", c)
	}
	rcv.waitAccepted(t, 4, 30*time.Second)
	time.Sleep(500 * time.Millisecond)
	media := 0
	for _, h := range rcv.accepted() {
		if strings.HasPrefix(h.Type, "media.") {
			media++
		}
	}
	if media != 2 {
		t.Errorf("%d media.* events, want 2 (the simulator's and the one genuine hand-made callback)", media)
	}
	checkEvents(t, rcv)
}

// Issue 15: with the endpoint down (503) while two instances create and
// finish uploads, every event arrives once per webhook-id after it
// recovers, in order per upload, and nothing is dead-lettered before
// webhook-max-age.
func TestWebhookEndpointDownThenUp(t *testing.T) {
	secret, secretFile := writeWebhookSecret(t)
	rcv := startReceiver(t, secret, 0)
	_, keyFile := writeSecretFile(t, "upload-token-keys")
	s := newStack(t, stackOptions{Env: map[string]string{
		"VODGATE_AUTH_UPLOAD_TOKEN_KEY_FILE": keyFile,
		"VODGATE_WEBHOOK_URL":                rcv.URL,
		"VODGATE_WEBHOOK_SECRET_FILE":        secretFile,
		"VODGATE_WEBHOOK_RETRY_BASE":         "100ms",
	}})
	gw2 := s.startGateway(nil)
	alice := mintToken(t, keyFile, "alice", 10*time.Minute)
	src := makeSource(t, 120_000, 1504)

	if _, err := io.WriteString(rcv.stdin, "down\n"); err != nil {
		t.Fatal(err)
	}
	const n = 6
	for i := range n {
		ep := s.GW.Endpoint()
		if i%2 == 1 {
			ep = gw2.Endpoint()
		}
		runTus(t, tusOptions{Endpoint: ep, File: src.Path, Metadata: map[string]string{"filename": "d.mp4"}, Headers: authHeader(alice)})
	}
	time.Sleep(4 * time.Second) // retries pile up against the 503s
	if got := len(rcv.accepted()); got != 0 {
		t.Fatalf("%d events accepted while the endpoint was down", got)
	}
	if _, err := io.WriteString(rcv.stdin, "up\n"); err != nil {
		t.Fatal(err)
	}
	rcv.waitAccepted(t, 2*n, 60*time.Second)
	time.Sleep(time.Second)
	byUpload := checkEvents(t, rcv)
	for id, hs := range byUpload {
		if len(hs) != 2 || hs[1].Type != "upload.completed" {
			t.Errorf("upload %s: events %+v, want created then completed", id, hs)
		}
	}
	if dead, err := testenv.Redis(t).XLen(context.Background(), s.prefix+":events:dead").Result(); err != nil || dead != 0 {
		t.Errorf("dead-letter stream holds %d (%v), want 0", dead, err)
	}
}
