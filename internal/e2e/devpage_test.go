package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vodgate/vodgate/internal/osstest"
	"github.com/vodgate/vodgate/internal/testenv"
	"github.com/vodgate/vodgate/internal/vodtest"
)

// devPageFile is one entry of the page's window.__devpage.files().
type devPageFile struct {
	Name      string `json:"name"`
	Size      int64  `json:"size"`
	Progress  int    `json:"progress"`
	UploadURL string `json:"uploadURL"`
	MediaID   string `json:"mediaId"`
	MediaType string `json:"mediaType"`
	Status    string `json:"status"`
	Paused    bool   `json:"paused"`
	Done      bool   `json:"done"`
	Error     string `json:"error"`
}

// devPageResult is what js/devpage-drive.mjs prints.
type devPageResult struct {
	OK    bool          `json:"ok"`
	Error string        `json:"error"`
	Files []devPageFile `json:"files"`
	Pause *struct {
		AtPause   devPageFile `json:"atPause"`
		AfterWait devPageFile `json:"afterWait"`
		PausedRow string      `json:"pausedRow"`
	} `json:"pause"`
	Rows []struct {
		Name, Progress, MediaID, Status, StatusLink string
	} `json:"rows"`
	Links     []string `json:"links"`
	AuthShown bool     `json:"authShown"`
}

// artifactDir is where tests leave files for people to look at:
// $ARTIFACTS_DIR, else vodgate-artifacts in the temp directory.
func artifactDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("ARTIFACTS_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "vodgate-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts dir: %v", err)
	}
	return dir
}

// TestDevPageChromium opens the page of `gateway -dev` (the built binary,
// its own simulators and embedded Redis) in headless Chromium, uploads two
// files through Uppy's Dashboard, pausing one with its button mid-upload and
// resuming it, and checks that the page shows each file's VOD media ID and
// the simulated VOD's status, that the media and objects are complete in the
// simulators, and saves a screenshot of the finished page.
func TestDevPageChromium(t *testing.T) {
	node := testenv.Node(t)
	chromium := testenv.Chromium(t)
	bin := testenv.GatewayBin(t)
	ossAddr, vodAddr := freeAddr(t), freeAddr(t)
	g := newGatewayProc(t, "gateway-dev", bin, map[string]string{
		"VODGATE_DEV": "true", "VODGATE_DEV_DATA_DIR": t.TempDir(),
		"VODGATE_DEV_OSS_LISTEN": ossAddr, "VODGATE_DEV_VOD_LISTEN": vodAddr, "VODGATE_DEV_REDIS_LISTEN": freeAddr(t),
	})
	ossURL, vodURL := "http://"+ossAddr, "http://"+vodAddr

	// OSS answers each request 150 ms late, so the 1 MiB PATCHes of the
	// larger file take seconds and the pause lands mid-upload.
	simPost(t, ossURL+"/_sim/latency", `{"ms":150}`)

	dir := t.TempDir()
	small, large := makeSource(t, 3*MiB+123, 1), makeSource(t, 12*MiB+7, 2)
	sources := map[string]source{"clip-small.mp4": small, "clip-large.mov": large}
	var paths []string
	for name, src := range sources {
		p := filepath.Join(dir, name)
		if err := os.Rename(src.Path, p); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	shot := filepath.Join(artifactDir(t), "devpage-"+time.Now().UTC().Format("20060102T150405")+".png")

	res := driveDevPage(t, node, map[string]any{
		"pageUrl": g.URL() + "/?chunkSize=1048576", "chromium": chromium, "files": paths,
		"pauseName": "clip-large.mov", "pauseMs": 1000, "screenshot": shot, "timeoutMs": 120000,
	})
	t.Logf("screenshot: %s", shot)
	if res.AuthShown {
		t.Error("token field shown with authentication off")
	}

	// The pause happened mid-upload and held.
	p := res.Pause
	if p == nil || !p.AtPause.Paused || p.AtPause.Done || p.AtPause.Progress >= 100 {
		t.Errorf("pause did not land mid-upload: %+v", p)
	} else if p.AfterWait.Done || !p.AfterWait.Paused || !strings.HasPrefix(p.PausedRow, "paused") {
		t.Errorf("upload went on while paused: at pause %+v, after %+v, row %q", p.AtPause, p.AfterWait, p.PausedRow)
	}

	// Each file: done, its media ID on the page (state and table), distinct,
	// complete in the simulators.
	if len(res.Files) != 2 || len(res.Rows) != 2 {
		t.Fatalf("page shows %d files, %d rows; want 2: %+v %+v", len(res.Files), len(res.Rows), res.Files, res.Rows)
	}
	seen := map[string]bool{}
	for i, f := range res.Files {
		src, ok := sources[f.Name]
		row := res.Rows[i]
		switch {
		case !ok:
			t.Errorf("unexpected file %q on the page", f.Name)
			continue
		case !f.Done || f.MediaID == "" || f.Status == "" || f.Error != "":
			t.Errorf("file %s: %+v", f.Name, f)
		case row.Name != f.Name || row.MediaID != f.MediaID || row.Progress != "done":
			t.Errorf("table row %+v does not show %s done with media ID %s", row, f.Name, f.MediaID)
		case row.StatusLink != vodURL+"/_sim/media/"+f.MediaID:
			t.Errorf("status link %q, want the VOD simulator's media %s", row.StatusLink, f.MediaID)
		case seen[f.MediaID]:
			t.Errorf("media ID %s shown for two files", f.MediaID)
		}
		seen[f.MediaID] = true
		var m vodtest.Media
		simGet(t, vodURL+"/_sim/media/"+f.MediaID, &m)
		if f.Status != "UploadSucc" && f.Status != "Normal" || m.FileName != f.Name {
			t.Errorf("file %s: page status %q, simulator media %+v", f.Name, f.Status, m)
		}
		var obj osstest.Object
		simGet(t, ossURL+"/_sim/objects/"+m.Bucket+"/"+m.Key, &obj)
		if obj.Size != src.Size || obj.SHA256 != src.SHA256 {
			t.Errorf("file %s: object %+v, want size %d sha256 %s", f.Name, obj, src.Size, src.SHA256)
		}
	}
	for _, want := range []string{vodURL + "/_sim/media", ossURL + "/_sim/objects", ossURL + "/_sim/uploads"} {
		if !strings.Contains(strings.Join(res.Links, " "), want) {
			t.Errorf("page links %v lack %s", res.Links, want)
		}
	}

	// The screenshot is a real image of the page.
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil || img.Bounds().Dx() < 800 || img.Bounds().Dy() < 600 {
		t.Errorf("screenshot %s: %v, bounds %v", shot, err, img.Bounds())
	}
}

// driveDevPage runs js/devpage-drive.mjs with args and returns its result;
// a failed run is fatal.
func driveDevPage(t *testing.T, node string, args map[string]any) devPageResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	arg, _ := json.Marshal(args)
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, node, jsPath("devpage-drive.mjs"), string(arg))
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var res devPageResult
	if err := json.Unmarshal(bytes.TrimSpace(lastLine(out)), &res); err != nil || !res.OK {
		t.Fatalf("driver: %v / %v: %s\nstdout: %s\nstderr:\n%s", runErr, err, res.Error, out, stderr.String())
	}
	if testing.Verbose() {
		t.Logf("driver stderr:\n%s", stderr.String())
	}
	return res
}

// TestDevPageChromiumAuth: with authentication on in -dev, the page shows
// its token field; an upload token typed into it is sent with every tus
// request (the gateway refuses requests without one).
func TestDevPageChromiumAuth(t *testing.T) {
	node := testenv.Node(t)
	chromium := testenv.Chromium(t)
	bin := testenv.GatewayBin(t)
	_, keyFile := writeSecretFile(t, "upload-token-keys")
	vodAddr := freeAddr(t)
	g := newGatewayProc(t, "gateway-dev-auth", bin, map[string]string{
		"VODGATE_DEV": "true", "VODGATE_DEV_DATA_DIR": t.TempDir(), "VODGATE_AUTH_UPLOAD_TOKEN_KEY_FILE": keyFile,
		"VODGATE_DEV_OSS_LISTEN": freeAddr(t), "VODGATE_DEV_VOD_LISTEN": vodAddr, "VODGATE_DEV_REDIS_LISTEN": freeAddr(t),
	})
	req, _ := http.NewRequest(http.MethodPost, g.Endpoint(), nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", "10")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("POST without a token: %v %v, want 401", res, err)
	}
	src := makeSource(t, 700*KiB, 3)
	p := filepath.Join(t.TempDir(), "with-token.mp4")
	if err := os.Rename(src.Path, p); err != nil {
		t.Fatal(err)
	}
	res := driveDevPage(t, node, map[string]any{
		"pageUrl": g.URL() + "/", "chromium": chromium, "files": []string{p},
		"token": mintToken(t, keyFile, "page-user", time.Hour), "timeoutMs": 60000,
	})
	if !res.AuthShown {
		t.Error("no token field with authentication on")
	}
	if len(res.Files) != 1 || !res.Files[0].Done || res.Files[0].MediaID == "" {
		t.Fatalf("page files %+v", res.Files)
	}
	var m vodtest.Media
	simGet(t, "http://"+vodAddr+"/_sim/media/"+res.Files[0].MediaID, &m)
	if m.FileName != "with-token.mp4" || m.Size != src.Size {
		t.Errorf("simulator media %+v, want with-token.mp4 of %d bytes", m, src.Size)
	}
}

// lastLine returns the last non-empty line of b.
func lastLine(b []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return lines[len(lines)-1]
}

func simPost(t testing.TB, u, body string) {
	t.Helper()
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %s: %s", u, resp.Status)
	}
}

func simGet(t testing.TB, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}
