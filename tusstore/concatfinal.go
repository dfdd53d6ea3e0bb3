package tusstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/tus/tusd/v2/pkg/handler"
)

var (
	_ handler.ConcaterDataStore = (*Store)(nil)
	_ handler.ConcatableUpload  = (*upload)(nil)
)

// AsConcatableUpload implements [handler.ConcaterDataStore].
func (s *Store) AsConcatableUpload(u handler.Upload) handler.ConcatableUpload {
	return u.(*upload)
}

// newFinal creates the record of a final upload: the media and multipart
// upload of its partials' group, which it checks are listed in the order
// of their part ranges. No VOD or OSS call is made; ConcatUploads, in the
// same request, completes the multipart upload.
func (s *Store) newFinal(ctx context.Context, info handler.FileInfo) (handler.Upload, error) {
	recs, err := s.loadPartials(ctx, info.PartialUploads)
	if err != nil {
		s.metrics.rejected.WithLabelValues("concat").Inc()
		s.log.InfoContext(ctx, "FinalRefused", "partials", info.PartialUploads, "error", err)
		return nil, err
	}
	first := recs[0].info
	if c, ok := s.caller(ctx); ok && c.MaxSize > 0 && info.Size > c.MaxSize {
		return nil, ErrCallerSizeExceeded
	}
	if info.Size > s.cfg.MaxSize {
		return nil, handler.ErrMaxSizeExceeded
	}
	if info.Size == 0 {
		return nil, concatError("ERR_CONCAT_EMPTY", "the partial uploads hold no byte: VOD needs a non-empty file")
	}
	m, err := s.cfg.Records.Load(ctx, first.Group)
	if err != nil {
		if hasClass(err, "NotFound") {
			return nil, ErrConcatGroupGone
		}
		return nil, s.tusError("load group", err)
	}
	if st := string(m[fieldState]); st != groupReady && st != groupDone {
		return nil, ErrConcatGroupGone
	}
	cred := recs[0].cred
	for _, r := range recs[1:] {
		if r.cred.Issued.After(cred.Issued) {
			cred = r.cred // the freshest credential of the group
		}
	}
	now := s.cfg.Clock()
	u := &upload{s: s, id: info.ID, unfenced: true, rec: &record{
		info: recordInfo{
			Size: info.Size, MetaData: info.MetaData,
			MediaID: first.MediaID, MediaType: first.MediaType, Endpoint: first.Endpoint, Bucket: first.Bucket,
			Key: first.Key, Accelerate: first.Accelerate, OSSUploadID: first.OSSUploadID,
			Created: now, Expires: now.Add(s.cfg.Expiration), Owner: first.Owner, Updated: now,
			Group: first.Group, Final: true, Partials: info.PartialUploads,
		},
		cred: cred,
	}}
	if err := s.createGroupRecord(ctx, u); err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "FinalCreated", "id", u.id, "group", first.Group, "mediaId", first.MediaID,
		"size", info.Size, "partials", len(recs))
	req, _ := CreateRequest(first.MetaData, s.cfg.Defaults, 0) // validated when the partial was created
	s.journalCreated(ctx, u, req.FileName, req.Title)
	return u, nil
}

// loadPartials loads the partial uploads a final names and checks that
// they can be concatenated as listed: visible to the caller, partial, of
// one group, every byte in parts, listed in the order of their part
// ranges (the order in which the gateway received their creations), and
// none but the last ending with a part below the minimum part size.
func (s *Store) loadPartials(ctx context.Context, ids []string) ([]*record, error) {
	recs := make([]*record, len(ids))
	for i, id := range ids {
		r, err := s.loadVisible(ctx, id)
		if err != nil {
			return nil, err
		}
		if !r.info.Partial {
			return nil, concatError("ERR_CONCAT_NOT_PARTIAL", "upload %s is not a partial upload", id)
		}
		if r.info.Group != recs0Group(recs, r) {
			return nil, concatError("ERR_CONCAT_GROUPS", "the partial uploads belong to different groups (vodGroup): %s and %s", ids[0], id)
		}
		if !r.info.PartDone && !r.info.Finished { // Finished: joined by an earlier final (a retry is answered again)
			return nil, handler.ErrUploadNotFinished
		}
		recs[i] = r
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].info.PartBase <= recs[i-1].info.PartBase {
			return nil, handler.NewError(ErrConcatOrder.ErrorCode, fmt.Sprintf(
				"the final upload lists the partial uploads in another order than the gateway received their creations; "+
					"the gateway can only concatenate them in this order: %s", joinRanges(sortedByBase(ids, recs))),
				http.StatusBadRequest)
		}
	}
	for i, r := range recs[:len(recs)-1] {
		if n := len(r.parts); n > 0 && r.parts[n-1].Size < s.cfg.MinPartSize {
			return nil, concatError("ERR_CONCAT_SMALL_PARTIAL",
				"partial upload %s ends with %d bytes, below the %d-byte minimum part size: only the last partial upload may be that small",
				ids[i], r.parts[n-1].Size, s.cfg.MinPartSize)
		}
	}
	return recs, nil
}

func recs0Group(recs []*record, r *record) string {
	if recs[0] == nil {
		return r.info.Group
	}
	return recs[0].info.Group
}

// sortedByBase returns ids and recs ordered by part range.
func sortedByBase(ids []string, recs []*record) ([]string, []*record) {
	ids2, recs2 := append([]string(nil), ids...), append([]*record(nil), recs...)
	for i := 1; i < len(recs2); i++ {
		for j := i; j > 0 && recs2[j].info.PartBase < recs2[j-1].info.PartBase; j-- {
			recs2[j], recs2[j-1] = recs2[j-1], recs2[j]
			ids2[j], ids2[j-1] = ids2[j-1], ids2[j]
		}
	}
	return ids2, recs2
}

// ConcatUploads completes the group's multipart upload with the parts of
// the partial uploads, in order, checks the object's size and CRC-64 (the
// partials' CRCs combined), and records the final upload, and its
// partials, finished. The order and sizes were checked by newFinal. A
// repeated final (a client retrying after a lost response) finds the
// multipart upload completed and the object with the right size and CRC,
// and is answered as the first.
func (u *upload) ConcatUploads(ctx context.Context, partials []handler.Upload) error {
	if !u.rec.info.Final {
		return handler.ErrNotImplemented
	}
	var parts []part
	var base int64 // where the partial starts in the final upload
	for _, p := range partials {
		pu, ok := p.(*upload)
		if !ok {
			return fmt.Errorf("tusstore: concat: upload of type %T: %w", p, errors.ErrUnsupported)
		}
		for _, pt := range pu.rec.parts { // a partial's part starts are its own offsets
			if pt.Start >= 0 {
				pt.Start += base
			}
			parts = append(parts, pt)
		}
		base += pu.rec.partBytes()
	}
	for i := 1; i < len(parts); i++ {
		if parts[i].Number <= parts[i-1].Number {
			return ErrConcatOrder
		}
	}
	u.rec.parts = parts
	if got := u.rec.partBytes(); got != u.rec.info.Size {
		return fmt.Errorf("tusstore: concat %s: parts hold %d bytes, partials %d: %w", u.id, got, u.rec.info.Size, errCorrupt)
	}
	if err := u.FinishUpload(ctx); err != nil {
		return err
	}
	for _, p := range partials {
		pu := p.(*upload)
		pu.unfenced = true // the partials are done: nobody writes them but this request
		pu.rec.info.Finished = true
		pu.rec.info.ObjectCRC = u.rec.info.ObjectCRC
		if err := pu.save(ctx, map[string][]byte{fieldInfo: pu.touch(pu.rec.info.Size)}, nil); err != nil {
			u.s.log.WarnContext(ctx, "PartialNotMarked", "id", pu.id, "error", err)
			continue
		}
		u.s.journalEnded(ctx, End{ID: pu.id, State: StateComplete, Offset: pu.rec.info.Size})
	}
	u.s.setGroupState(ctx, u.rec.info.Group, groupDone)
	return nil
}
