package tusstore

import (
	"context"
	"errors"

	"github.com/vodgate/vodgate/vodbridge"
)

type referenceKey struct{}

// reference is the VOD ReferenceId a creation should carry.
type reference struct {
	id       string
	uploadID string // the upload ID to create, when not ""
	// recovering: an earlier attempt of this creation may have created
	// the video and died before recording it, so look for it first.
	recovering bool
}

// WithReference returns ctx asking NewUpload to create upload uploadID
// (which must pass ValidID) with its video carrying VOD ReferenceId ref
// (6–64 letters, digits, '-', '_'), so that a creation retried after a
// crash finds the video its first attempt made rather than make a second.
// recovering says such an attempt may exist: the video is then looked up
// by ref before any is created. Images and attached media have no
// ReferenceId in VOD; for them ref is ignored.
func WithReference(ctx context.Context, ref, uploadID string, recovering bool) context.Context {
	return context.WithValue(ctx, referenceKey{}, reference{id: ref, uploadID: uploadID, recovering: recovering})
}

// presetID returns the upload ID WithReference asked for, if any.
func presetID(ctx context.Context) string {
	ref, _ := ctx.Value(referenceKey{}).(reference)
	if ValidID(ref.uploadID) {
		return ref.uploadID
	}
	return ""
}

// referenceRefresher is implemented by Issuers that can find a video by
// its ReferenceId (*vodbridge.Client does).
type referenceRefresher interface {
	RefreshUploadByReference(ctx context.Context, ref string) (vodbridge.Target, error)
}

// createMedia creates the upload's media, or finds the one an earlier
// attempt of the same idempotent creation made (see WithReference).
func (s *Store) createMedia(ctx context.Context, req vodbridge.CreateRequest) (vodbridge.Target, error) {
	ref, _ := ctx.Value(referenceKey{}).(reference)
	rr, canFind := s.cfg.VOD.(referenceRefresher)
	if ref.id == "" || (req.Type != "" && req.Type != vodbridge.MediaVideo) {
		return s.cfg.VOD.CreateUpload(ctx, req)
	}
	req.ReferenceID = ref.id
	if ref.recovering && canFind {
		t, err := rr.RefreshUploadByReference(ctx, ref.id)
		if err == nil {
			s.log.InfoContext(ctx, "MediaRecovered", "mediaId", t.MediaID, "reference", ref.id)
			return t, nil
		}
		if !errors.Is(err, vodbridge.ErrNotFound) {
			return vodbridge.Target{}, err
		}
	}
	t, err := s.cfg.VOD.CreateUpload(ctx, req)
	if err != nil && canFind && errors.Is(err, vodbridge.ErrInvalidArgument) {
		// VOD refuses a second video with the same ReferenceId: the first
		// attempt's video exists, so continue with it.
		if found, ferr := rr.RefreshUploadByReference(ctx, ref.id); ferr == nil {
			s.log.InfoContext(ctx, "MediaRecovered", "mediaId", found.MediaID, "reference", ref.id)
			return found, nil
		}
	}
	return t, err
}
