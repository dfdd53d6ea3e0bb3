package tusstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/vodgate/vodgate/vodbridge"
)

// Parallel uploads (tus concatenation). VOD's upload credential covers one
// OSS object, so a partial upload cannot be an object of its own. Instead
// the partial uploads of one file share one media and one OSS multipart
// upload, and each owns a range of part numbers:
//
//   - every partial carries the metadata key vodGroup (tus-js-client:
//     metadataForPartialUploads), the same random value for all partials
//     of one file, with the media metadata (filename, title, ...);
//   - the partials of a group are numbered in the order the gateway
//     received their creations ([Groups]); partial k owns part numbers
//     [1+(k-1)*partialSpan, k*partialSpan];
//   - the first partial to arrive creates the media and initiates the
//     multipart upload, recorded in the group record; the others wait for
//     it and copy it;
//   - a partial's parts are cut so that none below MinPartSize is left
//     at its end (OSS refuses a small part that is not the object's last),
//     and finishing a partial only records it done;
//   - the final upload (Upload-Concat: final) checks that it lists the
//     partials in the order of their ranges, then completes the multipart
//     upload with the parts of all partials and checks size and CRC-64.

// Groups numbers the members of a parallel-upload group in the order
// their creations arrived. *concatgroup.Sequencer implements it.
type Groups interface {
	Join(ctx context.Context, key string, ttl time.Duration) (int64, error)
}

const (
	// MetaGroup is the metadata key that groups the partial uploads of
	// one file.
	MetaGroup = "vodGroup"
	// MaxPartials is the most partial uploads one group may have.
	MaxPartials = 16
	// partialSpan is the number of OSS part numbers each partial owns.
	partialSpan = MaxParts / MaxPartials
	// groupWait bounds how long a partial waits for the one creating the
	// group's media.
	groupWait = time.Minute
)

// Group record states.
const (
	groupCreating = "creating"
	groupReady    = "ready"
	groupAborted  = "aborted"
	groupDone     = "done"
	fieldState    = "state"
)

// Tus errors of parallel uploads.
var (
	ErrConcatGroupRequired = handler.NewError("ERR_CONCAT_GROUP_REQUIRED",
		"a partial upload needs the metadata key vodGroup (one random value shared by the partial uploads of a file, e.g. in tus-js-client's metadataForPartialUploads) and an Upload-Length", http.StatusBadRequest)
	ErrConcatOrder = handler.NewError("ERR_CONCAT_ORDER",
		"the final upload lists the partial uploads in another order than the gateway received their creations", http.StatusBadRequest)
	ErrConcatGroupGone = handler.NewError("ERR_CONCAT_GROUP_GONE",
		"the parallel-upload group was aborted, expired or already concatenated", http.StatusGone)
)

func concatError(code, format string, args ...any) error {
	return handler.NewError(code, fmt.Sprintf(format, args...), http.StatusBadRequest)
}

// groupKey is the ID of the group record of group, scoped to its owner.
func groupKey(owner, group string) string {
	h := sha256.Sum256([]byte(owner + "\x00" + group))
	return "group-" + hex.EncodeToString(h[:16])
}

// newConcatUpload creates a partial or a final upload.
func (s *Store) newConcatUpload(ctx context.Context, info handler.FileInfo) (handler.Upload, error) {
	if s.cfg.Groups == nil {
		return nil, handler.ErrConcatenationUnsupported
	}
	if info.ID == "" {
		info.ID = presetID(ctx)
	}
	if info.ID == "" {
		var err error
		if info.ID, err = newID(); err != nil {
			return nil, err
		}
	}
	if info.IsFinal {
		return s.newFinal(ctx, info)
	}
	return s.newPartial(ctx, info)
}

func (s *Store) newPartial(ctx context.Context, info handler.FileInfo) (handler.Upload, error) {
	group := info.MetaData[MetaGroup]
	if group == "" || len(group) > 256 || info.SizeIsDeferred {
		s.metrics.rejected.WithLabelValues("metadata").Inc()
		return nil, ErrConcatGroupRequired
	}
	req, owner, capSize, err := s.admit(ctx, info, 0) // the file's size is known only at the final
	if err != nil {
		return nil, err
	}
	key := groupKey(owner, group)
	seq, err := s.cfg.Groups.Join(ctx, key, 2*s.cfg.Expiration)
	if err != nil {
		s.log.WarnContext(ctx, "StoreError", "op", "join group", "error", err)
		return nil, ErrStateUnavailable
	}
	if seq > MaxPartials {
		s.metrics.rejected.WithLabelValues("concat").Inc()
		return nil, concatError("ERR_CONCAT_TOO_MANY", "a parallel-upload group has at most %d partial uploads (this is number %d)", MaxPartials, seq)
	}
	g, cred, err := s.groupTarget(ctx, key, req, owner)
	if err != nil {
		return nil, err
	}
	base := 1 + int(seq-1)*partialSpan
	now := s.cfg.Clock()
	u := &upload{s: s, id: info.ID, rec: &record{
		info: recordInfo{
			Size: info.Size, MetaData: info.MetaData,
			MediaID: g.MediaID, MediaType: g.MediaType, Endpoint: g.Endpoint, Bucket: g.Bucket, Key: g.Key,
			Accelerate: g.Accelerate, OSSUploadID: g.OSSUploadID,
			Created: now, Expires: now.Add(s.cfg.Expiration), Owner: owner, MaxSize: capSize, Updated: now,
			Group: key, Partial: true, PartBase: base, PartEnd: base + partialSpan, PartDone: info.Size == 0,
		},
		cred: cred, next: base,
	}}
	if err := s.createGroupRecord(ctx, u); err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "PartialCreated", "id", u.id, "group", key, "seq", seq, "mediaId", g.MediaID,
		"size", info.Size, "firstPart", base)
	s.journalCreated(ctx, u, req.FileName, req.Title)
	return u, nil
}

// groupTarget returns the media, multipart upload and credential of group
// key: the first partial to arrive creates them (one CreateUploadVideo for
// the whole group) while the others wait for the group record to be ready.
func (s *Store) groupTarget(ctx context.Context, key string, req vodbridge.CreateRequest, owner string) (recordInfo, recordCred, error) {
	err := s.cfg.Records.Create(ctx, key, map[string][]byte{fieldState: []byte(groupCreating)})
	if err == nil {
		return s.createGroup(ctx, key, req, owner)
	}
	if !hasClass(err, "Exists") {
		return recordInfo{}, recordCred{}, s.tusError("create group", err)
	}
	wctx, cancel := context.WithTimeout(ctx, groupWait)
	defer cancel()
	for {
		m, err := s.cfg.Records.Load(wctx, key)
		switch {
		case hasClass(err, "NotFound"):
			return recordInfo{}, recordCred{}, retryLater(handler.NewError("ERR_CONCAT_GROUP_FAILED",
				"the partial upload creating the group's media failed; retry", http.StatusServiceUnavailable), "1")
		case err != nil:
			return recordInfo{}, recordCred{}, s.tusError("load group", err)
		}
		switch string(m[fieldState]) {
		case groupReady:
			rec, err := decodeRecord(m)
			if err != nil {
				return recordInfo{}, recordCred{}, err
			}
			return rec.info, rec.cred, nil
		case groupCreating:
		default:
			return recordInfo{}, recordCred{}, ErrConcatGroupGone
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-t.C:
		case <-wctx.Done():
			t.Stop()
			return recordInfo{}, recordCred{}, s.tusError("wait for group", context.Cause(wctx))
		}
	}
}

// createGroup creates the media and the multipart upload of group key,
// whose record this request created in state creating. On failure the
// group record is deleted (waiting partials fail with 503, a retry starts
// afresh) and the media deleted.
func (s *Store) createGroup(ctx context.Context, key string, req vodbridge.CreateRequest, owner string) (recordInfo, recordCred, error) {
	fail := func(op string, err error) (recordInfo, recordCred, error) {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if derr := s.cfg.Records.Delete(dctx, key, "", 0); derr != nil && !hasClass(derr, "NotFound") {
			s.log.WarnContext(ctx, "GroupNotDeleted", "group", key, "error", derr)
		}
		return recordInfo{}, recordCred{}, s.tusError(op, err)
	}
	target, err := s.createMedia(ctx, req)
	if err != nil {
		return fail("create media", err)
	}
	now := s.cfg.Clock()
	g := &upload{s: s, id: key, unfenced: true, rec: &record{
		info: recordInfo{MediaID: target.MediaID, MediaType: string(target.Type),
			Endpoint: target.Address.Endpoint, Bucket: target.Address.Bucket, Key: target.Address.FileName,
			Accelerate: s.accelerateEndpoint(req.UserData), Created: now, Owner: owner, Group: key},
		cred: credFrom(target.Credential, now),
	}}
	var mpu string
	err = g.withRetry(ctx, func(o object) error {
		var err error
		mpu, err = o.Initiate(ctx)
		return err
	})
	if err != nil {
		s.deleteOrphan(ctx, target)
		return fail("initiate group", err)
	}
	g.rec.info.OSSUploadID = mpu
	fields, err := encodeRecord(g.rec)
	if err != nil {
		return recordInfo{}, recordCred{}, err
	}
	fields[fieldState] = []byte(groupReady)
	if err := s.cfg.Records.Update(ctx, key, "", 0, fields, nil); err != nil {
		g.abortUnused(ctx, mpu, "group record write failed")
		s.deleteOrphan(ctx, target)
		return fail("record group", err)
	}
	s.metrics.created.WithLabelValues(g.rec.info.MediaType).Inc()
	s.log.InfoContext(ctx, "MediaCreated", "group", key, "mediaId", target.MediaID, "mediaType", target.Type,
		"bucket", target.Address.Bucket, "key", target.Address.FileName, "ossUploadId", mpu)
	return g.rec.info, g.rec.cred, nil
}

// setGroupState records the state of group key, best effort.
func (s *Store) setGroupState(ctx context.Context, key, state string) {
	err := s.cfg.Records.Update(context.WithoutCancel(ctx), key, "", 0, map[string][]byte{fieldState: []byte(state)}, nil)
	if err != nil && !hasClass(err, "NotFound") {
		s.log.WarnContext(ctx, "GroupStateNotRecorded", "group", key, "state", state, "error", err)
	}
}

// groupAborted is called when the multipart upload of a partial or final
// upload was aborted: the whole group is dead.
func (s *Store) groupAborted(ctx context.Context, i *recordInfo) {
	if i.Group != "" {
		s.setGroupState(ctx, i.Group, groupAborted)
		s.log.InfoContext(ctx, "GroupAborted", "group", i.Group, "mediaId", i.MediaID)
	}
}

// partLimit is one past the highest part number the upload may use.
func (u *upload) partLimit() int {
	if u.rec.info.Partial {
		return u.rec.info.PartEnd
	}
	return MaxParts + 1
}

// strands reports whether ending a part where rest bytes of a partial
// remain would leave a last part below the minimum size: a partial may
// end up in the middle of the object, where OSS refuses small parts.
func (u *upload) strands(rest int64) bool {
	return u.rec.info.Partial && rest > 0 && rest < u.s.cfg.MinPartSize
}

// partialPartSize is partSize for a partial: sized for the part numbers
// left in its range, and grown to take in a remainder below the minimum
// part size.
func (u *upload) partialPartSize(used int, start int64) int64 {
	i := u.rec.info
	left := i.PartEnd - (used + 1)
	ps := u.s.partSizeFor(i.Size, false, MaxParts-left, start)
	if rest := i.Size - start - ps; u.strands(rest) {
		ps = i.Size - start
	}
	return ps
}

// finishPartial records that every byte of a partial is in a part: the
// tail (bytes too few for a part, which only the group's last partial
// may have) becomes its last part. The multipart upload is completed by
// the final upload.
func (u *upload) finishPartial(ctx context.Context) error {
	if u.rec.info.PartDone {
		return nil
	}
	if len(u.rec.tail) > 0 {
		buf := u.s.newPartBuf()
		defer buf.release()
		if err := buf.write(ctx, u.rec.tail); err != nil {
			return u.s.tusError("finish partial", err)
		}
		if err := u.commitPart(ctx, buf); err != nil {
			return u.s.tusError("finish partial", err)
		}
	}
	u.rec.info.PartDone = true
	if err := u.save(ctx, map[string][]byte{fieldInfo: u.touch(u.rec.offset())}, nil); err != nil {
		u.rec.info.PartDone = false
		return u.s.tusError("finish partial", err)
	}
	u.s.log.InfoContext(ctx, "PartialUploaded", "id", u.id, "group", u.rec.info.Group,
		"size", u.rec.info.Size, "parts", len(u.rec.parts))
	return nil
}

// describeRange names a partial and its part numbers for error messages.
func describeRange(id string, i *recordInfo) string {
	return id + " (parts " + strconv.Itoa(i.PartBase) + "-" + strconv.Itoa(i.PartEnd-1) + ")"
}

// joinRanges lists the partials of recs in order for error messages.
func joinRanges(ids []string, recs []*record) string {
	out := make([]string, len(ids))
	for i := range ids {
		out[i] = describeRange(ids[i], &recs[i].info)
	}
	return strings.Join(out, ", ")
}

// createGroupRecord writes the new record of a partial or final upload
// and caches its info.
func (s *Store) createGroupRecord(ctx context.Context, u *upload) error {
	fields, err := encodeRecord(u.rec)
	if err != nil {
		return err
	}
	if err := s.cfg.Records.Create(ctx, u.id, fields); err != nil {
		return s.tusError("create record", err)
	}
	s.media.put(u.id, &u.rec.info)
	return nil
}
