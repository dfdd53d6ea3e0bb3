package tusstore

import (
	"context"
	"errors"
)

// initiate starts the upload's OSS multipart upload and records its
// uploadId in the same fenced record write as set (the reservation of the
// first part number), so no part is sent before the uploadId is durable.
// It is called once per upload, when the first part must go to OSS;
// creation makes no OSS call.
//
// If the write is refused because another holder took the lock, the new
// multipart upload is aborted (best effort) and the errLockLost error is
// returned. If the write failed in a way that leaves its outcome unknown
// (a Redis reply lost), the record is read back: when it holds this
// uploadId the write landed and initiate succeeds; otherwise the new
// multipart upload is aborted and the error returned, and the next request
// works from the record as stored (with the uploadId another holder
// recorded, if any). When the record cannot be read either, the multipart
// upload is left for VOD's cleanup of unfinished parts rather than risk
// aborting an uploadId the record holds.
func (u *upload) initiate(ctx context.Context, set map[string][]byte) error {
	var id string
	err := u.withRetry(ctx, func(o object) error {
		var err error
		id, err = o.Initiate(ctx)
		return err
	})
	if err != nil {
		return err
	}
	u.rec.info.OSSUploadID = id
	set[fieldInfo] = u.touch(u.rec.offset())
	err = u.save(ctx, set, nil)
	if err == nil {
		u.s.log.DebugContext(ctx, "MultipartInitiated", "id", u.id, "ossUploadId", id)
		return nil
	}
	u.rec.info.OSSUploadID = ""
	if !errors.Is(err, errLockLost) {
		m, lerr := u.s.cfg.Records.Load(ctx, u.id)
		if lerr != nil {
			return err
		}
		if rec, derr := decodeRecord(m); derr == nil && rec.info.OSSUploadID == id {
			u.rec.info.OSSUploadID = id // the write landed; its reply was lost
			return nil
		}
	}
	u.abortUnused(ctx, id, "record write failed")
	return err
}

// abortUnused aborts multipart upload id, which the record no longer (or
// never) lists, with one attempt and no credential refresh: a failure only
// leaves parts that VOD's cleanup of unfinished uploads removes.
func (u *upload) abortUnused(ctx context.Context, id, reason string) {
	o, err := u.object()
	if err == nil {
		err = o.Abort(ctx, id)
	}
	if err != nil && !noSuchUpload(err) {
		u.s.log.WarnContext(ctx, "MultipartAbortFailed", "id", u.id, "ossUploadId", id, "reason", reason, "error", err)
		return
	}
	u.s.log.InfoContext(ctx, "MultipartAborted", "id", u.id, "ossUploadId", id, "reason", reason)
}
