package tusstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/vodgate/vodgate/vodbridge"
)

// State is how an upload ended, as the store reports it to its Journal.
type State string

// The end states of an upload.
const (
	StateComplete  State = "complete"
	StateFailed    State = "failed"
	StateCancelled State = "cancelled"
	StateExpired   State = "expired"
)

// Summary describes a new upload to the Journal.
type Summary struct {
	ID        string
	Owner     string
	MediaID   string
	MediaType string
	Filename  string
	Title     string
	Size      int64
	Deferred  bool
	MetaData  map[string]string
	Created   time.Time
	Expires   time.Time
}

// Journal learns of each upload's life: its creation and how it ended.
// The record stays the truth: a Journal that fails is logged and counted
// and the request goes on, and a reader of the journal reconciles with
// [Store.Progress].
type Journal interface {
	Created(ctx context.Context, s Summary) error
	Ended(ctx context.Context, e End) error
}

// End is how an upload ended.
type End struct {
	ID    string
	State State
	// Offset is the bytes that were durable.
	Offset int64
	// CRC64 is the object's CRC-64/ECMA when State is StateComplete.
	CRC64 uint64
}

// Progress is the live state of an upload as its record says.
type Progress struct {
	// Found is false when there is no record: the upload was cancelled,
	// reaped, or outlived its record's TTL.
	Found    bool
	Offset   int64
	Size     int64
	Deferred bool
	Finished bool
	Updated  time.Time
	Expires  time.Time
	CRC64    uint64 // the object's, once Finished
}

// infoLoader is implemented by Records that read one field of many
// records in one round trip (internal/redisstate does); [Store.Progress]
// falls back to loading records one by one.
type infoLoader interface {
	LoadField(ctx context.Context, ids []string, field string) ([][]byte, error)
}

// Progress returns the live state of each of ids, in order. It reads only
// each record's info field, in one round trip where Records allow.
func (s *Store) Progress(ctx context.Context, ids []string) ([]Progress, error) {
	raw := make([][]byte, len(ids))
	if l, ok := s.cfg.Records.(infoLoader); ok {
		var err error
		if raw, err = l.LoadField(ctx, ids, fieldInfo); err != nil {
			return nil, fmt.Errorf("tusstore: progress: %w", err)
		}
	} else {
		for i, id := range ids {
			m, err := s.cfg.Records.Load(ctx, id)
			if hasClass(err, "NotFound") {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("tusstore: progress: %w", err)
			}
			raw[i] = m[fieldInfo]
		}
	}
	out := make([]Progress, len(ids))
	for i, b := range raw {
		if b == nil {
			continue
		}
		var info recordInfo
		if err := json.Unmarshal(b, &info); err != nil {
			return nil, fmt.Errorf("tusstore: progress of %s: %w", ids[i], err)
		}
		p := Progress{Found: true, Offset: info.Durable, Size: info.Size, Deferred: info.SizeIsDeferred,
			Finished: info.Finished, Updated: info.Updated, Expires: info.Expires, CRC64: info.ObjectCRC}
		if p.Updated.IsZero() {
			p.Updated = info.Created
		}
		if p.Finished && !p.Deferred {
			p.Offset = p.Size
		}
		if p.Finished {
			p.Expires = time.Time{}
		}
		out[i] = p
	}
	return out, nil
}

// ErrUploadBusy answers a cancellation that could not take the upload's
// lock in time.
var ErrUploadBusy = errors.New("tusstore: upload is locked by another request")

// Cancel ends upload id for the upload API, under its lock (which makes a
// PATCH in flight let go, as a tus DELETE does): an unfinished upload is
// terminated exactly as tus termination does, its media deleted when
// deleteMedia or DeleteMediaOnTerminate says so; a finished one keeps its
// record, and its media is deleted only when deleteMedia says so. It
// reports whether the upload had finished, or handler.ErrNotFound when it
// has no record. Ownership is the caller's business.
func (s *Store) Cancel(ctx context.Context, id string, deleteMedia bool, lk handler.Locker) (finished bool, err error) {
	err = s.underLock(ctx, id, lk, func(u *upload) error {
		if finished = u.rec.info.Finished; finished {
			if deleteMedia {
				return u.deleteMedia(ctx)
			}
			return nil
		}
		return u.terminate(ctx, deleteMedia || s.cfg.DeleteMediaOnTerminate, StateCancelled)
	})
	return finished, err
}

// Reap ends upload id if it is unfinished and past its expiry: its OSS
// multipart upload is aborted (refreshing the credential if needed), its
// media deleted when deleteMedia says so, and its record removed. It
// reports whether it reaped; an upload whose lock is held (a request is
// writing it) is left alone. Every step tolerates having been done
// before, so a reaper that died mid-way can simply run again.
func (s *Store) Reap(ctx context.Context, id string, deleteMedia bool, lk handler.Locker) (bool, error) {
	reaped := false
	err := s.underLock(ctx, id, lk, func(u *upload) error {
		if u.rec.info.Finished || s.cfg.Clock().Before(u.rec.info.Expires) {
			return nil
		}
		reaped = true
		return u.terminate(ctx, deleteMedia, StateExpired)
	})
	return reaped, err
}

// underLock loads upload id under its lock, whatever its owner or expiry,
// and runs fn on it.
func (s *Store) underLock(ctx context.Context, id string, lk handler.Locker, fn func(*upload) error) error {
	if !ValidID(id) {
		return handler.ErrNotFound
	}
	l, err := lk.NewLock(id)
	if err != nil {
		return fmt.Errorf("tusstore: lock %s: %w", id, err)
	}
	if err := l.Lock(ctx, func() {}); err != nil {
		if errors.Is(err, handler.ErrLockTimeout) {
			return ErrUploadBusy
		}
		return fmt.Errorf("tusstore: lock %s: %w", id, err)
	}
	defer func() {
		if err := l.Unlock(); err != nil {
			s.log.WarnContext(ctx, "UnlockFailed", "id", id, "error", err)
		}
	}()
	m, err := s.cfg.Records.Load(ctx, id)
	if err != nil {
		if hasClass(err, "NotFound") {
			return handler.ErrNotFound
		}
		return s.tusError("load record", err)
	}
	rec, err := decodeRecord(m)
	if err != nil {
		return err
	}
	u := &upload{s: s, id: id, rec: rec}
	u.holdToken()
	return fn(u)
}

// deleteMedia deletes the upload's VOD media; one already gone is fine.
func (u *upload) deleteMedia(ctx context.Context) error {
	err := u.s.cfg.VOD.DeleteMedia(ctx, vodbridge.MediaType(u.rec.info.MediaType), u.rec.info.MediaID)
	if err != nil && !errors.Is(err, vodbridge.ErrNotFound) {
		return u.s.tusError("delete media", err)
	}
	return nil
}

// journalCreated and journalEnded tell the Journal, if any; a failure is
// logged and counted, not returned (see Journal).
func (s *Store) journalCreated(ctx context.Context, u *upload, filename, title string) {
	j := s.cfg.Journal
	if j == nil {
		return
	}
	i := u.rec.info
	err := j.Created(ctx, Summary{ID: u.id, Owner: i.Owner, MediaID: i.MediaID, MediaType: i.MediaType,
		Size: i.Size, Deferred: i.SizeIsDeferred, MetaData: i.MetaData, Created: i.Created, Expires: i.Expires,
		Filename: filename, Title: title})
	if err != nil {
		s.metrics.journal.WithLabelValues("created").Inc()
		s.log.WarnContext(ctx, "JournalFailed", "id", u.id, "event", "created", "error", err)
	}
}

func (s *Store) journalEnded(ctx context.Context, e End) {
	j := s.cfg.Journal
	if j == nil {
		return
	}
	if err := j.Ended(context.WithoutCancel(ctx), e); err != nil {
		s.metrics.journal.WithLabelValues(string(e.State)).Inc()
		s.log.WarnContext(ctx, "JournalFailed", "id", e.ID, "event", string(e.State), "error", err)
	}
}
