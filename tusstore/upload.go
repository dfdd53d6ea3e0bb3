package tusstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/vodgate/vodgate/vodbridge"
)

// upload is one tus upload as loaded for one request. It is used by one
// request at a time (tusd holds the upload's lock).
type upload struct {
	s   *Store
	id  string
	rec *record
	// fence is the fencing token this request's writes carry (see token).
	fenceKey   string
	fenceToken int64
	fenced     bool
	held       *heldWrites // record writes of a checked body (see WithBodyCheck)
	// unfenced: the record is written without a lock (a final upload,
	// written only by the request that creates it; see concat.go).
	unfenced bool
	// mu guards rec and the fence while parts are in flight (see
	// pipeline): taken by reservePart, recordPart and withRetry.
	mu sync.Mutex
}

var (
	_ handler.Upload                 = (*upload)(nil)
	_ handler.TerminatableUpload     = (*upload)(nil)
	_ handler.LengthDeclarableUpload = (*upload)(nil)
)

// GetInfo reports the durable offset: recorded parts plus the tail.
//
// tusd finishes an upload only in the request that wrote its last byte,
// and answers a PATCH at offset == size without asking the store. So an
// upload whose every byte is durable but whose finish failed (an OSS or
// VOD outage at Complete) is finished here, on the next HEAD or PATCH,
// which tusd serves under the upload's lock. Until that succeeds the
// request fails with the finish's error, and no client is told that an
// unfinished upload is complete.
func (u *upload) GetInfo(ctx context.Context) (handler.FileInfo, error) {
	if i := u.rec.info; !i.Finished && !i.PartDone && !i.SizeIsDeferred && u.rec.offset() == i.Size {
		u.s.log.InfoContext(ctx, "FinishRetried", "id", u.id, "mediaId", i.MediaID)
		if err := u.FinishUpload(ctx); err != nil {
			return handler.FileInfo{}, err
		}
	}
	i := u.rec.info
	return handler.FileInfo{
		ID:             u.id,
		Size:           i.Size,
		SizeIsDeferred: i.SizeIsDeferred,
		Offset:         u.rec.offset(),
		MetaData:       i.MetaData,
		IsPartial:      i.Partial,
		IsFinal:        i.Final,
		PartialUploads: i.Partials,
		Storage: map[string]string{
			"Type": "vod", "MediaId": i.MediaID, "MediaType": i.MediaType,
			"Bucket": i.Bucket, "Key": i.Key,
		},
	}, nil
}

// GetReader is not supported: the object lives in VOD's bucket.
func (u *upload) GetReader(ctx context.Context) (io.ReadCloser, error) {
	return nil, handler.ErrNotImplemented
}

// WriteChunk cuts src into OSS parts. A full part is uploaded while the
// next one is read; what remains when src ends is uploaded as a part if it
// is at least the minimum part size, else kept as the tail in the record.
// The returned count covers only durable bytes, so an interrupted body
// keeps everything read before the cut.
func (u *upload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	start := u.rec.offset()
	if i := u.rec.info; i.Finished {
		if offset == start && !i.SizeIsDeferred && start == i.Size {
			return 0, nil // nothing left to write: an empty upload is finished at creation
		}
		return 0, handler.NewError("ERR_UPLOAD_FINISHED", "upload is already complete", 403)
	}
	if offset != start {
		return 0, handler.ErrMismatchOffset
	}
	if c := u.rec.info.MaxSize; c > 0 {
		if start >= c {
			return 0, ErrCallerSizeExceeded
		}
		src = &capReader{r: src, left: c - start}
	}
	check := u.holdChecked(ctx) // nil unless the body carries a checksum (see WithBodyCheck)
	bodyEnd, known := bodyLength(ctx)
	bodyEnd += offset
	p := u.startPipeline(ctx)
	parts, startAt := u.rec.nextPart()-1, u.rec.partBytes()
	cur := p.next(u.s, u.partSize(parts, startAt), startAt)
	err := cur.write(ctx, u.rec.tail)
	cur.tailed = len(u.rec.tail) > 0
	var read int64
	whole := known && check == nil && u.wholeInBody(parts, startAt, bodyEnd)
	for err == nil {
		target := u.partSize(parts, startAt)
		if whole { // only the first time round
			target, cur.whole, whole = u.rec.info.Size-startAt, true, false
		}
		// A part (or whole object) the body will fill goes to OSS while it
		// arrives.
		streamed := known && startAt+target <= bodyEnd
		if streamed {
			cur.startStream(target)
			p.in <- cur
		}
		var n int64
		n, err = cur.readFrom(ctx, src, target)
		read += n
		full := cur.n == target
		if streamed {
			cur.endFill()
			if !full {
				break // cut short: persisted below once the pipeline let go
			}
		} else if !full || p.failed.Load() {
			break
		} else {
			p.in <- cur
		}
		parts, startAt = parts+1, startAt+target // cur belongs to the pipeline now
		cur = p.next(u.s, u.partSize(parts, startAt), startAt)
		if p.failed.Load() {
			break
		}
	}
	readErr := err
	perr := p.wait()
	cur.st = nil // the pipeline is done with it
	if check != nil {
		if err := u.settle(ctx, check, perr, readErr); err != nil {
			cur.release()
			return 0, u.s.tusError("write chunk", err)
		}
	}
	if perr == nil && read > 0 && cur.n > 0 {
		perr = u.persistRemainder(ctx, cur)
	}
	cur.release()
	written := u.rec.offset() - start
	u.s.metrics.bytes.Add(float64(written))
	if perr != nil {
		return written, u.s.tusError("write chunk", perr)
	}
	if readErr != nil && (errors.Is(readErr, errBusy) || errors.Is(readErr, ErrCallerSizeExceeded)) {
		return written, u.s.tusError("write chunk", readErr)
	}
	// Other read errors are the body's; tusd reports them itself.
	return written, nil
}

// wholeInBody reports whether a body that ends at byte bodyEnd brings all
// of the upload, at most one part and at least the minimum part size (a
// smaller one is buffered, then put), to an upload with no part yet: it is
// then streamed into the object with one PutObject, with no multipart
// upload. used and start are the upload's used parts and part bytes.
func (u *upload) wholeInBody(used int, start, bodyEnd int64) bool {
	i := u.rec.info
	rest := i.Size - start
	return !i.SizeIsDeferred && !i.Partial && used == 0 && len(u.rec.parts) == 0 && bodyEnd == i.Size &&
		rest >= u.s.cfg.MinPartSize && rest <= u.partSize(used, start)
}

// partSize is the size of this upload's part that starts at byte start
// after used parts (see [Store.partSizeFor]).
func (u *upload) partSize(used int, start int64) int64 {
	if u.rec.info.Partial {
		return u.partialPartSize(used, start)
	}
	return u.s.partSizeFor(u.rec.info.Size, u.rec.info.SizeIsDeferred, used, start)
}

// deferredGrowth is the divisor of a deferred-length upload's part size:
// a part starting at byte start is at least start/deferredGrowth, so parts
// grow about 3% each once past the configured size and reach the largest
// part (5 GiB) early enough for 10,000 parts to hold 48.8 TB.
const deferredGrowth = 32

// partSizeFor is the size of the part that starts at byte start after used
// parts of an upload of size bytes: the configured size, grown so the rest
// fits in the parts left. A deferred-length upload's parts grow with its
// bytes instead (start/deferredGrowth, in whole blocks), up to the largest
// part the buffer budget can double-buffer (see [Store.MaxLength]), so it
// reaches about MaxLength in 10,000 parts while small ones keep the
// configured size.
func (s *Store) partSizeFor(size int64, deferred bool, used int, start int64) int64 {
	ps := s.cfg.PartSize
	if deferred {
		grow := (start/deferredGrowth + blockSize - 1) / blockSize * blockSize
		if limit := s.cfg.BufferBudget / 2 / blockSize * blockSize; grow > limit {
			grow = limit
		}
		ps = max(ps, grow)
	} else {
		left := int64(MaxParts - used)
		if left < 1 {
			left = 1
		}
		if need := (size - start + left - 1) / left; need > ps {
			ps = (need + blockSize - 1) / blockSize * blockSize
		}
	}
	return min(ps, MaxPartSize)
}

// persistRemainder stores the bytes left when a body ends: as a part if it
// is big enough and parts remain for the rest, else as the tail. The end
// of an upload that has recorded parts is always a part (the last part may
// be any size); an upload whose bytes all arrive in this buffer becomes the
// object with a single PutObject, and FinishUpload finds it finished.
func (u *upload) persistRemainder(ctx context.Context, buf *partBuf) error {
	used := u.rec.nextPart()
	rest := u.rec.info.Size - u.rec.partBytes() - buf.n
	fits := used < MaxParts-100
	if !u.rec.info.SizeIsDeferred {
		left := int64(u.partLimit() - 1 - used)
		fits = rest == 0 || (left > 0 && (rest+left-1)/left <= MaxPartSize)
	}
	last := !u.rec.info.SizeIsDeferred && rest == 0 // the last part may be any size
	if last && len(u.rec.parts) == 0 && !u.rec.info.Partial {
		// All of the upload is in buf (it starts with the tail): one
		// PutObject writes the object now. Should that fail, bytes too few
		// for a part are kept as the tail below and FinishUpload puts them
		// again; more are not acknowledged (the client sends them again).
		err := u.putWhole(ctx, buf.wholeBody())
		if err == nil || buf.n >= u.s.cfg.MinPartSize {
			return err
		}
	} else if last || (buf.n >= u.s.cfg.MinPartSize && fits && !u.strands(rest)) {
		return u.commitPart(ctx, buf)
	}
	tail := buf.bytes()
	if err := u.save(ctx, map[string][]byte{fieldTail: tail, fieldInfo: u.touch(u.rec.partBytes() + int64(len(tail)))}, nil); err != nil {
		return err
	}
	u.rec.tail = tail
	return nil
}

// touch moves the expiry forward, notes the durable offset the write
// makes and its time, and returns the encoded info.
func (u *upload) touch(durable int64) []byte {
	now := u.s.cfg.Clock()
	u.rec.info.Expires = now.Add(u.s.cfg.Expiration)
	u.rec.info.Durable, u.rec.info.Updated = durable, now
	u.s.media.put(u.id, &u.rec.info)
	return mustJSON(u.rec.info)
}

// holdToken keeps the fencing token of the lock this process holds on the
// upload now, if any; GetUpload calls it, since tusd locks before loading.
func (u *upload) holdToken() {
	if f := u.s.cfg.Fencer; f != nil {
		u.fenceKey, u.fenceToken, u.fenced = f.Fence(u.id)
	}
}

// token returns the fencing token for a record write: the one kept when
// the upload was loaded (or, for an upload created in this request, at its
// first write). Asking the Fencer afresh on every write is not enough: a
// request whose lock expired and was taken by another request of this
// same process would be handed the new holder's token. It fails with
// errLockLost when this process no longer holds the lock, or holds a newer
// one than this request's.
func (u *upload) token(ctx context.Context) (key string, token int64, err error) {
	f := u.s.cfg.Fencer
	if f == nil || u.unfenced {
		return "", 0, nil
	}
	k, t, ok := f.Fence(u.id)
	if ok && !u.fenced {
		u.fenceKey, u.fenceToken, u.fenced = k, t, true
	}
	if !ok || t != u.fenceToken {
		u.s.metrics.fenced.Inc()
		u.s.log.WarnContext(ctx, "StaleWriteRejected", "id", u.id, "reason", "lock not held", "token", u.fenceToken)
		return "", 0, errLockLost
	}
	return u.fenceKey, u.fenceToken, nil
}

// save writes record fields under the upload's fencing token, if any.
func (u *upload) save(ctx context.Context, set map[string][]byte, del []string) error {
	key, token, err := u.token(ctx)
	if err != nil {
		return err
	}
	err = u.s.cfg.Records.Update(ctx, u.id, key, token, set, del)
	if hasClass(err, "Fenced") {
		u.s.metrics.fenced.Inc()
		u.s.log.WarnContext(ctx, "StaleWriteRejected", "id", u.id, "token", token)
		return fmt.Errorf("%w: %w", errLockLost, err)
	}
	return err
}

// object opens the OSS object with the current credential.
func (u *upload) object() (object, error) { return u.s.openObject(&u.rec.info, &u.rec.cred) }

// withRetry runs fn against the object, refreshing the credential ahead of
// its deadline and once when OSS rejects it, and repeating retryable
// failures up to OSSAttempts times with backoff. It takes u.mu around the
// credential, so parts in flight may call it at once; fn runs without it.
func (u *upload) withRetry(ctx context.Context, fn func(object) error) error {
	refreshed := false
	for attempt := 1; ; attempt++ {
		u.mu.Lock() // parts in flight share the credential
		err := u.refreshIfDue(ctx)
		var obj object
		token := u.rec.cred.SecurityToken
		if err == nil {
			obj, err = u.object()
		}
		u.mu.Unlock()
		if err != nil {
			return err
		}
		err = fn(obj)
		if err == nil {
			return nil
		}
		if credentialRejected(err) && !refreshed {
			refreshed = true
			u.mu.Lock()
			var rerr error
			if u.rec.cred.SecurityToken == token { // else another part in flight refreshed it
				rerr = u.refresh(ctx)
			}
			u.mu.Unlock()
			if rerr != nil {
				return fmt.Errorf("%w (after %w)", rerr, err)
			}
			attempt--
			continue
		}
		if attempt >= u.s.cfg.OSSAttempts || !(retryable(err) || errors.Is(err, errCorrupt)) || ctx.Err() != nil {
			return err
		}
		u.s.metrics.ossRetries.Inc()
		u.s.log.WarnContext(ctx, "OSSRetry", "id", u.id, "attempt", attempt, "error", err)
		t := time.NewTimer(time.Duration(attempt*attempt) * 200 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		}
	}
}

func (u *upload) refreshIfDue(ctx context.Context) error {
	c := u.rec.cred
	if c.Expires.IsZero() || u.s.cfg.Clock().Before(c.refreshAt(u.s.cfg.RefreshBefore)) {
		return nil
	}
	if u.rec.info.MediaType != string(vodbridge.MediaVideo) {
		return nil // image and attached-media credentials cannot be refreshed
	}
	return u.refresh(ctx)
}

// refresh gets a new credential for the same address and records it.
func (u *upload) refresh(ctx context.Context) error {
	if u.rec.info.MediaType != string(vodbridge.MediaVideo) {
		return fmt.Errorf("tusstore: %s credential expired and cannot be refreshed: %w", u.rec.info.MediaType, errCredential)
	}
	t, err := u.s.cfg.VOD.RefreshUpload(ctx, u.rec.info.MediaID)
	if err != nil {
		return fmt.Errorf("tusstore: refresh credential of %s: %w", u.rec.info.MediaID, err)
	}
	if t.Address.Bucket != u.rec.info.Bucket || t.Address.FileName != u.rec.info.Key {
		return fmt.Errorf("tusstore: refresh moved %s from %s/%s to %s/%s: %w", u.rec.info.MediaID,
			u.rec.info.Bucket, u.rec.info.Key, t.Address.Bucket, t.Address.FileName, errCredential)
	}
	cred := credFrom(t.Credential, u.s.cfg.Clock())
	if err := u.save(ctx, map[string][]byte{fieldCred: mustJSON(cred)}, nil); err != nil {
		return err
	}
	u.rec.cred = cred
	u.s.metrics.refreshes.Inc()
	u.s.log.InfoContext(ctx, "CredentialRefreshed", "id", u.id, "mediaId", u.rec.info.MediaID, "sts", t.Credential) // not "credential": that key would mask region and expiry too
	return nil
}
