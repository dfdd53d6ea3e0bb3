package e2e

import (
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
