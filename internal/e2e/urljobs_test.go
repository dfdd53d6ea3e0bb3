package e2e

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Issue 16: URL uploads. Bad URLs get 400 without a VOD call; a good one
// becomes a VOD media through a job its owner can follow (and no one else
// can see); a source VOD cannot fetch ends failed with the reason.
func TestURLUploads(t *testing.T) {
	_, keyFile := writeSecretFile(t, "upload-token-keys")
	s := newStack(t, stackOptions{URLJobStep: 100 * time.Millisecond, Env: map[string]string{
		"VODGATE_AUTH_UPLOAD_TOKEN_KEY_FILE": keyFile,
	}})
	alice := mintToken(t, keyFile, "alice", 10*time.Minute)
	bob := mintToken(t, keyFile, "bob", 10*time.Minute)
	api := s.GW.URL() + "/url-uploads"

	for _, bad := range []string{
		"ftp://media.example.com/a.mp4",
		"https://user:secret@media.example.com/a.mp4",
		"http://127.0.0.1/a.mp4",
		"http://10.0.0.1/a.mp4",
		"http://169.254.169.254/latest/meta-data/a.mp4",
		"http://localhost/a.mp4",
		"http://[::1]/a.mp4",
		"https://media.example.com/" + strings.Repeat("a", 2100) + ".mp4",
		"https://media.example.com/a clip.mp4",
	} {
		if c := apiDo(t, http.MethodPost, api, alice, map[string]any{"url": bad}, nil); c != http.StatusBadRequest {
			t.Errorf("POST %.60q = %d, want 400", bad, c)
		}
	}
	if n := s.VOD.CallCount("UploadMediaByURL"); n != 0 {
		t.Fatalf("bad URLs reached VOD %d times", n)
	}
	if c := apiDo(t, http.MethodPost, api, "", map[string]any{"url": "https://media.example.com/a.mp4"}, nil); c != http.StatusUnauthorized {
		t.Fatalf("POST without a token = %d, want 401", c)
	}

	var one struct {
		JobID, SourceURL, State, StatusURL string
	}
	if c := apiDo(t, http.MethodPost, api, alice, map[string]any{"url": "https://media.example.com/clips/ok%20one.mp4",
		"metadata": map[string]string{"title": "From the web"}}, &one); c != http.StatusAccepted {
		t.Fatalf("POST a good URL = %d, want 202", c)
	}
	if one.JobID == "" || one.State != "pending" || one.StatusURL != "/url-uploads/"+one.JobID {
		t.Fatalf("202 body %+v", one)
	}
	var many struct {
		Items []struct{ JobID, SourceURL, State string }
	}
	if c := apiDo(t, http.MethodPost, api, alice, map[string]any{"items": []map[string]any{
		{"url": "https://media.example.com/b.mp4"}, {"url": "https://broken.invalid/c.mp4"}}}, &many); c != http.StatusAccepted || len(many.Items) != 2 {
		t.Fatalf("POST two items = %d %+v", c, many)
	}

	type job struct {
		JobID, State string
		MediaID      *string
		Error        *struct{ Code, Message string }
	}
	wait := func(id, want string) job {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			var j job
			if c := apiDo(t, http.MethodGet, api+"/"+id, alice, nil, &j); c != http.StatusOK {
				t.Fatalf("GET job = %d", c)
			}
			if j.State == want {
				return j
			}
			if time.Now().After(deadline) {
				t.Fatalf("job %s is %q after 20s, want %q", id, j.State, want)
			}
			time.Sleep(150 * time.Millisecond)
		}
	}
	done := wait(one.JobID, "complete")
	if done.MediaID == nil {
		t.Fatal("complete job without a media ID")
	}
	m, ok := s.VOD.Media(*done.MediaID)
	if !ok || m.Title != "From the web" {
		t.Fatalf("media %v (%v): want the job's video titled as asked", m, ok)
	}
	failed := wait(many.Items[1].JobID, "failed")
	if failed.Error == nil || failed.Error.Code == "" {
		t.Fatalf("failed job without its reason: %+v", failed)
	}
	if c := apiDo(t, http.MethodGet, api+"/"+one.JobID, bob, nil, nil); c != http.StatusNotFound {
		t.Fatalf("bob GET alice's job = %d, want 404", c)
	}
}

// Issue 16: the VOD simulator downloads the source (served on 127.0.0.2,
// allowed by url-upload-private-hosts while 127.0.0.1 stays refused): the
// job's video is the source's bytes; a missing source fails the job.
func TestURLUploadBytes(t *testing.T) {
	src := makeSource(t, 3*MiB+11, 1701)
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.2: %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/media/source.mp4" {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, src.Path)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	base := "http://" + ln.Addr().String()

	_, keyFile := writeSecretFile(t, "upload-token-keys")
	s := newStack(t, stackOptions{URLJobStep: 100 * time.Millisecond, FetchURLs: true, Env: map[string]string{
		"VODGATE_AUTH_UPLOAD_TOKEN_KEY_FILE": keyFile,
		"VODGATE_URL_UPLOAD_PRIVATE_HOSTS":   "127.0.0.2",
	}})
	alice := mintToken(t, keyFile, "alice", 10*time.Minute)
	api := s.GW.URL() + "/url-uploads"
	if c := apiDo(t, http.MethodPost, api, alice, map[string]any{"url": "http://127.0.0.1:1/a.mp4"}, nil); c != http.StatusBadRequest {
		t.Fatalf("127.0.0.1 = %d, want 400 (only 127.0.0.2 is allowed)", c)
	}
	var many struct {
		Items []struct{ JobID string }
	}
	if c := apiDo(t, http.MethodPost, api, alice, map[string]any{"items": []map[string]any{
		{"url": base + "/media/source.mp4"}, {"url": base + "/media/missing.mp4"}}}, &many); c != http.StatusAccepted || len(many.Items) != 2 {
		t.Fatalf("POST = %d %+v", c, many)
	}
	type job struct {
		State   string
		MediaID *string
		Size    *int64
		Error   *struct{ Code string }
	}
	wait := func(id string) job {
		deadline := time.Now().Add(30 * time.Second)
		for {
			var j job
			apiDo(t, http.MethodGet, api+"/"+id, alice, nil, &j)
			if j.State == "complete" || j.State == "failed" || time.Now().After(deadline) {
				return j
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	ok := wait(many.Items[0].JobID)
	if ok.State != "complete" || ok.MediaID == nil || ok.Size == nil || *ok.Size != src.Size {
		t.Fatalf("job of the served source: %+v, want complete with size %d", ok, src.Size)
	}
	s.checkUploaded(t, *ok.MediaID, src)
	if bad := wait(many.Items[1].JobID); bad.State != "failed" || bad.Error == nil {
		t.Fatalf("job of a missing source: %+v, want failed with its reason", bad)
	}

	// The jobs are in the owner's upload list, as kind "url".
	var listed struct {
		Uploads []struct {
			ID, Kind, State, URL string
			Size                 *int64
		}
	}
	if c := apiDo(t, http.MethodGet, s.GW.URL()+"/uploads", alice, nil, &listed); c != http.StatusOK || len(listed.Uploads) != 2 {
		t.Fatalf("GET /uploads = %d %+v, want the two URL jobs", c, listed)
	}
	for _, it := range listed.Uploads {
		want := "failed"
		if it.ID == many.Items[0].JobID {
			want = "complete"
			if it.Size == nil || *it.Size != src.Size {
				t.Errorf("listed job %s: size %v, want %d", it.ID, it.Size, src.Size)
			}
		}
		if it.Kind != "url" || it.State != want || it.URL != "/url-uploads/"+it.ID {
			t.Errorf("listed %+v, want kind url, state %s and its status URL", it, want)
		}
	}
}
