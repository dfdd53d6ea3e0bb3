package main

import (
	"context"
	"net/http"
	"time"

	"github.com/vodgate/vodgate/internal/auth"
	"github.com/vodgate/vodgate/internal/urljobs"
	"github.com/vodgate/vodgate/internal/userdata"
	"github.com/vodgate/vodgate/tusstore"
	"github.com/vodgate/vodgate/vodbridge"
)

// buildURLJobs returns the URL-upload API and its routes, or none when it
// may not run (authentication off outside -dev).
func buildURLJobs(cfg Config, d uploadsDeps) (*urljobs.Jobs, map[string]http.Handler, error) {
	authOn := d.auth.Enabled()
	if !authOn && !cfg.Dev {
		return nil, map[string]http.Handler{}, nil
	}
	policy := userdata.Policy{CallbackHosts: cfg.UserDataCallbackHosts, ClientExtend: cfg.UserDataClientExtend,
		AccelerateHosts: cfg.OSSAccelerateHosts}
	jobs, err := urljobs.New(urljobs.Config{
		Redis: d.rdb, Prefix: cfg.RedisPrefix, VOD: d.vod,
		Defaults: vodbridge.URLRequest{TemplateGroupID: cfg.DefaultTemplateGroupID, WorkflowID: cfg.DefaultWorkflowID,
			StorageLocation: cfg.DefaultStorageLocation, AppID: cfg.DefaultAppID, UserData: cfg.DefaultUserData},
		AllowHosts: cfg.URLUploadPrivateHosts, CheckUserData: policy.Check,
		Started: func(ctx context.Context, jobID, owner, sourceURL, title string, at time.Time) {
			if err := d.catalog.AddURLJob(ctx, jobID, owner, sourceURL, title, at); err != nil {
				d.logger.WarnContext(ctx, "JournalFailed", "jobId", jobID, "event", "url job", "error", err)
			}
		},
		Ended: func(ctx context.Context, jobID string, complete bool, size int64) {
			state := tusstore.StateFailed
			if complete {
				state = tusstore.StateComplete
			}
			if err := d.catalog.Ended(ctx, tusstore.End{ID: jobID, State: state, Offset: size}); err != nil {
				d.logger.WarnContext(ctx, "JournalFailed", "jobId", jobID, "event", string(state), "error", err)
			}
		}, Authenticate: d.auth.Middleware, OwnerOf: auth.OwnerOf, Open: cfg.Dev && !authOn,
		Logger: d.logger,
	})
	if err != nil {
		return nil, nil, err
	}
	routes := map[string]http.Handler{}
	for _, p := range jobs.Patterns() {
		routes[p] = jobs
	}
	return jobs, routes, nil
}

// urlJobDone adapts the URL jobs to the VOD callback relay.
func urlJobDone(jobs *urljobs.Jobs) func(ctx context.Context, jobID, mediaID string, ok bool, size int64, code, msg string) error {
	if jobs == nil {
		return nil
	}
	return func(ctx context.Context, jobID, mediaID string, ok bool, size int64, code, msg string) error {
		state := urljobs.StateComplete
		if !ok {
			state = urljobs.StateFailed
		}
		return jobs.Update(ctx, jobID, state, mediaID, size, code, msg)
	}
}
