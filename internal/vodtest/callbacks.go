package vodtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Event notifications (HTTP callbacks). When a media asset's object completes in the OSS
// simulator (or a URL pull job finishes) the simulator builds the documented event body and
// delivers it asynchronously (deliver.go) to the upload's UserData MessageCallback.CallbackURL
// (CallbackType http or empty) or else Config.CallbackURL. The bodies, per the VOD event docs:
//
//	FileUploadComplete          EventTime (yyyy-MM-ddTHH:mm:ssZ), EventType, VideoId, Size, FileUrl, Status, Extend?
//	ImageUploadComplete         EventTime (yyyy-MM-ddTHH:mm:ss:SSSZ, milliseconds after a colon), EventType, ImageId, Size, FileURL, Status, AppId
//	AttachedMediaUploadComplete EventTime, EventType, AttachedMediaId, Size, FileURL, Status
//	UploadByURLComplete         EventTime, EventType, JobId, SourceURL, Status, then VideoId and Size (a string) on
//	                            success or ErrorCode and ErrorMessage on failure
//
// Extend is UserData.Extend re-encoded as a JSON string. Status is "success" (or "fail" for a
// failed URL job); VOD sends no event for an abandoned upload.

// Event types the simulator can send.
const (
	EventFileUploadComplete          = "FileUploadComplete"
	EventImageUploadComplete         = "ImageUploadComplete"
	EventAttachedMediaUploadComplete = "AttachedMediaUploadComplete"
	EventUploadByURLComplete         = "UploadByURLComplete"
)

// Callback defaults applied by NewServer.
const (
	DefaultCallbackTimeout       = 5 * time.Second
	DefaultCallbackAttempts      = 3
	DefaultCallbackRetryInterval = 100 * time.Millisecond
	// DefaultCallbackStale is how old a timestamp the "stale" fault sends when no age is given.
	DefaultCallbackStale = 10 * time.Minute
	// maxCallbacksInFlight bounds concurrent HTTP deliveries.
	maxCallbacksInFlight = 8
)

// DefaultCallbackEvents are the event types delivered when Config.CallbackEvents is empty.
func DefaultCallbackEvents() []string {
	return []string{EventFileUploadComplete, EventImageUploadComplete, EventAttachedMediaUploadComplete, EventUploadByURLComplete}
}

const (
	eventTimeLayout      = "2006-01-02T15:04:05Z"
	eventTimeLayoutNoZ   = "2006-01-02T15:04:05"
	eventStatusSuccess   = "success"
	eventStatusFail      = "fail"
	callbackTypeHTTP     = "http"
	headerVODTimestamp   = "X-VOD-TIMESTAMP"
	headerVODSignature   = "X-VOD-SIGNATURE"
	urlJobSuccessSteps   = 6 // PENDING … SUCCESS
	urlJobFailSteps      = 3 // PENDING … DOWNLOAD_FAIL
	urlJobFailCode       = "DownloadFailed"
	urlJobFailMessage    = "vodtest: the source could not be downloaded"
	maxJobPollInterval   = 500 * time.Millisecond
	minJobPollInterval   = 5 * time.Millisecond
	maxCallbackBodyBytes = 64 << 10
)

func (c *Config) setCallbackDefaults() {
	if len(c.CallbackEvents) == 0 {
		c.CallbackEvents = DefaultCallbackEvents()
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: DefaultCallbackTimeout}
	}
	if c.CallbackAttempts <= 0 {
		c.CallbackAttempts = DefaultCallbackAttempts
	}
	if c.CallbackRetryInterval <= 0 {
		c.CallbackRetryInterval = DefaultCallbackRetryInterval
	}
}

// eventTime formats t as yyyy-MM-ddTHH:mm:ssZ in UTC.
func eventTime(t time.Time) string { return t.UTC().Format(eventTimeLayout) }

// eventTimeMillis formats t as yyyy-MM-ddTHH:mm:ss:SSSZ in UTC, the ImageUploadComplete format:
// the documentation and its sample ("2024-04-10T01:37:14:627Z") put a colon, not a dot, before
// the milliseconds.
func eventTimeMillis(t time.Time) string {
	t = t.UTC()
	return t.Format(eventTimeLayoutNoZ) + fmt.Sprintf(":%03dZ", t.Nanosecond()/int(time.Millisecond))
}

// event is one notification ready to be delivered.
type event struct {
	Type    string
	MediaID string // VideoId / ImageId / AttachedMediaId; the JobId for a failed URL job
	URL     string
	Body    []byte
}

// userData is the part of the UserData parameter that matters for callbacks.
type userData struct {
	MessageCallback *struct {
		CallbackType string
		CallbackURL  string
	}
	Extend json.RawMessage
}

// parseUserData returns the upload's own http callback URL ("" if none) and Extend as the JSON
// string that events carry ("" if none). UserData was validated as a JSON object at creation.
func parseUserData(raw string) (callbackURL, extend string) {
	if raw == "" {
		return "", ""
	}
	var ud userData
	if err := json.Unmarshal([]byte(raw), &ud); err != nil {
		return "", ""
	}
	if mc := ud.MessageCallback; mc != nil && (mc.CallbackType == "" || strings.EqualFold(mc.CallbackType, callbackTypeHTTP)) {
		callbackURL = mc.CallbackURL
	}
	if len(ud.Extend) > 0 && !bytes.Equal(ud.Extend, []byte("null")) {
		var str string
		if json.Unmarshal(ud.Extend, &str) == nil {
			extend = str
		} else {
			var buf bytes.Buffer
			if json.Compact(&buf, ud.Extend) == nil {
				extend = buf.String()
			}
		}
	}
	return callbackURL, extend
}

// callbackTarget resolves where an event of type typ for an upload with the given UserData goes;
// ok is false when the type is not enabled or no URL is configured.
func (s *Server) callbackTarget(typ, rawUserData string) (target, extend string, ok bool) {
	own, extend := parseUserData(rawUserData)
	if !slices.Contains(s.cfg.CallbackEvents, typ) {
		return "", extend, false
	}
	target = own
	if target == "" {
		target = s.cfg.CallbackURL
	}
	return target, extend, target != ""
}

// mediaEventLocked builds the upload-complete event of rec (an uploaded object). Callers hold s.mu.
func (s *Server) mediaEventLocked(rec *mediaRec, at time.Time) (event, bool) {
	var typ string
	switch rec.Type {
	case MediaVideo:
		typ = EventFileUploadComplete
	case MediaImage:
		typ = EventImageUploadComplete
	case MediaAttached:
		typ = EventAttachedMediaUploadComplete
	default:
		return event{}, false
	}
	target, extend, ok := s.callbackTarget(typ, rec.Params["UserData"])
	s.cb.countEvent()
	if !ok {
		return event{}, false
	}
	body := map[string]any{"EventType": typ, "Size": rec.Size, "Status": eventStatusSuccess}
	switch typ {
	case EventFileUploadComplete:
		body["EventTime"], body["VideoId"], body["FileUrl"] = eventTime(at), rec.ID, s.objectURL(rec)
		if extend != "" {
			body["Extend"] = extend
		}
	case EventImageUploadComplete:
		body["EventTime"], body["ImageId"], body["FileURL"] = eventTimeMillis(at), rec.ID, s.objectURL(rec)
		body["AppId"] = valueOr(rec.Params["AppId"], defaultAppID)
	case EventAttachedMediaUploadComplete:
		body["EventTime"], body["AttachedMediaId"], body["FileURL"] = eventTime(at), rec.ID, s.objectURL(rec)
	}
	return newEvent(typ, rec.ID, target, body), true
}

// urlJobEvent builds the UploadByURLComplete event of a finished job.
func (s *Server) urlJobEvent(job *urlJob, at time.Time) (event, bool) {
	target, _, ok := s.callbackTarget(EventUploadByURLComplete, job.userData)
	s.cb.countEvent()
	if !ok {
		return event{}, false
	}
	body := map[string]any{
		"EventTime": eventTime(at), "EventType": EventUploadByURLComplete, "JobId": job.id, "SourceURL": job.url,
	}
	id := job.mediaID
	if job.fail {
		body["Status"], body["ErrorCode"], body["ErrorMessage"] = eventStatusFail, urlJobFailCode, urlJobFailMessage
		id = job.id
	} else {
		body["Status"], body["VideoId"] = eventStatusSuccess, job.mediaID
		if job.fileSize > 0 {
			body["Size"] = strconv.FormatInt(job.fileSize, 10) // a string in the documented sample
		}
	}
	return newEvent(EventUploadByURLComplete, id, target, body), true
}

func newEvent(typ, id, target string, body map[string]any) event {
	raw, _ := json.Marshal(body) // strings and integers only: cannot fail
	return event{Type: typ, MediaID: id, URL: target, Body: raw}
}

// urlJobDoneAt is when a finished job completed.
func (s *Server) urlJobDoneAt(job *urlJob) time.Time {
	if job.fail {
		return job.created.Add(urlJobFailSteps * s.cfg.URLJobStep)
	}
	return job.created.Add(urlJobSuccessSteps * s.cfg.URLJobStep)
}

// notifyJobLocked sends the job's UploadByURLComplete once, when it is first seen finished.
// Callers hold s.mu.
func (s *Server) notifyJobLocked(job *urlJob, done bool) {
	if !done || job.notified {
		return
	}
	job.notified = true
	if ev, ok := s.urlJobEvent(job, s.urlJobDoneAt(job)); ok {
		s.cb.emit(ev)
	}
}

// startJobPoller makes sure unfinished URL jobs are looked at as Clock advances, so their
// UploadByURLComplete goes out without anyone calling GetURLUploadInfos.
func (s *Server) startJobPoller() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.cb.jobPolling {
		s.cb.jobPolling = s.cb.goTracked(s.pollJobs)
	}
}

func (s *Server) pollJobs() {
	interval := min(max(s.cfg.URLJobStep/2, minJobPollInterval), maxJobPollInterval)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-s.cb.ctx.Done():
			return
		case <-tick.C:
		}
		now := s.cfg.Clock()
		s.mu.Lock()
		pending := false
		for _, id := range s.jobOrder {
			if job := s.jobs[id]; !job.notified {
				s.advanceJobLocked(job, now)
				pending = pending || !job.notified
			}
		}
		if !pending {
			s.cb.jobPolling = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
}
