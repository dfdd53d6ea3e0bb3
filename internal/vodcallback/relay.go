// Package vodcallback receives ApsaraVideo VOD's HTTP event callbacks and
// relays them as media.* events: it checks VOD's callback authentication
// (X-VOD-TIMESTAMP, X-VOD-SIGNATURE = md5hex(callbackURL|timestamp|key)),
// refuses stale timestamps and replayed signatures, drops duplicate
// events, and links each media ID to its upload and owner.
package vodcallback

import (
	"context"
	"crypto/md5" //nolint:gosec // VOD's callback signature is MD5 by definition
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	DefaultPath    = "/vod/callback"
	DefaultMaxSkew = 5 * time.Minute
	maxBodyBytes   = 64 << 10
	dedupeTTL      = 7 * 24 * time.Hour
)

// Notifier writes events; *events.Outbox implements it.
type Notifier interface {
	Notify(ctx context.Context, typ, subject, discriminator string, data map[string]any) error
}

// Upload is the upload a media belongs to.
type Upload struct {
	ID, Owner, State string
}

// Config configures a [Relay]. Redis, Keys and Notifier are required.
type Config struct {
	Redis  redis.UniversalClient
	Prefix string
	// Keys are VOD callback auth keys; a signature by any of them is
	// accepted (rotation).
	Keys []string
	// PublicURL, if set, is the scheme and host VOD calls; the signed URL
	// is PublicURL and the request's path. Without it the request's Host
	// is tried with http and https.
	PublicURL string
	MaxSkew   time.Duration
	Notifier  Notifier
	// Lookup finds the upload of a media (ok=false for a media uploaded
	// some other way).
	Lookup func(ctx context.Context, mediaID string) (Upload, bool, error)
	// Uploaded, if set, is called when VOD reports a media's source
	// uploaded whose upload is listed as failed (its finish failed on the
	// gateway but the object is complete): the upload becomes complete.
	Uploaded func(ctx context.Context, uploadID string) error
	// URLJobDone, if set, records the end of a URL job (UploadByURLComplete).
	URLJobDone func(ctx context.Context, jobID, mediaID string, ok bool, size int64, code, msg string) error
	Clock      func() time.Time
	Registry   prometheus.Registerer
	Logger     *slog.Logger
}

// Relay is the callback endpoint's handler.
type Relay struct {
	cfg      Config
	log      *slog.Logger
	received *prometheus.CounterVec
}

// New returns a Relay. It does no I/O.
func New(cfg Config) (*Relay, error) {
	if cfg.Redis == nil || len(cfg.Keys) == 0 || cfg.Notifier == nil {
		return nil, errors.New("vodcallback: Redis, Keys and Notifier are required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "vodgate"
	}
	if cfg.MaxSkew <= 0 {
		cfg.MaxSkew = DefaultMaxSkew
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Lookup == nil {
		cfg.Lookup = func(context.Context, string) (Upload, bool, error) { return Upload{}, false, nil }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Relay{cfg: cfg, log: cfg.Logger.With("component", "vodcallback"),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vodgate_vod_callbacks_total",
			Help: "VOD callbacks received, by outcome (relayed, duplicate, ignored, unauthenticated, stale, replayed, malformed, failed)."},
			[]string{"outcome"})}
	if cfg.Registry != nil {
		if err := cfg.Registry.Register(r.received); err != nil {
			return nil, fmt.Errorf("vodcallback: register metrics: %w", err)
		}
	}
	return r, nil
}

// callback is the part of a VOD event body the relay reads.
type callback struct {
	EventType       string          `json:"EventType"`
	EventTime       string          `json:"EventTime"`
	Status          string          `json:"Status"`
	VideoID         string          `json:"VideoId"`
	ImageID         string          `json:"ImageId"`
	AttachedMediaID string          `json:"AttachedMediaId"`
	MediaID         string          `json:"MediaId"`
	JobID           string          `json:"JobId"`
	Size            json.RawMessage `json:"Size"` // a number, or a string for URL jobs
	ErrorCode       string          `json:"ErrorCode"`
	ErrorMessage    string          `json:"ErrorMessage"`
}

func (c callback) size() int64 {
	n, _ := strconv.ParseInt(strings.Trim(string(c.Size), `"`), 10, 64)
	return n
}

func (c callback) media() string {
	for _, id := range []string{c.VideoID, c.ImageID, c.AttachedMediaID, c.MediaID} {
		if id != "" {
			return id
		}
	}
	return ""
}

// eventType maps a VOD event to the relayed type ("" to ignore it).
func (c callback) eventType() string {
	switch c.EventType {
	case "FileUploadComplete", "ImageUploadComplete", "AttachedMediaUploadComplete":
		return "media.uploaded"
	case "TranscodeComplete", "StreamTranscodeComplete":
		if strings.EqualFold(c.Status, "success") {
			return "media.transcoded"
		}
		return "media.failed"
	case "UploadByURLComplete":
		return "media.url_upload_completed"
	}
	return ""
}

// ServeHTTP answers 200 to an authentic callback (relayed, or dropped as
// a duplicate or an event type it does not relay), 401 to a forged, stale
// or replayed one, 400 to a malformed body, and 503 when Redis is down
// (VOD retries).
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	ctx := req.Context()
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		r.answer(w, http.StatusMethodNotAllowed, "method", "POST only")
		return
	}
	ts, sig := req.Header.Get("X-VOD-TIMESTAMP"), strings.ToLower(req.Header.Get("X-VOD-SIGNATURE"))
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sig) != 32 {
		r.answer(w, http.StatusUnauthorized, "unauthenticated", "missing or malformed X-VOD-TIMESTAMP or X-VOD-SIGNATURE")
		return
	}
	if skew := r.cfg.Clock().Sub(time.Unix(sec, 0)); skew > r.cfg.MaxSkew || skew < -r.cfg.MaxSkew {
		r.answer(w, http.StatusUnauthorized, "stale", "X-VOD-TIMESTAMP is too far from now")
		return
	}
	if !r.authentic(req, ts, sig) {
		r.answer(w, http.StatusUnauthorized, "unauthenticated", "X-VOD-SIGNATURE does not match")
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxBodyBytes+1))
	var cb callback
	if err != nil || len(body) > maxBodyBytes || json.Unmarshal(body, &cb) != nil || cb.EventType == "" {
		r.answer(w, http.StatusBadRequest, "malformed", "body is not a VOD event")
		return
	}
	// VOD signs the URL and the second, not the body: two events in one
	// second carry one signature. A replay is the same signature with the
	// same body.
	bodySum := sha256.Sum256(body)
	sigKey := r.cfg.Prefix + ":vodcb:seen:" + sig + ":" + hex.EncodeToString(bodySum[:16])
	fresh, err := r.cfg.Redis.SetNX(ctx, sigKey, ts, 2*r.cfg.MaxSkew).Result()
	if err != nil {
		r.unavailable(ctx, w, err)
		return
	}
	if !fresh {
		r.answer(w, http.StatusUnauthorized, "replayed", "this signed callback was received already")
		return
	}
	outcome, err := r.relay(ctx, cb, body)
	if err != nil {
		_ = r.cfg.Redis.Del(context.WithoutCancel(ctx), sigKey).Err() // let VOD's retry through
		r.unavailable(ctx, w, err)
		return
	}
	r.answer(w, http.StatusOK, outcome, "")
}

// authentic checks the signature against the URLs VOD may have signed.
func (r *Relay) authentic(req *http.Request, ts, sig string) bool {
	var urls []string
	if r.cfg.PublicURL != "" {
		urls = append(urls, strings.TrimSuffix(r.cfg.PublicURL, "/")+req.URL.RequestURI())
	} else {
		urls = append(urls, "https://"+req.Host+req.URL.RequestURI(), "http://"+req.Host+req.URL.RequestURI())
	}
	for _, u := range urls {
		for _, k := range r.cfg.Keys {
			sum := md5.Sum([]byte(u + "|" + ts + "|" + k)) //nolint:gosec // by definition
			if subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(sig)) == 1 {
				return true
			}
		}
	}
	return false
}

// relay emits the media event of cb once per (type, media or job, time).
func (r *Relay) relay(ctx context.Context, cb callback, raw []byte) (string, error) {
	typ := cb.eventType()
	if typ == "" {
		return "ignored", nil
	}
	mediaID := cb.media()
	subjectID := mediaID
	if subjectID == "" {
		subjectID = cb.JobID
	}
	disc := cb.EventType + "|" + cb.EventTime + "|" + cb.JobID
	fresh, err := r.cfg.Redis.SetNX(ctx, r.cfg.Prefix+":vodcb:event:{"+subjectID+"}:"+disc, 1, dedupeTTL).Result()
	if err != nil {
		return "", fmt.Errorf("vodcallback: dedupe: %w", err)
	}
	if !fresh {
		return "duplicate", nil
	}
	data := map[string]any{"mediaId": mediaID, "vodEventType": cb.EventType, "status": cb.Status,
		"eventTime": cb.EventTime, "vod": json.RawMessage(raw), "uploadId": nil, "owner": nil}
	if cb.JobID != "" {
		data["jobId"] = cb.JobID
		if r.cfg.URLJobDone != nil && cb.EventType == "UploadByURLComplete" {
			ok := strings.EqualFold(cb.Status, "success")
			if err := r.cfg.URLJobDone(ctx, cb.JobID, mediaID, ok, cb.size(), cb.ErrorCode, cb.ErrorMessage); err != nil {
				return "", err
			}
		}
	}
	subject := subjectID
	if mediaID != "" {
		up, ok, err := r.cfg.Lookup(ctx, mediaID)
		if err != nil {
			return "", err
		}
		if ok {
			data["uploadId"], data["owner"], subject = up.ID, up.Owner, up.ID
			if typ == "media.uploaded" && up.State == "failed" && r.cfg.Uploaded != nil {
				if err := r.cfg.Uploaded(ctx, up.ID); err != nil {
					return "", err
				}
			}
		}
	}
	if err := r.cfg.Notifier.Notify(ctx, typ, subject, disc, data); err != nil {
		return "", err
	}
	r.log.InfoContext(ctx, "VODCallbackRelayed", "type", typ, "mediaId", mediaID, "vodEvent", cb.EventType)
	return "relayed", nil
}

func (r *Relay) unavailable(ctx context.Context, w http.ResponseWriter, err error) {
	r.log.WarnContext(ctx, "VODCallbackFailed", "error", err)
	w.Header().Set("Retry-After", "5")
	r.answer(w, http.StatusServiceUnavailable, "failed", "state is unavailable; retry later")
}

func (r *Relay) answer(w http.ResponseWriter, code int, outcome, msg string) {
	r.received.WithLabelValues(outcome).Inc()
	if msg == "" {
		w.WriteHeader(code)
		return
	}
	http.Error(w, msg, code)
}
