package tusstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/vodgate/vodgate/vodbridge"
)

// FinishUpload completes the multipart upload from the recorded parts
// (uploading the tail as the last part first), then checks the object's
// size and CRC-64 against what was received. A Complete whose response
// was lost is recognised by the object being there with the right size
// and CRC.
func (u *upload) FinishUpload(ctx context.Context) error {
	if u.rec.info.Finished {
		return nil
	}
	if len(u.rec.tail) > 0 || len(u.rec.parts) == 0 {
		buf := u.s.newPartBuf()
		defer buf.release()
		if err := buf.write(ctx, u.rec.tail); err != nil {
			return u.s.tusError("finish", err)
		}
		if err := u.commitPart(ctx, buf); err != nil {
			return u.s.tusError("finish", err)
		}
	}
	size := u.rec.partBytes()
	want := u.rec.crc(oss.CRC64Combine)
	err := u.withRetry(ctx, func(o object) error {
		crc, ok, err := o.Complete(ctx, u.rec.info.OSSUploadID, u.rec.parts)
		if err != nil {
			if !noSuchUpload(err) {
				return err
			}
			// Completed earlier (lost response) or aborted: the object decides.
			if herr := u.checkObject(ctx, o, size, want); herr != nil {
				return fmt.Errorf("%w; object check: %w", err, herr)
			}
			return nil
		}
		if ok && crc != want {
			return fmt.Errorf("tusstore: object crc64 %d, parts %d: %w", crc, want, errCorrupt)
		}
		if ok {
			return nil // the object's CRC-64 is that of the bytes received, in order
		}
		return u.checkObject(ctx, o, size, want)
	})
	if err != nil {
		return u.s.tusError("finish", err)
	}
	u.rec.info.Finished = true
	u.rec.info.ObjectCRC = want
	if err := u.save(ctx, map[string][]byte{fieldInfo: u.touch()}, nil); err != nil {
		return u.s.tusError("finish", err)
	}
	u.s.metrics.finished.WithLabelValues(u.rec.info.MediaType).Inc()
	u.s.log.InfoContext(ctx, "MediaUploaded", "id", u.id, "mediaId", u.rec.info.MediaID,
		"mediaType", u.rec.info.MediaType, "size", size, "parts", len(u.rec.parts), "crc64", want)
	return nil
}

// checkObject compares the object's size and CRC-64 with what was sent.
func (u *upload) checkObject(ctx context.Context, o object, size int64, crc uint64) error {
	got, gotCRC, ok, err := o.Head(ctx)
	if err != nil {
		return err
	}
	if got != size {
		return fmt.Errorf("tusstore: object is %d bytes, received %d: %w", got, size, errCorrupt)
	}
	if ok && gotCRC != crc {
		return fmt.Errorf("tusstore: object crc64 %d, received %d: %w", gotCRC, crc, errCorrupt)
	}
	return nil
}

// DeclareLength sets the length of a deferred-length upload.
func (u *upload) DeclareLength(ctx context.Context, length int64) error {
	if length > u.s.cfg.MaxSize {
		return errTooLarge
	}
	if c := u.rec.info.MaxSize; c > 0 && length > c {
		return ErrCallerSizeExceeded
	}
	if err := u.s.checkPartBudget(length); err != nil {
		return err
	}
	u.rec.info.Size = length
	u.rec.info.SizeIsDeferred = false
	if err := u.save(ctx, map[string][]byte{fieldInfo: u.touch()}, nil); err != nil {
		return u.s.tusError("declare length", err)
	}
	return nil
}

// Terminate aborts the multipart upload, deletes the VOD media when
// configured to, and deletes the record.
func (u *upload) Terminate(ctx context.Context) error {
	if !u.rec.info.Finished {
		err := u.withRetry(ctx, func(o object) error { return o.Abort(ctx, u.rec.info.OSSUploadID) })
		if err != nil && !noSuchUpload(err) {
			return u.s.tusError("terminate", err)
		}
	}
	if u.s.cfg.DeleteMediaOnTerminate {
		if err := u.s.cfg.VOD.DeleteMedia(ctx, vodbridge.MediaType(u.rec.info.MediaType), u.rec.info.MediaID); err != nil && !errors.Is(err, vodbridge.ErrNotFound) {
			return u.s.tusError("terminate", err)
		}
	}
	var key string
	var token int64
	if f := u.s.cfg.Fencer; f != nil {
		var ok bool
		if key, token, ok = f.Fence(u.id); !ok {
			return u.s.tusError("terminate", errLockLost)
		}
	}
	if err := u.s.cfg.Records.Delete(ctx, u.id, key, token); err != nil && !hasClass(err, "NotFound") {
		return u.s.tusError("terminate", err)
	}
	u.s.media.delete(u.id)
	u.s.metrics.terminated.Inc()
	u.s.log.InfoContext(ctx, "UploadTerminated", "id", u.id, "mediaId", u.rec.info.MediaID)
	return nil
}

var errTooLarge = errors.New("tusstore: length over the maximum size")
