package vodtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/vodgate/vodgate/internal/osstest"
)

// URL pull upload. A job advances one status every Config.URLJobStep (by Clock):
//
//	PENDING → PROCESSING → DOWNLOADING → DOWNLOAD_SUCCESS → UPLOADING → UPLOAD_SUCCESS → SUCCESS
//
// A source that is not http(s), whose host ends in ".invalid", or that has no usable extension
// stops at DOWNLOAD_FAIL instead. Nothing is downloaded: the job's video reaches UploadSucc with
// the FileSize given in UploadMetadatas (0 if none), and no object appears in the OSS simulator.

const maxURLJobsPerQuery = 10

// urlJobStatus is the status after step steps; a failing job stops at DOWNLOAD_FAIL.
func urlJobStatus(step int, fail bool) (status string, done bool) {
	seq := []string{"PENDING", "PROCESSING", "DOWNLOADING", "DOWNLOAD_SUCCESS", "UPLOADING", "UPLOAD_SUCCESS", "SUCCESS"}
	if fail && step >= 3 {
		return "DOWNLOAD_FAIL", true
	}
	if step >= len(seq)-1 {
		return seq[len(seq)-1], true
	}
	return seq[step], false
}

type urlJob struct {
	id       string
	url      string
	mediaID  string
	created  time.Time
	fail     bool
	fileSize int64
	userData string
	notified bool // UploadByURLComplete generated (guarded by Server.mu)
	fetching bool // Config.FetchURLs: the download has not ended (guarded by Server.mu)
}

type urlMetadata struct {
	SourceURL     string
	Title         string
	FileSize      json.Number
	Description   string
	FileExtension string
	Tags          string
}

func (s *Server) uploadMediaByURL(_ context.Context, req *request) (map[string]any, *apiError) {
	p := req.params
	raw, aerr := splitIDs(p, "UploadURLs", true)
	if aerr != nil {
		return nil, aerr
	}
	metas := map[string]urlMetadata{}
	if m := p["UploadMetadatas"]; m != "" {
		var list []urlMetadata
		if err := json.Unmarshal([]byte(m), &list); err != nil {
			return nil, errInvalid("UploadMetadatas")
		}
		for _, md := range list {
			metas[md.SourceURL] = md
		}
	}
	if tg := p["TemplateGroupId"]; tg != "" && !s.templates[tg] {
		return nil, newError(404, codeTemplateNotFound, "The specified template group %q does not exist.", tg)
	}
	storage, bucket, aerr := s.validateCommon(map[string]string{
		"UserData": p["UserData"], "StorageLocation": p["StorageLocation"],
	})
	if aerr != nil {
		return nil, aerr
	}
	jobs := []map[string]any{}
	for _, enc := range raw {
		src, err := url.QueryUnescape(enc)
		if err != nil {
			return nil, errInvalid("UploadURLs")
		}
		md := metas[src]
		u, perr := url.Parse(src)
		ext := strings.ToLower(strings.TrimPrefix(md.FileExtension, "."))
		if ext == "" && perr == nil {
			ext = strings.ToLower(strings.TrimPrefix(path.Ext(u.Path), "."))
		}
		fail := perr != nil || (u.Scheme != "http" && u.Scheme != "https") ||
			strings.HasSuffix(u.Hostname(), ".invalid") || !isVideoExt(ext)
		title := md.Title
		if title == "" && perr == nil {
			title = path.Base(u.Path)
		}
		size, _ := md.FileSize.Int64()
		params := cloneMap(p)
		params["Title"], params["SourceURL"] = title, src
		rec := &mediaRec{Media: Media{
			ID: randHex(16), Type: MediaVideo, Title: title, FileName: path.Base(src), Status: StatusUploading,
			Bucket: bucket, Key: "sv/" + randAlnum(8) + "-" + randHex(4) + "/" + randAlnum(8) + "-" + randHex(4) + "." + ext,
			Params: params, Created: req.now,
		}, storage: storage, modified: req.now}
		job := &urlJob{id: randHex(16), url: src, mediaID: rec.ID, created: req.now, fail: fail, fileSize: size, userData: p["UserData"],
			fetching: s.cfg.FetchURLs && !fail}
		rec.job = job
		s.addMedia(rec)
		s.mu.Lock()
		s.jobs[job.id] = job
		s.jobOrder = append(s.jobOrder, job.id)
		s.mu.Unlock()
		jobs = append(jobs, map[string]any{"JobId": job.id, "SourceURL": src})
		if job.fetching {
			go s.fetch(job, rec.Bucket, rec.Key)
		}
	}
	s.startJobPoller()
	return map[string]any{"UploadJobs": jobs}, nil
}

func (s *Server) getURLUploadInfos(_ context.Context, req *request) (map[string]any, *apiError) {
	p := req.params
	jobIDs, aerr := splitIDs(p, "JobIds", false)
	if aerr != nil {
		return nil, aerr
	}
	urls, aerr := splitIDs(p, "UploadURLs", false)
	if aerr != nil {
		return nil, aerr
	}
	if len(jobIDs) > maxURLJobsPerQuery {
		return nil, errInvalid("JobIds")
	}
	if len(urls) > maxURLJobsPerQuery {
		return nil, errInvalid("UploadURLs")
	}
	if len(jobIDs) == 0 && len(urls) == 0 {
		return nil, errMissing("JobIds")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	infos, nonExists := []map[string]any{}, []string{}
	if len(jobIDs) > 0 { // JobIds win over UploadURLs
		for _, id := range jobIDs {
			if job, ok := s.jobs[id]; ok {
				infos = append(infos, s.jobInfoLocked(job, req.now))
			} else {
				nonExists = append(nonExists, id)
			}
		}
	} else {
		for _, enc := range urls {
			src, err := url.QueryUnescape(enc)
			if err != nil {
				return nil, errInvalid("UploadURLs")
			}
			found := false
			for _, id := range s.jobOrder {
				if job := s.jobs[id]; job.url == src {
					infos = append(infos, s.jobInfoLocked(job, req.now))
					found = true
				}
			}
			if !found {
				nonExists = append(nonExists, enc)
			}
		}
	}
	return map[string]any{"URLUploadInfoList": infos, "NonExists": nonExists}, nil
}

// jobInfoLocked computes the job's status at now and moves its video along. Callers hold s.mu.
func (s *Server) jobInfoLocked(job *urlJob, now time.Time) map[string]any {
	_, status, done := s.advanceJobLocked(job, now)
	info := map[string]any{
		"JobId": job.id, "UploadURL": job.url, "MediaId": job.mediaID, "Status": status,
		"CreationTime": isoTime(job.created), "UserData": job.userData,
	}
	if job.fileSize > 0 {
		info["FileSize"] = strconv.FormatInt(job.fileSize, 10)
	}
	if done {
		info["CompleteTime"] = isoTime(s.urlJobDoneAt(job))
	}
	if job.fail && done {
		info["ErrorCode"] = urlJobFailCode
		info["ErrorMessage"] = urlJobFailMessage
	}
	return info
}

// advanceJobLocked applies the job's progress at now to its video. Callers hold s.mu.
func (s *Server) advanceJobLocked(job *urlJob, now time.Time) (step int, status string, done bool) {
	step = int(now.Sub(job.created) / s.cfg.URLJobStep)
	if job.fetching {
		step = min(step, 2) // DOWNLOADING until the download ends
	}
	status, done = urlJobStatus(step, job.fail)
	defer s.notifyJobLocked(job, done) // after the video's status moved on
	rec := s.media[job.mediaID]
	if rec == nil || rec.Status != StatusUploading {
		return step, status, done
	}
	switch {
	case job.fail && done:
		at := job.created.Add(3 * s.cfg.URLJobStep)
		rec.Status, rec.modified = StatusUploadFail, at
	case !job.fail && step >= 5:
		at := job.created.Add(5 * s.cfg.URLJobStep)
		rec.Status, rec.Size, rec.completed, rec.modified = StatusUploadSucc, job.fileSize, at, at
	}
	return step, status, done
}

// fetch downloads a URL job's source and stores it as its video's object
// (Config.FetchURLs); a failed download fails the job.
func (s *Server) fetch(job *urlJob, bucket, key string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	data, err := s.download(ctx, job.url)
	if err == nil {
		var o osstest.Object
		if o, err = s.cfg.OSS.StoreObject(ctx, bucket, key, data); err == nil {
			s.mu.Lock()
			job.fileSize = o.Size
			s.mu.Unlock()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	job.fetching = false
	if err != nil {
		job.fail = true
		s.log.Debug("URLJobFetchFailed", "job", job.id, "error", err)
	}
}

func (s *Server) download(ctx context.Context, src string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("vodtest: GET %s: %s", src, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<30))
}
