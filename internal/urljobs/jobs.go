// Package urljobs lets an app have VOD pull online files by URL
// (UploadMediaByURL) through the gateway, behind its authentication:
//
//	POST /url-uploads        {"url":"https://…","metadata":{…}} or {"items":[…]}  → 202
//	GET  /url-uploads/{jobId}                                                      → the job
//
// Jobs are kept in Redis, scoped to their owner, and kept current by VOD's
// UploadByURLComplete callback (through internal/vodcallback) or, when it
// does not come, by asking VOD (GetURLUploadInfos) when a client asks.
package urljobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vodgate/vodgate/vodbridge"
)

// Job states.
const (
	StatePending     = "pending"
	StateDownloading = "downloading"
	StateComplete    = "complete"
	StateFailed      = "failed"
	jobTTL           = 30 * 24 * time.Hour
	pollEvery        = time.Second
)

// VOD pulls URLs; *vodbridge.Client implements it.
type VOD interface {
	UploadMediaByURL(ctx context.Context, req vodbridge.URLRequest) ([]vodbridge.URLJob, error)
	GetURLUploadInfos(ctx context.Context, jobIDs []string) ([]vodbridge.URLJobInfo, error)
}

// Config configures [New]. Redis and VOD are required.
type Config struct {
	Redis  redis.UniversalClient
	Prefix string
	VOD    VOD
	// BasePath is where the API is mounted. Default: /url-uploads.
	BasePath string
	// Defaults apply to every request (template group, storage location,
	// app, userData); a request's metadata overrides them.
	Defaults vodbridge.URLRequest
	// AllowHosts are source hosts exempt from the private-address rule
	// (url-upload-private-hosts).
	AllowHosts []string
	// CheckUserData vets a client's userData, as for tus creations.
	CheckUserData func(string) error
	// Authenticate and OwnerOf scope jobs to the token's owner; Open (no
	// authentication, -dev only) lets anyone through as owner "".
	Authenticate func(http.Handler) http.Handler
	OwnerOf      func(ctx context.Context) (string, bool)
	Open         bool
	// Started, if set, learns of each job created (the upload list lists
	// it); Ended of each job's end (complete or failed, with its size).
	Started func(ctx context.Context, jobID, owner, sourceURL, title string, at time.Time)
	Ended   func(ctx context.Context, jobID string, complete bool, size int64)
	Logger  *slog.Logger
}

// Jobs is the URL-upload API.
type Jobs struct {
	cfg     Config
	log     *slog.Logger
	handler http.Handler
}

// New returns the API. It does no I/O.
func New(cfg Config) (*Jobs, error) {
	if cfg.Redis == nil || cfg.VOD == nil {
		return nil, errors.New("urljobs: Redis and VOD are required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "vodgate"
	}
	if cfg.BasePath == "" {
		cfg.BasePath = "/url-uploads"
	}
	cfg.BasePath = "/" + strings.Trim(cfg.BasePath, "/")
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	j := &Jobs{cfg: cfg, log: cfg.Logger.With("component", "urljobs")}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+cfg.BasePath, j.create)
	mux.HandleFunc("GET "+cfg.BasePath+"/{id}", j.get)
	var h http.Handler = mux
	if cfg.Authenticate != nil {
		h = cfg.Authenticate(h)
	}
	j.handler = h
	return j, nil
}

// Patterns are the paths to mount the API on.
func (j *Jobs) Patterns() []string { return []string{j.cfg.BasePath, j.cfg.BasePath + "/"} }

// ServeHTTP implements http.Handler.
func (j *Jobs) ServeHTTP(w http.ResponseWriter, r *http.Request) { j.handler.ServeHTTP(w, r) }

func (j *Jobs) owner(w http.ResponseWriter, r *http.Request) (string, bool) {
	if j.cfg.Open {
		return "", true
	}
	if j.cfg.OwnerOf != nil {
		if o, ok := j.cfg.OwnerOf(r.Context()); ok {
			return o, true
		}
	}
	fail(w, http.StatusUnauthorized, "ERR_UNAUTHORIZED", "a bearer token is required")
	return "", false
}

// item is one URL of a request.
type item struct {
	URL      string            `json:"url"`
	Metadata map[string]string `json:"metadata"`
}

func (j *Jobs) create(w http.ResponseWriter, r *http.Request) {
	owner, ok := j.owner(w, r)
	if !ok {
		return
	}
	var body struct {
		item
		Items []item `json:"items"`
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(raw, &body)
	}
	items := body.Items
	single := body.URL != ""
	if single {
		items = append([]item{body.item}, items...)
	}
	switch {
	case err != nil:
		fail(w, http.StatusBadRequest, "ERR_INVALID_BODY", `body must be {"url":…,"metadata":{…}} or {"items":[…]}`)
		return
	case len(items) == 0 || len(items) > vodbridge.MaxURLsPerCall:
		fail(w, http.StatusBadRequest, "ERR_INVALID_BODY", fmt.Sprintf("give 1 to %d urls", vodbridge.MaxURLsPerCall))
		return
	}
	req, msg := j.request(items)
	if msg != "" {
		fail(w, http.StatusBadRequest, "ERR_INVALID_URL_UPLOAD", msg)
		return
	}
	jobs, err := j.cfg.VOD.UploadMediaByURL(r.Context(), req)
	if err != nil {
		j.vodFailed(w, r, err)
		return
	}
	now := time.Now().UTC()
	out := make([]map[string]any, 0, len(jobs))
	pipe := j.cfg.Redis.Pipeline()
	for _, job := range jobs {
		pipe.HSet(r.Context(), j.key(job.JobID), "owner", owner, "url", job.SourceURL, "state", StatePending,
			"created", now.UnixMilli(), "updated", now.UnixMilli())
		pipe.Expire(r.Context(), j.key(job.JobID), jobTTL)
		out = append(out, map[string]any{"jobId": job.JobID, "sourceUrl": job.SourceURL, "state": StatePending,
			"statusUrl": j.cfg.BasePath + "/" + job.JobID})
	}
	if _, err := pipe.Exec(r.Context()); err != nil {
		// VOD has the jobs; the client can still not follow them here.
		j.log.WarnContext(r.Context(), "URLJobsNotRecorded", "error", err)
		fail(w, http.StatusServiceUnavailable, "ERR_STATE_UNAVAILABLE", "the jobs started but could not be recorded; retry later")
		return
	}
	if j.cfg.Started != nil {
		for i, job := range jobs {
			title := job.SourceURL
			if i < len(req.Items) {
				title = req.Items[i].Title
			}
			j.cfg.Started(r.Context(), job.JobID, owner, job.SourceURL, title, now)
		}
	}
	j.log.InfoContext(r.Context(), "URLJobsStarted", "owner", owner, "jobs", len(jobs))
	resp := map[string]any{"items": out}
	if single && len(out) == 1 {
		for k, v := range out[0] {
			resp[k] = v
		}
	}
	reply(w, http.StatusAccepted, resp)
}

// request builds the VOD request, or names the first problem.
func (j *Jobs) request(items []item) (vodbridge.URLRequest, string) {
	req := j.cfg.Defaults
	req.Items = nil
	for i, it := range items {
		if err := CheckURL(it.URL, j.cfg.AllowHosts...); err != nil {
			return req, fmt.Sprintf("items[%d].url: %v", i, err)
		}
		m := it.Metadata
		vi := vodbridge.URLItem{URL: it.URL, Title: m["title"], Description: m["description"],
			FileExtension: strings.TrimPrefix(m["fileExtension"], "."), TemplateGroupID: m["templateGroupId"], WorkflowID: m["workflowId"]}
		if vi.Title == "" {
			vi.Title = strings.TrimSuffix(path.Base(strings.SplitN(it.URL, "?", 2)[0]), path.Ext(it.URL))
		}
		if t := m["tags"]; t != "" {
			vi.Tags = strings.Split(t, ",")
		}
		if c := m["cateId"]; c != "" {
			n, err := strconv.ParseInt(c, 10, 64)
			if err != nil || n < 0 {
				return req, fmt.Sprintf("items[%d].metadata.cateId must be a number", i)
			}
			vi.CateID = n
		}
		if i == 0 { // VOD takes these once per call
			for k, p := range map[string]*string{"storageLocation": &req.StorageLocation, "appId": &req.AppID, "userData": &req.UserData} {
				if v := m[k]; v != "" {
					*p = v
				}
			}
			if v := m["userData"]; v != "" && j.cfg.CheckUserData != nil {
				if err := j.cfg.CheckUserData(v); err != nil {
					return req, err.Error()
				}
			}
		}
		req.Items = append(req.Items, vi)
	}
	return req, ""
}

func (j *Jobs) key(id string) string { return j.cfg.Prefix + ":urljob:{" + id + "}" }

func (j *Jobs) get(w http.ResponseWriter, r *http.Request) {
	owner, ok := j.owner(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	h, err := j.cfg.Redis.HGetAll(r.Context(), j.key(id)).Result()
	if err != nil {
		fail(w, http.StatusServiceUnavailable, "ERR_STATE_UNAVAILABLE", "job state is unavailable; retry later")
		return
	}
	if len(h) == 0 || (!j.cfg.Open && h["owner"] != owner) {
		fail(w, http.StatusNotFound, "ERR_JOB_NOT_FOUND", "no such url upload")
		return
	}
	if st := h["state"]; st != StateComplete && st != StateFailed {
		if polled, _ := strconv.ParseInt(h["polled"], 10, 64); time.Since(time.UnixMilli(polled)) > pollEvery {
			h = j.poll(r.Context(), id, h)
		}
	}
	reply(w, http.StatusOK, render(id, h))
}

// poll asks VOD for the job's state and records it.
func (j *Jobs) poll(ctx context.Context, id string, h map[string]string) map[string]string {
	infos, err := j.cfg.VOD.GetURLUploadInfos(ctx, []string{id})
	j.cfg.Redis.HSet(ctx, j.key(id), "polled", time.Now().UnixMilli())
	if err != nil || len(infos) == 0 {
		if err != nil {
			j.log.WarnContext(ctx, "URLJobPollFailed", "jobId", id, "error", err)
		}
		return h
	}
	in := infos[0]
	if err := j.Update(ctx, id, State(in.Status), in.MediaID, in.FileSize, in.ErrorCode, in.ErrorMessage); err == nil {
		h2, err := j.cfg.Redis.HGetAll(ctx, j.key(id)).Result()
		if err == nil && len(h2) > 0 {
			return h2
		}
	}
	return h
}

// State maps a VOD URL-job status to a job state.
func State(vodStatus string) string {
	s := strings.ToUpper(vodStatus)
	switch {
	case strings.Contains(s, "FAIL"):
		return StateFailed
	case s == "SUCCESS":
		return StateComplete
	case s == "PENDING" || s == "PROCESSING" || s == "":
		return StatePending
	}
	return StateDownloading
}

// Update records a job's state (from a poll or VOD's callback); a job
// that ended stays ended. Unknown jobs are ignored.
func (j *Jobs) Update(ctx context.Context, id, state, mediaID string, size int64, code, msg string) error {
	h, err := j.cfg.Redis.HMGet(ctx, j.key(id), "state").Result()
	if err != nil {
		return fmt.Errorf("urljobs: read %s: %w", id, err)
	}
	cur, _ := h[0].(string)
	if cur == "" || cur == StateComplete || cur == StateFailed {
		return nil
	}
	fields := []any{"state", state, "updated", time.Now().UnixMilli()}
	if mediaID != "" {
		fields = append(fields, "mediaId", mediaID)
	}
	if size > 0 {
		fields = append(fields, "size", size)
	}
	if state == StateFailed {
		fields = append(fields, "errorCode", code, "errorMessage", msg)
	}
	if err := j.cfg.Redis.HSet(ctx, j.key(id), fields...).Err(); err != nil {
		return fmt.Errorf("urljobs: update %s: %w", id, err)
	}
	if j.cfg.Ended != nil && (state == StateComplete || state == StateFailed) {
		j.cfg.Ended(ctx, id, state == StateComplete, size)
	}
	return nil
}

func render(id string, h map[string]string) map[string]any {
	ms := func(k string) string {
		n, _ := strconv.ParseInt(h[k], 10, 64)
		return time.UnixMilli(n).UTC().Format(time.RFC3339)
	}
	out := map[string]any{"jobId": id, "sourceUrl": h["url"], "state": h["state"], "mediaId": nil, "size": nil,
		"error": nil, "createdAt": ms("created"), "updatedAt": ms("updated")}
	if v := h["mediaId"]; v != "" {
		out["mediaId"] = v
	}
	if n, err := strconv.ParseInt(h["size"], 10, 64); err == nil {
		out["size"] = n
	}
	if h["state"] == StateFailed {
		out["error"] = map[string]string{"code": h["errorCode"], "message": h["errorMessage"]}
	}
	return out
}

// vodFailed answers a VOD failure: its refusal as 400, anything else 503.
func (j *Jobs) vodFailed(w http.ResponseWriter, r *http.Request, err error) {
	j.log.WarnContext(r.Context(), "URLJobsNotStarted", "error", err)
	var api *vodbridge.APIError
	if errors.Is(err, vodbridge.ErrInvalidArgument) && errors.As(err, &api) {
		fail(w, http.StatusBadRequest, "ERR_VOD_REJECTED", "VOD rejected the request: "+api.Code)
		return
	}
	fail(w, http.StatusServiceUnavailable, "ERR_VOD_UNAVAILABLE", "VOD is unavailable; retry later")
}

func fail(w http.ResponseWriter, code int, errCode, msg string) {
	if code >= 500 {
		w.Header().Set("Retry-After", "5")
	}
	reply(w, code, map[string]string{"error": errCode, "message": msg})
}

func reply(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}
