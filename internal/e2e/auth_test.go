package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vodgate/vodgate/internal/osstest"
	"github.com/vodgate/vodgate/internal/testenv"
)

// The end-to-end side of authentication (issue 6): real tus clients with
// bearer tokens against the built gateway. Upload tokens are minted by the
// gateway's own `gateway token` subcommand; JWTs by signHS256 below (e2e
// imports no gateway package, see internal/archtest).

const (
	jwtIssuer   = "https://app.e2e.example"
	jwtAudience = "vodgate-e2e"
)

// writeSecretFile writes a fresh random 32-byte secret, hex-encoded (the
// gateway takes the file's text as the key), into a 0600 file and returns
// the key and the file's path.
func writeSecretFile(t testing.TB, name string) ([]byte, string) {
	t.Helper()
	key := []byte(hex.EncodeToString(randomBytes(t, 32)))
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, append([]byte("# e2e "+name+"\n"), append(key, '\n')...), 0o600); err != nil {
		t.Fatal(err)
	}
	return key, p
}

// writeJWTSecretFile is writeSecretFile without the comment line: the JWT
// secret file holds the secret alone.
func writeJWTSecretFile(t testing.TB) ([]byte, string) {
	t.Helper()
	key := []byte(hex.EncodeToString(randomBytes(t, 32)))
	p := filepath.Join(t.TempDir(), "jwt-secret")
	if err := os.WriteFile(p, append(key, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	return key, p
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// mintToken runs `gateway token -key-file keyFile -sub sub -ttl ttl extra...`
// and returns the upload token it prints.
func mintToken(t testing.TB, keyFile, sub string, ttl time.Duration, extra ...string) string {
	t.Helper()
	bin := testenv.GatewayBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append([]string{"token", "-key-file", keyFile, "-sub", sub, "-ttl", ttl.String()}, extra...)
	cmd := exec.CommandContext(ctx, bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VODGATE_") && !strings.HasPrefix(kv, "ALIBABA_CLOUD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gateway token -sub %s: %v\n%s", sub, err, stderr.String())
	}
	tok := strings.TrimSpace(string(out))
	if !strings.HasPrefix(tok, "v1.") || strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " \n") {
		t.Fatalf("gateway token printed %q, want v1.<claims>.<sig> on one line", tok)
	}
	return tok
}

// signHS256 returns a compact HS256 JWT of claims.
func signHS256(secret []byte, claims map[string]any) string {
	enc := base64.RawURLEncoding
	body, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	signed := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(body)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(signed))
	return signed + "." + enc.EncodeToString(mac.Sum(nil))
}

// authHeader is an Authorization header map for tok ("" for none).
func authHeader(tok string, more ...map[string]string) map[string]string {
	h := map[string]string{}
	if tok != "" {
		h["Authorization"] = "Bearer " + tok
	}
	for _, m := range more {
		maps.Copy(h, m)
	}
	return h
}

// checkRenewed asserts that a successful upload sent PATCHes with the
// first token (headerGen 0) and with the renewed one (headerGen 1), and
// that the gateway accepted every request.
func checkRenewed(t testing.TB, res tusEvent) {
	t.Helper()
	patches := map[int]int{}
	for _, rq := range res.Requests {
		if rq.Status >= 300 {
			t.Errorf("%s answered %d; requests: %s", rq.Method, rq.Status, describeRequests(res.Requests))
		}
		if rq.Method == http.MethodPatch {
			patches[rq.HeaderGen]++
		}
	}
	t.Logf("PATCHes: %d with the first token, %d with the renewed one", patches[0], patches[1])
	if patches[0] == 0 || patches[1] == 0 {
		t.Errorf("PATCHes with the first token: %d, with the renewed one: %d; want both > 0", patches[0], patches[1])
	}
}

// waitUnauthorized HEADs target with tok until the gateway answers 401,
// and returns that response.
func waitUnauthorized(t testing.TB, target, tok string, within time.Duration) rawResp {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := tusDo(t, http.MethodHead, target, authHeader(tok), nil)
		if r.Status == http.StatusUnauthorized {
			return r
		}
		if r.Status != http.StatusOK {
			t.Fatalf("HEAD %s before the token expired: %d", target, r.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("HEAD %s: token still accepted after %v", target, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestAuthUploadTokenTusJS uploads with tus-js-client in Node carrying
// upload tokens minted by `gateway token`: renewed mid-upload
// (onBeforeRequest) with a fresh token of the same subject, renewed after
// the first one expired, and switched to another subject's token, which
// gets 404 and leaves the upload to its owner.
func TestAuthUploadTokenTusJS(t *testing.T) {
	testenv.Node(t)
	_, keyFile := writeSecretFile(t, "upload-token-keys")
	s := newStack(t, stackOptions{Env: map[string]string{
		"VODGATE_AUTH_UPLOAD_TOKEN_KEY_FILE": keyFile,
		// The leeway applies to upload tokens' exp too. Not 0s: the gateway
		// takes 0 for "unset" and allows the 30s default.
		"VODGATE_AUTH_JWT_LEEWAY": "1s",
	}})

	t.Run("renewed-mid-upload", func(t *testing.T) {
		src := makeSource(t, 5*MiB+123, 601)
		tok := mintToken(t, keyFile, "alice", 10*time.Minute)
		run := startTus(t, tusOptions{
			Endpoint: s.GW.Endpoint(), File: src.Path, ChunkSize: MiB,
			Metadata: map[string]string{"filename": "alice.mp4"}, Headers: authHeader(tok),
			PauseBeforePatch: []int{3},
		})
		run.mustEvent("paused", time.Minute)
		tok2 := mintToken(t, keyFile, "alice", 10*time.Minute)
		if tok2 == tok {
			t.Fatal("gateway token minted the same token twice")
		}
		run.resumeWithHeaders(authHeader(tok2))
		res := run.wait(2 * time.Minute)
		requireOK(t, res)
		checkRenewed(t, res)
		if res.PostMediaID == "" || res.PostMediaID != res.FinalMediaID {
			t.Errorf("Vod-Media-Id on POST %q, on the final PATCH %q", res.PostMediaID, res.FinalMediaID)
		}
		s.checkUploaded(t, res.FinalMediaID, src)
		for _, tk := range []string{tok, tok2} {
			r := tusDo(t, http.MethodHead, res.UploadURL, authHeader(tk), nil)
			if r.Status != http.StatusOK || r.Header.Get("Upload-Offset") != itoa(src.Size) || r.Header.Get("Vod-Media-Id") != res.FinalMediaID {
				t.Errorf("HEAD after completion: %d offset %q media %q", r.Status, r.Header.Get("Upload-Offset"), r.Header.Get("Vod-Media-Id"))
			}
		}
	})

	t.Run("renewed-after-expiry", func(t *testing.T) {
		src := makeSource(t, 3*MiB+5, 602)
		tok := mintToken(t, keyFile, "alice", 5*time.Second)
		run := startTus(t, tusOptions{
			Endpoint: s.GW.Endpoint(), File: src.Path, ChunkSize: MiB,
			Metadata: map[string]string{"filename": "expiry.mp4"}, Headers: authHeader(tok),
			PauseBeforePatch: []int{2},
		})
		ev := run.mustEvent("paused", time.Minute)
		if ev.UploadURL == "" {
			t.Fatal("paused event without uploadUrl")
		}
		// The first token expires while the client waits: the gateway now
		// refuses it, so only the renewal lets the upload go on.
		r := waitUnauthorized(t, ev.UploadURL, tok, 20*time.Second)
		if !strings.Contains(r.Header.Get("WWW-Authenticate"), "token expired") {
			t.Errorf("401 for the expired token: WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
		}
		run.resumeWithHeaders(authHeader(mintToken(t, keyFile, "alice", 10*time.Minute)))
		res := run.wait(2 * time.Minute)
		requireOK(t, res)
		checkRenewed(t, res)
		s.checkUploaded(t, res.FinalMediaID, src)
	})

	t.Run("renewed-as-another-owner", func(t *testing.T) {
		src := makeSource(t, 4*MiB+77, 603)
		alice := mintToken(t, keyFile, "alice", 10*time.Minute)
		run := startTus(t, tusOptions{
			Endpoint: s.GW.Endpoint(), File: src.Path, ChunkSize: MiB,
			Metadata: map[string]string{"filename": "hijack.mp4"}, Headers: authHeader(alice),
			PauseBeforePatch: []int{3},
		})
		ev := run.mustEvent("paused", time.Minute)
		parts := s.OSS.CallCount(osstest.OpUploadPart)
		run.resumeWithHeaders(authHeader(mintToken(t, keyFile, "bob", 10*time.Minute)))
		res := run.wait(2 * time.Minute)
		if res.OK || res.Status != http.StatusNotFound {
			t.Fatalf("upload continued with bob's token: ok %v status %d; requests: %s", res.OK, res.Status, describeRequests(res.Requests))
		}
		if n := s.OSS.CallCount(osstest.OpUploadPart); n != parts {
			t.Errorf("bob's PATCH reached OSS: UploadPart calls %d -> %d", parts, n)
		}
		if off := headOffsetAs(t, ev.UploadURL, alice); off != 2*MiB {
			t.Errorf("alice's offset after bob's PATCH = %d, want %d", off, 2*MiB)
		}
		// Alice resumes with a new client and finishes.
		res = runTus(t, tusOptions{UploadURL: ev.UploadURL, File: src.Path, ChunkSize: MiB, Headers: authHeader(alice)})
		s.checkUploaded(t, res.FinalMediaID, src)
	})
}

// headOffsetAs HEADs uploadURL with tok and returns Upload-Offset,
// failing unless 200.
func headOffsetAs(t testing.TB, uploadURL, tok string) int64 {
	t.Helper()
	r := tusDo(t, http.MethodHead, uploadURL, authHeader(tok), nil)
	if r.Status != http.StatusOK {
		t.Fatalf("HEAD %s: %d %s", uploadURL, r.Status, r.Body)
	}
	n, err := strconv.ParseInt(r.Header.Get("Upload-Offset"), 10, 64)
	if err != nil {
		t.Fatalf("HEAD %s: Upload-Offset %q: %v", uploadURL, r.Header.Get("Upload-Offset"), err)
	}
	return n
}

// TestAuthJWTTusJS uploads with tus-js-client carrying HS256 JWTs with an
// issuer, an audience and a vod_max_size cap: exactly at the cap with a
// JWT renewed mid-upload; over the cap (413 at creation, nothing created);
// and a deferred-length upload that crosses the cap mid-PATCH (413, never
// completed).
func TestAuthJWTTusJS(t *testing.T) {
	testenv.Node(t)
	secret, secretFile := writeJWTSecretFile(t)
	s := newStack(t, stackOptions{Env: map[string]string{
		"VODGATE_AUTH_JWT_SECRET_FILE": secretFile,
		"VODGATE_AUTH_JWT_ISSUER":      jwtIssuer,
		"VODGATE_AUTH_JWT_AUDIENCE":    jwtAudience,
	}})
	const capSize = 4 * MiB
	jwt := func(sub string) string {
		now := time.Now()
		return signHS256(secret, map[string]any{
			"iss": jwtIssuer, "aud": []string{jwtAudience}, "sub": sub,
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
			"jti": hex.EncodeToString(randomBytes(t, 8)), "vod_max_size": capSize,
		})
	}

	t.Run("at-cap-renewed", func(t *testing.T) {
		src := makeSource(t, capSize, 611)
		tok := jwt("carol")
		run := startTus(t, tusOptions{
			Endpoint: s.GW.Endpoint(), File: src.Path, ChunkSize: MiB,
			Metadata: map[string]string{"filename": "carol.mp4"}, Headers: authHeader(tok),
			PauseBeforePatch: []int{2},
		})
		run.mustEvent("paused", time.Minute)
		run.resumeWithHeaders(authHeader(jwt("carol")))
		res := run.wait(2 * time.Minute)
		requireOK(t, res)
		checkRenewed(t, res)
		s.checkUploaded(t, res.FinalMediaID, src)
	})

	t.Run("over-cap-at-creation", func(t *testing.T) {
		src := makeSource(t, capSize+1, 612)
		media, inits := len(s.VOD.AllMedia()), s.OSS.CallCount(osstest.OpInitiate)
		res := startTus(t, tusOptions{
			Endpoint: s.GW.Endpoint(), File: src.Path, ChunkSize: MiB,
			Metadata: map[string]string{"filename": "big.mp4"}, Headers: authHeader(jwt("carol")),
		}).wait(2 * time.Minute)
		if res.OK || res.Status != http.StatusRequestEntityTooLarge {
			t.Fatalf("upload over the cap: ok %v status %d, want 413; requests: %s", res.OK, res.Status, describeRequests(res.Requests))
		}
		if len(res.Requests) != 1 || res.Requests[0].Method != http.MethodPost {
			t.Errorf("requests: %s, want one POST", describeRequests(res.Requests))
		}
		if n := len(s.VOD.AllMedia()); n != media {
			t.Errorf("VOD media %d -> %d: the refused creation created a media", media, n)
		}
		if n := s.OSS.CallCount(osstest.OpInitiate); n != inits {
			t.Errorf("InitiateMultipartUpload calls %d -> %d", inits, n)
		}
	})

	t.Run("deferred-over-cap-mid-patch", func(t *testing.T) {
		src := makeSource(t, 6*MiB, 613)
		tok := jwt("carol")
		res := startTus(t, tusOptions{
			Endpoint: s.GW.Endpoint(), File: src.Path, ChunkSize: 3 * MiB / 2, Deferred: true,
			Metadata: map[string]string{"filename": "live.ts"}, Headers: authHeader(tok),
			RetryDelays: []int{0, 200},
		}).wait(2 * time.Minute)
		if res.OK || res.Status != http.StatusRequestEntityTooLarge {
			t.Fatalf("deferred upload over the cap: ok %v status %d, want 413; requests: %s", res.OK, res.Status, describeRequests(res.Requests))
		}
		if res.PostMediaID == "" || res.UploadURL == "" {
			t.Fatalf("no media or upload URL from the POST; requests: %s", describeRequests(res.Requests))
		}
		if off := headOffsetAs(t, res.UploadURL, tok); off > capSize {
			t.Errorf("offset after the cap = %d, want <= %d", off, capSize)
		}
		m, ok := s.VOD.Media(res.PostMediaID)
		if !ok {
			t.Fatalf("media %s not in the VOD simulator", res.PostMediaID)
		}
		if m.Status == "UploadSucc" || m.Status == "Normal" {
			t.Errorf("media %s status %q: an upload over the cap completed", m.ID, m.Status)
		}
		if _, ok := s.OSS.Object(m.Bucket, m.Key); ok {
			t.Errorf("object oss://%s/%s exists: an upload over the cap completed", m.Bucket, m.Key)
		}
	})
}
