package vodtest

import (
	"fmt"
	"net/http"
	"sort"
	"time"
)

// Media types.
const (
	MediaVideo    = "video"
	MediaImage    = "image"
	MediaAttached = "attached"
)

// Media statuses. Videos go Uploading → UploadSucc (when the OSS simulator reports the object
// complete) → Normal (after Config.NormalAfter, or SetStatus). Images and attached media go
// Uploading → Normal.
const (
	StatusUploading     = "Uploading"
	StatusUploadSucc    = "UploadSucc"
	StatusUploadFail    = "UploadFail"
	StatusTranscoding   = "Transcoding"
	StatusTranscodeFail = "TranscodeFail"
	StatusBlocked       = "Blocked"
	StatusNormal        = "Normal"
)

// Media is a snapshot of one media asset the simulator created.
type Media struct {
	ID       string
	Type     string // video | image | attached
	Title    string
	FileName string
	Status   string
	Bucket   string
	Key      string
	Size     int64             // bytes of the completed object; 0 until then
	Params   map[string]string // parameters of the Create* call (no protocol or secret params)
	Created  time.Time
}

// mediaRec is the stored state behind a Media.
type mediaRec struct {
	Media
	storage   string
	modified  time.Time
	completed time.Time
	grants    []string // STS AccessKey IDs issued for the object
	forbidden bool
	job       *urlJob // set for media created by UploadMediaByURL
}

func objectKey(bucket, key string) string { return bucket + "/" + key }

func (s *Server) addMedia(rec *mediaRec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.media[rec.ID] = rec
	s.byObject[objectKey(rec.Bucket, rec.Key)] = rec.ID
}

// advanceLocked applies clock-driven transitions. Callers hold s.mu.
func (s *Server) advanceLocked(rec *mediaRec, now time.Time) {
	if rec.job != nil {
		s.advanceJobLocked(rec.job, now)
	}
	if rec.Type == MediaVideo && rec.Status == StatusUploadSucc && s.cfg.NormalAfter > 0 &&
		!rec.completed.IsZero() && !now.Before(rec.completed.Add(s.cfg.NormalAfter)) {
		rec.Status = StatusNormal
		rec.modified = rec.completed.Add(s.cfg.NormalAfter)
	}
}

// snapshotLocked copies rec for callers outside the lock. Callers hold s.mu.
func (s *Server) snapshotLocked(rec *mediaRec, now time.Time) Media {
	s.advanceLocked(rec, now)
	m := rec.Media
	m.Params = cloneMap(rec.Params)
	return m
}

// objectCompleted is registered with the OSS simulator's OnComplete.
func (s *Server) objectCompleted(bucket, key string, size int64) {
	now := s.cfg.Clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.media[s.byObject[objectKey(bucket, key)]]
	if !ok {
		return
	}
	first := rec.completed.IsZero()
	rec.Size = size
	rec.completed = now
	rec.modified = now
	if rec.Type == MediaVideo {
		rec.Status = StatusUploadSucc
	} else {
		rec.Status = StatusNormal
	}
	s.log.Debug("MediaUploaded", "id", rec.ID, "type", rec.Type, "size", size)
	// One upload-complete event per media asset: a later overwrite of the object sends none.
	if first {
		if ev, ok := s.mediaEventLocked(rec, now); ok {
			s.cb.emit(ev)
		}
	}
}

// Media returns the media asset id, if it exists (deleted assets do not).
func (s *Server) Media(id string) (Media, bool) {
	now := s.cfg.Clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.media[id]
	if !ok {
		return Media{}, false
	}
	return s.snapshotLocked(rec, now), true
}

// AllMedia returns every existing media asset, oldest first.
func (s *Server) AllMedia() []Media {
	now := s.cfg.Clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Media, 0, len(s.media))
	for _, rec := range s.media {
		out = append(out, s.snapshotLocked(rec, now))
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// SetStatus forces the status of media id (e.g. Normal, Blocked, TranscodeFail).
func (s *Server) SetStatus(id, status string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.media[id]
	if !ok {
		return fmt.Errorf("vodtest: set status of %s: no such media", id)
	}
	rec.Status = status
	rec.modified = s.cfg.Clock()
	return nil
}

// Forbid marks media id as belonging to another account: it is reported in ForbiddenVideoIds /
// ForbiddenMediaIds and other actions on it answer 403 Forbidden.
func (s *Server) Forbid(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.media[id]
	if !ok {
		return fmt.Errorf("vodtest: forbid %s: no such media", id)
	}
	rec.forbidden = true
	return nil
}

// SweepLeftoverParts stands for VOD's automatic clean-up of unfinished multipart uploads: it
// aborts the open uploads in the simulator's buckets that were initiated at least
// Config.LeftoverPartsTTL ago (by Clock), and returns how many uploads it aborted.
func (s *Server) SweepLeftoverParts() int {
	now := s.cfg.Clock()
	buckets := map[string]bool{}
	for _, b := range s.storages {
		buckets[b] = true
	}
	done := map[string]bool{}
	n := 0
	for _, u := range s.cfg.OSS.Uploads() {
		k := objectKey(u.Bucket, u.Key)
		if !buckets[u.Bucket] || done[k] || now.Sub(u.Initiated) < s.cfg.LeftoverPartsTTL {
			continue
		}
		done[k] = true
		n += s.cfg.OSS.AbortUploads(u.Bucket, u.Key)
	}
	return n
}

// lookupVideo resolves VideoId (or ReferenceId) to an accessible video.
func (s *Server) lookupVideo(p map[string]string) (*mediaRec, *apiError) {
	id := p["VideoId"]
	s.mu.Lock()
	defer s.mu.Unlock()
	if id == "" && p["ReferenceId"] != "" {
		for _, rec := range s.media {
			if rec.Type == MediaVideo && rec.Params["ReferenceId"] == p["ReferenceId"] {
				id = rec.ID
			}
		}
		if id == "" {
			return nil, errVideoNotFound()
		}
	}
	if id == "" {
		return nil, errMissing("VideoId")
	}
	rec, ok := s.media[id]
	if !ok || rec.Type != MediaVideo {
		return nil, errVideoNotFound()
	}
	if rec.forbidden {
		return nil, errForbidden()
	}
	return rec, nil
}

func errForbidden() *apiError {
	return newError(http.StatusForbidden, codeForbidden, "User not authorized to operate on the specified resource.")
}

func isoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(acsDateLayout)
}
