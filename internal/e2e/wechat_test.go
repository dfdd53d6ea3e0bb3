package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The WeChat mini-program client (examples/wechat-miniprogram, issue 17)
// against the built gateway, through js/wx-shim.cjs: wx.request refuses
// PATCH as WeChat does, so every chunk goes out as POST with
// X-HTTP-Method-Override: PATCH. A counting proxy in front of the gateway
// shows that no PATCH ever reached it. Upload tokens are on, so the
// gateway's auth middleware judges the overridden requests too.

// wechatStack is a stack with upload-token auth, a token for "wxuser" and
// a proxy in front of the gateway that counts methods.
func wechatStack(t *testing.T) (*stack, *roundRobin, string) {
	t.Helper()
	_, keyFile := writeSecretFile(t, "upload-token-keys")
	s := newStack(t, stackOptions{Env: map[string]string{"VODGATE_AUTH_UPLOAD_TOKEN_KEY_FILE": keyFile}})
	tok := mintToken(t, keyFile, "wxuser", time.Hour)
	return s, newRoundRobin(t, s.GW), tok
}

// TestWeChatMiniProgramUploadResumes uploads 20 MiB with the mini-program
// client in 2 MiB chunks. The shim cuts the third chunk after 1 MiB (the
// client retries: HEAD, then the rest from the offset the gateway kept),
// and the app is killed (SIGKILL) in the middle of the seventh request. A
// new client started on the same wx storage finds the upload URL there,
// resumes from HEAD, and finishes; the OSS object is the file and the
// media ID (Vod-Media-Id, read case-insensitively) is the one the
// creation returned.
func TestWeChatMiniProgramUploadResumes(t *testing.T) {
	s, lb, tok := wechatStack(t)
	src := makeSource(t, 20*MiB+4321, 1717)
	storage := filepath.Join(t.TempDir(), "wx-storage.json")
	const title = "小程序 upload ✓"
	opt := wxOptions{
		Endpoint:    lb.Endpoint(),
		File:        src.Path,
		Token:       tok,
		ChunkSize:   2 * MiB,
		Metadata:    map[string]string{"filename": "clip.mp4", "title": title},
		StoreKey:    "clip-digest",
		StorageFile: storage,
		RetryDelays: []int{0, 200, 500, 1000, 2000},
		HeaderCase:  "lower", // as Android delivers them
		Cut:         &wxFault{Nth: 3, AfterBytes: MiB + 17},
		Kill:        &wxFault{Nth: 7, AfterBytes: 700 * KiB},
	}
	first := runWeChat(t, opt)
	if !first.killed() || first.Result != nil {
		t.Fatalf("first run: want the process killed mid-upload, got %v with result %+v; stderr: %s", first.Err, first.Result, first.Stderr)
	}
	created := first.events("created")
	if len(created) != 1 || created[0].MediaID == "" {
		t.Fatalf("first run: created events %+v, want one with a media ID", created)
	}
	uploadURL, mediaID := created[0].UploadURL, created[0].MediaID
	if !strings.HasPrefix(uploadURL, lb.srv.URL+"/files/") {
		t.Errorf("upload URL %q is not under the proxy's %s/files/", uploadURL, lb.srv.URL)
	}
	retries := first.events("retry")
	if len(retries) != 1 || !strings.Contains(retries[0].Error, "request:fail") {
		t.Errorf("first run: retry events %+v, want one for the cut request (request:fail ...)", retries)
	}
	chunks := first.events("chunk")
	if len(chunks) == 0 {
		t.Fatalf("first run: no chunk acknowledged; stderr: %s", first.Stderr)
	}
	t.Logf("first run: %d chunks acknowledged (last at %d), 1 retry, then killed", len(chunks), chunks[len(chunks)-1].Offset)

	// What the gateway kept: every byte read before each cut.
	head := tusDo(t, http.MethodHead, uploadURL, authHeader(tok), nil)
	if head.Status != http.StatusOK {
		t.Fatalf("HEAD after the kill: %d %s", head.Status, head.Body)
	}
	kept := head.Header.Get("Upload-Offset")
	off := wxMustInt(t, kept)
	lastAck := chunks[len(chunks)-1].Offset
	t.Logf("HEAD after the kill: Upload-Offset %d (%.1f%% of %d)", off, 100*float64(off)/float64(src.Size), src.Size)
	if off < lastAck || off >= src.Size {
		t.Fatalf("Upload-Offset %d after the kill, want between the last acknowledged %d and the size %d", off, lastAck, src.Size)
	}
	if got := head.Header.Get("Vod-Media-Id"); got != mediaID {
		t.Errorf("HEAD Vod-Media-Id %q, creation said %q", got, mediaID)
	}
	if b, err := os.ReadFile(storage); err != nil || !strings.Contains(string(b), uploadURL) {
		t.Fatalf("wx storage after the kill does not hold the upload URL (%v): %s", err, b)
	}

	// The app starts again: same file, same storage, no faults; iOS keeps
	// the server's header casing.
	opt.Cut, opt.Kill, opt.HeaderCase, opt.ProbePatch = nil, nil, "asis", true
	second := runWeChat(t, opt)
	res := requireWxOK(t, second)
	if !strings.HasPrefix(res.ProbeErrMsg, "request:fail") {
		t.Errorf("wx.request with method PATCH: errMsg %q, want request:fail ...", res.ProbeErrMsg)
	}
	var sent []wxRequest
	for _, rq := range res.Requests {
		if !rq.Refused {
			sent = append(sent, rq)
		}
	}
	if len(sent) == 0 || sent[0].Method != http.MethodHead || sent[0].Offset != kept {
		t.Errorf("second run did not start with HEAD at %s: %+v", kept, sent)
	}
	for _, rq := range sent {
		if rq.Method == http.MethodPost && rq.Override == "" {
			t.Errorf("second run created a new upload: %+v", rq)
		}
		if rq.Status >= 300 || rq.ErrMsg != "" {
			t.Errorf("second run: request failed: %+v", rq)
		}
	}
	checkNoPatchSent(t, res.Requests)
	if res.UploadURL != uploadURL || res.MediaID != mediaID || res.VideoID != mediaID || res.MediaType != "video" {
		t.Errorf("result: upload %s media %s (%s, videoId %s); want %s media %s (video)", res.UploadURL, res.MediaID, res.MediaType, res.VideoID, uploadURL, mediaID)
	}
	if b, err := os.ReadFile(storage); err != nil || strings.Contains(string(b), uploadURL) {
		t.Errorf("wx storage still holds the finished upload (%v): %s", err, b)
	}
	if n := lb.Count(s.GW, http.MethodPatch); n != 0 {
		t.Errorf("%d PATCH requests reached the gateway, want 0", n)
	}
	posts := lb.Count(s.GW, http.MethodPost)
	t.Logf("gateway saw %d POST (creation and overridden PATCHes), %d HEAD, 0 PATCH", posts, lb.Count(s.GW, http.MethodHead))
	if want := int(src.Size / (2 * MiB)); posts < want {
		t.Errorf("gateway saw %d POST requests, want at least %d", posts, want)
	}
	s.checkUploaded(t, mediaID, src)
	if m, ok := s.VOD.Media(mediaID); ok && (m.Title != title || m.FileName != "clip.mp4") {
		t.Errorf("media title %q, file name %q; want %q, clip.mp4 (Upload-Metadata in UTF-8 base64)", m.Title, m.FileName, title)
	}
}

// TestWeChatMiniProgramExamplePage runs the example page as WeChat would:
// app.js and pages/index/index.js in a context with only wx, the timers,
// App, Page and getApp; chooseMedia picks a file, the page uploads it and
// shows the media ID. Header names come uppercased.
func TestWeChatMiniProgramExamplePage(t *testing.T) {
	s, lb, tok := wechatStack(t)
	src := makeSource(t, 5*MiB+99, 1718)
	r := runWeChat(t, wxOptions{
		Mode:        "page",
		Endpoint:    lb.Endpoint(),
		File:        src.Path,
		Token:       tok,
		ChunkSize:   2 * MiB,
		StorageFile: filepath.Join(t.TempDir(), "wx-storage.json"),
		HeaderCase:  "upper",
	})
	res := requireWxOK(t, r)
	checkNoPatchSent(t, res.Requests)
	if res.Page["status"] != "Done" || res.Page["mediaId"] != res.MediaID || res.Page["mediaType"] != "video" || res.Page["percent"] != float64(100) {
		t.Errorf("page data at the end: %v; want status Done, percent 100, the media ID %s", res.Page, res.MediaID)
	}
	if n := lb.Count(s.GW, http.MethodPatch); n != 0 {
		t.Errorf("%d PATCH requests reached the gateway, want 0", n)
	}
	s.checkUploaded(t, res.MediaID, src)
}

// TestWeChatMiniProgramAbort aborts after two chunks, once to pause (the
// upload stays, a new client resumes it from HEAD) and once with
// terminate (the upload is deleted with DELETE, HEAD answers 404).
func TestWeChatMiniProgramAbort(t *testing.T) {
	s, lb, tok := wechatStack(t)
	src := makeSource(t, 3*MiB+5, 1719)
	storage := filepath.Join(t.TempDir(), "wx-storage.json")
	opt := wxOptions{
		Endpoint: lb.Endpoint(), File: src.Path, Token: tok, ChunkSize: MiB,
		Metadata: map[string]string{"filename": "abort.mp4"},
		StoreKey: "abort-me", StorageFile: storage, AbortAfterChunks: 2,
	}
	paused := runWeChat(t, opt)
	if paused.Result == nil || paused.Result.OK || !paused.Result.Aborted {
		t.Fatalf("abort(): result %+v, want not ok, aborted; stderr: %s", paused.Result, paused.Stderr)
	}
	uploadURL := paused.events("created")[0].UploadURL
	if off := wxMustInt(t, tusDo(t, http.MethodHead, uploadURL, authHeader(tok), nil).Header.Get("Upload-Offset")); off != 2*MiB {
		t.Errorf("Upload-Offset after abort() = %d, want %d", off, 2*MiB)
	}

	opt.Terminate, opt.AbortAfterChunks = true, 1 // at 3 MiB, before the last 5 bytes
	terminated := runWeChat(t, opt)
	if terminated.Result == nil || !terminated.Result.Aborted {
		t.Fatalf("abort(true): result %+v; stderr: %s", terminated.Result, terminated.Stderr)
	}
	rq := terminated.Result.Requests
	if len(rq) == 0 || rq[0].Method != http.MethodHead || rq[0].Offset != itoa(2*MiB) {
		t.Errorf("second client did not resume from HEAD at %d: %+v", 2*MiB, rq)
	}
	if last := rq[len(rq)-1]; last.Method != http.MethodDelete || last.Status != http.StatusNoContent {
		t.Errorf("abort(true) did not end with DELETE 204: %+v", rq)
	}
	if st := tusDo(t, http.MethodHead, uploadURL, authHeader(tok), nil).Status; st != http.StatusNotFound && st != http.StatusGone {
		t.Errorf("HEAD after abort(true) = %d, want 404 or 410", st)
	}
	if b, _ := os.ReadFile(storage); strings.Contains(string(b), uploadURL) {
		t.Errorf("wx storage still holds the terminated upload: %s", b)
	}
	if n := lb.Count(s.GW, http.MethodPatch); n != 0 {
		t.Errorf("%d PATCH requests reached the gateway, want 0", n)
	}
}

func wxMustInt(t testing.TB, s string) int64 {
	t.Helper()
	var n int64
	if s == "" {
		t.Fatalf("empty number")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("not a number: %q", s)
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// TestWeChatOverrideAuthAndCORS checks the gateway's side of the method
// override the mini-program depends on: without a token the client's
// creation gets 401 and is not retried; a POST with X-HTTP-Method-Override:
// PATCH is judged by the auth middleware as the PATCH it stands for (401
// without a token, 404 with another owner's, 204 with the owner's); and a
// CORS preflight from a WeChat origin (DevTools' web view, browsers) may
// send the override and the tus headers and read the media headers.
func TestWeChatOverrideAuthAndCORS(t *testing.T) {
	s, lb, tok := wechatStack(t)
	src := makeSource(t, 300*KiB, 1720)

	r := runWeChat(t, wxOptions{Endpoint: lb.Endpoint(), File: src.Path, Metadata: map[string]string{"filename": "noauth.mp4"}, RetryDelays: []int{0, 100}})
	if r.Result == nil || r.Result.OK || r.Result.Status != http.StatusUnauthorized || len(r.events("retry")) != 0 {
		t.Errorf("client without a token: result %+v, retries %d; want 401 and no retry", r.Result, len(r.events("retry")))
	}

	loc, _ := wxCreateUpload(t, lb.Endpoint(), tok, src.Size, "owned.mp4")
	other := mintToken(t, s.env["VODGATE_AUTH_UPLOAD_TOKEN_KEY_FILE"], "someone-else", time.Hour)
	body := src.readRange(t, 0, src.Size)
	override := func(tk string) rawResp {
		return tusDo(t, http.MethodPost, loc, authHeader(tk, map[string]string{
			"X-HTTP-Method-Override": "PATCH", "Upload-Offset": "0",
			"Content-Type": "application/offset+octet-stream", "Origin": "https://servicewechat.com",
		}), body)
	}
	if st := override("").Status; st != http.StatusUnauthorized {
		t.Errorf("override PATCH without a token: %d, want 401", st)
	}
	if st := override(other).Status; st != http.StatusNotFound {
		t.Errorf("override PATCH with another owner's token: %d, want 404", st)
	}
	ok := override(tok)
	if ok.Status != http.StatusNoContent || ok.Header.Get("Upload-Offset") != itoa(src.Size) || ok.Header.Get("Vod-Media-Id") == "" {
		t.Fatalf("override PATCH with the owner's token: %d, Upload-Offset %q, Vod-Media-Id %q", ok.Status, ok.Header.Get("Upload-Offset"), ok.Header.Get("Vod-Media-Id"))
	}
	for _, h := range []string{"Upload-Offset", "Vod-Media-Id", "Vod-Media-Type"} {
		if !strings.Contains(ok.Header.Get("Access-Control-Expose-Headers"), h) {
			t.Errorf("Access-Control-Expose-Headers %q lacks %s", ok.Header.Get("Access-Control-Expose-Headers"), h)
		}
	}
	s.checkUploaded(t, ok.Header.Get("Vod-Media-Id"), src)

	pre := tusDo(t, http.MethodOptions, loc, map[string]string{
		"Origin": "https://servicewechat.com", "Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "authorization,content-type,tus-resumable,upload-offset,x-http-method-override",
	}, nil)
	allow := strings.ToLower(pre.Header.Get("Access-Control-Allow-Headers"))
	if pre.Status/100 != 2 || pre.Header.Get("Access-Control-Allow-Origin") == "" || !strings.Contains(allow, "x-http-method-override") ||
		!strings.Contains(allow, "upload-offset") || !strings.Contains(pre.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("preflight: %d, headers %v", pre.Status, pre.Header)
	}
}

// wxCreateUpload creates an upload of length bytes with a bearer token.
func wxCreateUpload(t testing.TB, endpoint, tok string, length int64, filename string) (string, rawResp) {
	t.Helper()
	r := tusDo(t, http.MethodPost, endpoint, authHeader(tok, map[string]string{
		"Upload-Length": itoa(length), "Upload-Metadata": encodeMetadata(map[string]string{"filename": filename}),
	}), nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	return absURL(t, endpoint, r.Header.Get("Location")), r
}
