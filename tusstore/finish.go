package tusstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
)

// FinishUpload completes the multipart upload from the recorded parts
// (uploading the tail as the last part first), then checks the object's
// size and CRC-64 against what was received. A Complete whose response
// was lost is recognised by the object being there with the right size
// and CRC. An upload with no recorded part (all of it in the tail, or
// empty) is written with one PutObject instead (see finishPut).
func (u *upload) FinishUpload(ctx context.Context) error {
	if u.rec.info.Finished {
		return nil
	}
	if u.rec.info.Partial {
		return u.finishPartial(ctx)
	}
	if len(u.rec.parts) == 0 {
		if err := u.finishPut(ctx); err != nil {
			return u.s.tusError("finish", err)
		}
		return nil
	}
	if len(u.rec.tail) > 0 {
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
	want := u.rec.crc()
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
		if errors.Is(err, errCorrupt) {
			u.s.journalEnded(ctx, End{ID: u.id, State: StateFailed, Offset: size})
		}
		return u.s.tusError("finish", err)
	}
	if err := u.markFinished(ctx, want, nil); err != nil {
		return u.s.tusError("finish", err)
	}
	u.logFinished(ctx, size)
	return nil
}

// finishPut finishes an upload that has no recorded part: its bytes, all
// in the tail (maybe none), become the object with one PutObject.
func (u *upload) finishPut(ctx context.Context) error {
	return u.putWhole(ctx, bytesBody(u.rec.tail, u.s.crcTable.update(0, u.rec.tail)))
}

// putBody is an object putObject sends whole: size bytes that open reads
// from the start each time it is called, whose CRC-64 crc reports once
// they have all been read. cut, if set, waits until the bytes stop
// arriving and reports whether they fell short (a streamed body that
// ended early).
type putBody struct {
	size int64
	open func() io.Reader
	crc  func() uint64
	cut  func() bool
}

// bytesBody is b, with CRC-64 crc, as a putBody.
func bytesBody(b []byte, crc uint64) putBody {
	return putBody{size: int64(len(b)), open: func() io.Reader { return bytes.NewReader(b) }, crc: func() uint64 { return crc }}
}

// putWhole writes body, all of an upload with no recorded part, as the
// object with one PutObject, and records the upload finished (and its
// tail, if any, gone). Only the holder of the upload's lock writes. A
// multipart upload that was initiated for a part never recorded (a
// streamed part cut short) is aborted, best effort, once the record says
// finished and no longer names it.
func (u *upload) putWhole(ctx context.Context, body putBody) error {
	// A fenced write first: a writer that lost its lock fails here, before
	// it touches OSS, as commitPart's reservation makes it for parts.
	if err := u.save(ctx, map[string][]byte{fieldInfo: u.touch(u.rec.offset())}, nil); err != nil {
		return err
	}
	if err := u.putObject(ctx, body); err != nil {
		return err
	}
	unused := u.rec.info.OSSUploadID
	u.rec.info.OSSUploadID = ""
	var del []string
	if len(u.rec.tail) > 0 {
		del = []string{fieldTail}
	}
	if err := u.markFinished(ctx, body.crc(), del); err != nil {
		u.rec.info.OSSUploadID = unused
		return err
	}
	u.rec.tail = nil
	u.logFinished(ctx, body.size)
	if unused != "" {
		u.abortUnused(ctx, unused, "finished with one put")
	}
	return nil
}

// putObject writes body as the whole object and checks the CRC-64 OSS
// reports (or, when it reports none, the object's size and CRC-64) against
// body's. A Put whose response was lost is recognised on the next attempt
// by the object already having body's size and CRC-64, so the bytes are
// not sent again.
func (u *upload) putObject(ctx context.Context, body putBody) error {
	sent := false
	return u.withRetry(ctx, func(o object) error {
		if sent {
			if got, crc, ok, err := o.Head(ctx); err == nil && got == body.size && ok && crc == body.crc() {
				return nil // an earlier attempt landed; its response was lost
			}
		}
		sent = true
		crc, ok, err := o.Put(ctx, body.open(), body.size)
		if err != nil && body.cut != nil && body.cut() {
			return errStreamAborted
		}
		if err != nil {
			return err
		}
		want := body.crc()
		if !ok {
			return u.checkObject(ctx, o, body.size, want)
		}
		if crc != want {
			return fmt.Errorf("tusstore: object crc64 %d, sent %d: %w", crc, want, errCorrupt)
		}
		return nil
	})
}

// markFinished records the upload as finished with the object's CRC-64,
// deleting the fields in del in the same write.
func (u *upload) markFinished(ctx context.Context, crc uint64, del []string) error {
	u.rec.info.Finished = true
	u.rec.info.ObjectCRC = crc
	if err := u.save(ctx, map[string][]byte{fieldInfo: u.touch(u.rec.offset())}, del); err != nil {
		u.rec.info.Finished = false
		u.rec.info.ObjectCRC = 0
		return err
	}
	return nil
}

func (u *upload) logFinished(ctx context.Context, size int64) {
	u.s.metrics.finished.WithLabelValues(u.rec.info.MediaType).Inc()
	u.s.log.InfoContext(ctx, "MediaUploaded", "id", u.id, "mediaId", u.rec.info.MediaID,
		"mediaType", u.rec.info.MediaType, "size", size, "parts", len(u.rec.parts), "crc64", u.rec.info.ObjectCRC)
	u.s.journalEnded(ctx, End{ID: u.id, State: StateComplete, Offset: size, CRC64: u.rec.info.ObjectCRC})
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
	if err := u.save(ctx, map[string][]byte{fieldInfo: u.touch(u.rec.offset())}, nil); err != nil {
		return u.s.tusError("declare length", err)
	}
	return nil
}

// Terminate aborts the multipart upload, if one was initiated, deletes the
// VOD media when configured to, and deletes the record.
func (u *upload) Terminate(ctx context.Context) error {
	return u.terminate(ctx, u.s.cfg.DeleteMediaOnTerminate, StateCancelled)
}

// terminate is Terminate with the media decision made by the caller; it
// reports the end as state to the Journal.
func (u *upload) terminate(ctx context.Context, deleteMedia bool, state State) error {
	if !u.rec.info.Finished && u.rec.info.OSSUploadID != "" {
		err := u.withRetry(ctx, func(o object) error { return o.Abort(ctx, u.rec.info.OSSUploadID) })
		if err != nil && !noSuchUpload(err) {
			return u.s.tusError("terminate", err)
		}
		u.s.groupAborted(ctx, &u.rec.info)
	}
	if deleteMedia {
		if err := u.deleteMedia(ctx); err != nil {
			return err
		}
	}
	key, token, err := u.token(ctx)
	if err != nil {
		return u.s.tusError("terminate", err)
	}
	if err := u.s.cfg.Records.Delete(ctx, u.id, key, token); err != nil && !hasClass(err, "NotFound") {
		return u.s.tusError("terminate", err)
	}
	u.s.media.delete(u.id)
	u.s.metrics.terminated.Inc()
	u.s.log.InfoContext(ctx, "UploadTerminated", "id", u.id, "mediaId", u.rec.info.MediaID, "state", state)
	u.s.journalEnded(ctx, End{ID: u.id, State: state, Offset: u.rec.offset()})
	return nil
}

var errTooLarge = errors.New("tusstore: length over the maximum size")
