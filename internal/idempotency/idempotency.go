// Package idempotency makes tus creation idempotent: a POST carrying an
// Idempotency-Key (draft-ietf-httpapi-idempotency-key-header) that the
// same owner sent within the key's lifetime gets the first upload's 201
// and Location again, without creating a second upload or VOD media; the
// same key with a different Upload-Length, Upload-Metadata or
// Upload-Defer-Length gets 422; the same key while the first request is
// still running gets 409.
//
// Keys live in Redis, shared by all instances. A creation that died
// between VOD and Redis (a killed gateway) is finished by the next retry:
// the claim names the upload ID and the VOD ReferenceId in advance, so the
// retry finds the video VOD already made instead of making another.
package idempotency

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Defaults applied by [Config].
const (
	DefaultTTL        = 24 * time.Hour
	DefaultStaleAfter = time.Minute
	// MaxKeyLength is the longest key accepted.
	MaxKeyLength = 255
)

// Config configures [New]. Redis, WithReference, Progress and UploadURL are
// required.
type Config struct {
	Redis redis.UniversalClient
	// Prefix starts every key. Default: "vodgate".
	Prefix string
	// BasePath is the tus endpoint's path (creations are POSTs to it).
	BasePath string
	// UploadURL returns the tus upload URL of an upload, as the request's
	// client reaches the gateway (for a creation whose response was lost).
	UploadURL func(r *http.Request, id string) string
	// OwnerOf returns the authenticated owner ("" with authentication off).
	OwnerOf func(ctx context.Context) (string, bool)
	// WithReference returns ctx asking the store to create upload id with
	// VOD ReferenceId ref (tusstore.WithReference).
	WithReference func(ctx context.Context, ref, id string, recovering bool) context.Context
	// Progress reports the durable offset of upload id, and whether its
	// record exists.
	Progress func(ctx context.Context, id string) (offset int64, found bool, err error)
	// TTL is how long a key is remembered. Default: 24h.
	TTL time.Duration
	// StaleAfter is how long a claimed key may stay unfinished before a
	// retry takes over (its first request died). Default: 1m.
	StaleAfter time.Duration
	Registry   prometheus.Registerer
	Logger     *slog.Logger
}

// Keys makes creations idempotent; see the package doc.
type Keys struct {
	cfg      Config
	log      *slog.Logger
	outcomes *prometheus.CounterVec
}

// New returns Keys. It does no I/O.
func New(cfg Config) (*Keys, error) {
	if cfg.Redis == nil || cfg.WithReference == nil || cfg.Progress == nil || cfg.UploadURL == nil {
		return nil, errors.New("idempotency: Redis, WithReference, Progress and UploadURL are required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "vodgate"
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = DefaultStaleAfter
	}
	if cfg.OwnerOf == nil {
		cfg.OwnerOf = func(context.Context) (string, bool) { return "", false }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	k := &Keys{cfg: cfg, log: cfg.Logger.With("component", "idempotency"),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vodgate_idempotency_requests_total",
			Help: "Creations carrying an Idempotency-Key, by outcome (new, replayed, recovered, mismatch, in_progress, invalid, unavailable)."},
			[]string{"outcome"})}
	if cfg.Registry != nil {
		if err := cfg.Registry.Register(k.outcomes); err != nil {
			return nil, fmt.Errorf("idempotency: register metrics: %w", err)
		}
	}
	return k, nil
}

// claimScript claims a key or reports its state. KEYS[1] the key; ARGV
// fingerprint, now ms, ref, upload id, token, TTL ms, stale-after ms.
// Returns {outcome, ref, id, location}: new, mismatch, done, busy or
// takeover (a stale claim now held with token).
var claimScript = redis.NewScript(`
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then
  redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'state', 'pending', 'at', ARGV[2], 'ref', ARGV[3], 'id', ARGV[4], 'tok', ARGV[5])
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  return {'new', ARGV[3], ARGV[4], ''}
end
local m = {}
for i = 1, #h, 2 do m[h[i]] = h[i + 1] end
if m.fp ~= ARGV[1] then return {'mismatch', '', '', ''} end
if m.state == 'done' then return {'done', m.ref, m.id, m.loc or ''} end
if tonumber(ARGV[2]) - tonumber(m.at) < tonumber(ARGV[7]) then return {'busy', '', '', ''} end
redis.call('HSET', KEYS[1], 'at', ARGV[2], 'tok', ARGV[5])
return {'takeover', m.ref, m.id, ''}`)

// settleScript ends a claim held with token: ARGV[1] token, ARGV[2] the
// Location to remember, or "" to drop the claim.
var settleScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'tok') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'state') ~= 'pending' then return 0 end
if ARGV[2] == '' then return redis.call('DEL', KEYS[1]) end
redis.call('HSET', KEYS[1], 'state', 'done', 'loc', ARGV[2])
return 1`)

// Middleware handles creations that carry an Idempotency-Key and passes
// everything else to next untouched. It must run after authentication.
func (k *Keys) Middleware(next http.Handler) http.Handler {
	base := "/" + strings.Trim(k.cfg.BasePath, "/")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vals := r.Header.Values("Idempotency-Key")
		if len(vals) == 0 || r.Method != http.MethodPost || r.Header.Get("X-HTTP-Method-Override") != "" ||
			strings.TrimSuffix(r.URL.Path, "/") != base {
			next.ServeHTTP(w, r)
			return
		}
		key, ok := parseKey(vals)
		if !ok {
			k.reject(w, "invalid", http.StatusBadRequest, "ERR_INVALID_IDEMPOTENCY_KEY",
				"Idempotency-Key must be one value of 1 to 255 printable ASCII characters")
			return
		}
		k.serve(w, r, key, next)
	})
}

func (k *Keys) serve(w http.ResponseWriter, r *http.Request, key string, next http.Handler) {
	ctx := r.Context()
	owner, _ := k.cfg.OwnerOf(ctx)
	sum := sha256.Sum256([]byte(owner + "\x00" + key))
	rkey := k.cfg.Prefix + ":idem:{" + hex.EncodeToString(sum[:12]) + "}"
	now := time.Now().UnixMilli()
	refSum := sha256.Sum256([]byte(owner + "\x00" + key + "\x00" + strconv.FormatInt(now, 10)))
	ref, id, tok := "vg-"+hex.EncodeToString(refSum[:20]), randomHex(16), randomHex(12)
	res, err := claimScript.Run(ctx, k.cfg.Redis, []string{rkey}, fingerprint(r), now, ref, id, tok,
		k.cfg.TTL.Milliseconds(), k.cfg.StaleAfter.Milliseconds()).StringSlice()
	if err != nil || len(res) != 4 {
		k.log.WarnContext(ctx, "IdempotencyUnavailable", "error", err)
		w.Header().Set("Retry-After", "5")
		k.reject(w, "unavailable", http.StatusServiceUnavailable, "ERR_STATE_UNAVAILABLE", "upload state is unavailable; retry later")
		return
	}
	outcome, ref, id, loc := res[0], res[1], res[2], res[3]
	switch outcome {
	case "mismatch":
		k.reject(w, "mismatch", http.StatusUnprocessableEntity, "ERR_IDEMPOTENCY_KEY_MISMATCH",
			"Idempotency-Key was already used for a creation with another length or metadata")
	case "busy":
		w.Header().Set("Retry-After", "1")
		k.reject(w, "in_progress", http.StatusConflict, "ERR_IDEMPOTENCY_KEY_IN_USE",
			"a creation with this Idempotency-Key is still in progress; retry later")
	case "done":
		k.replay(w, r, id, loc, "replayed")
	case "takeover":
		// The first request died. If it recorded the upload, that is the
		// answer; otherwise create again, finding its video if VOD has it.
		if _, found, err := k.cfg.Progress(ctx, id); err == nil && found {
			loc = k.cfg.UploadURL(r, id)
			k.settle(ctx, rkey, tok, loc)
			k.replay(w, r, id, loc, "recovered")
			return
		}
		k.create(k.cfg.WithReference(ctx, ref, id, true), w, r, next, rkey, tok, "recovered")
	default:
		k.create(k.cfg.WithReference(ctx, ref, id, false), w, r, next, rkey, tok, "new")
	}
}

// create runs the creation and remembers its Location, or drops the claim
// when it failed so the client's retry creates afresh.
func (k *Keys) create(ctx context.Context, w http.ResponseWriter, r *http.Request, next http.Handler, rkey, tok, outcome string) {
	rec := &recorder{ResponseWriter: w}
	next.ServeHTTP(rec, r.WithContext(ctx))
	loc := ""
	if rec.status == http.StatusCreated {
		loc = rec.Header().Get("Location")
	}
	k.settle(r.Context(), rkey, tok, loc)
	if loc != "" {
		k.outcomes.WithLabelValues(outcome).Inc()
	}
}

func (k *Keys) settle(ctx context.Context, rkey, tok, loc string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := settleScript.Run(ctx, k.cfg.Redis, []string{rkey}, tok, loc).Err(); err != nil {
		// A claim left pending goes stale, and the next retry takes over.
		k.log.WarnContext(ctx, "IdempotencyNotSettled", "error", err)
	}
}

// replay answers as the first creation did: 201 with its Location, and
// the upload's durable offset so a client resumes from there.
func (k *Keys) replay(w http.ResponseWriter, r *http.Request, id, loc, outcome string) {
	h := w.Header()
	h.Set("Tus-Resumable", "1.0.0")
	h.Set("Location", loc)
	h.Set("Idempotent-Replayed", "true")
	if off, found, err := k.cfg.Progress(r.Context(), id); err == nil && found {
		h.Set("Upload-Offset", strconv.FormatInt(off, 10))
	}
	k.outcomes.WithLabelValues(outcome).Inc()
	w.WriteHeader(http.StatusCreated)
}

func (k *Keys) reject(w http.ResponseWriter, outcome string, status int, code, msg string) {
	k.outcomes.WithLabelValues(outcome).Inc()
	w.Header().Set("Tus-Resumable", "1.0.0")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "%s: %s\n", code, msg)
}

// parseKey accepts one Idempotency-Key value: a structured-field string
// ("…") or a bare token, of 1 to 255 printable ASCII characters.
func parseKey(vals []string) (string, bool) {
	if len(vals) != 1 {
		return "", false
	}
	v := strings.TrimSpace(vals[0])
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if v == "" || len(v) > MaxKeyLength {
		return "", false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return "", false
		}
	}
	return v, true
}

// fingerprint identifies what a creation asks for.
func fingerprint(r *http.Request) string {
	h := sha256.New()
	for _, name := range []string{"Upload-Length", "Upload-Defer-Length", "Upload-Metadata", "Upload-Concat"} {
		fmt.Fprintf(h, "%s\x00%s\x00", name, strings.TrimSpace(r.Header.Get(name)))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail (Go 1.24+)
	return hex.EncodeToString(b)
}

// recorder notes the status a handler answers with.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (tusd uses it).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
