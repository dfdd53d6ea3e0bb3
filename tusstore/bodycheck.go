package tusstore

import (
	"context"
	"errors"
	"maps"
	"slices"
)

type bodyCheckKey struct{}

// WithBodyCheck returns ctx asking WriteChunk to verify the request body
// (the tus checksum extension) before it records any byte of it.
//
// Contract: WriteChunk calls check once, only after src reached EOF and
// before the record counts a byte of this body; check reports whether the
// body was complete and matched (a hashing reader under src knows). If src
// did not end cleanly, or the pipeline failed, or check returns an error,
// nothing of this body is recorded: parts already sent to OSS keep their
// reserved part numbers but are never recorded (so never listed at
// Complete), the tail is not stored, the offset stays where it was, and
// WriteChunk returns 0 and the error (check's error as it is, so a
// handler.Error such as 460 Checksum Mismatch reaches the client). A body
// that passes is recorded in one fenced record update, and then its
// remainder is stored as usual. Part buffers are still released as OSS
// acknowledges them; only record writes wait. A checked body is never
// streamed into the object with one PutObject, since that would finish
// the upload before the check.
func WithBodyCheck(ctx context.Context, check func() error) context.Context {
	return context.WithValue(ctx, bodyCheckKey{}, check)
}

func bodyCheck(ctx context.Context) func() error {
	c, _ := ctx.Value(bodyCheckKey{}).(func() error)
	return c
}

// heldWrites are the record writes of a checked body, held until its check
// passed, with what the record was before them.
type heldWrites struct {
	set     map[string][]byte
	del     []string
	parts   int    // len(rec.parts) before the body
	ahead   []part // rec.ahead before the body
	dropped []string
	tail    []byte // rec.tail before the body
	info    recordInfo
}

// holdChecked returns the body check ctx carries, if any, and then holds
// the record writes commitPart makes for this body until [upload.settle].
func (u *upload) holdChecked(ctx context.Context) func() error {
	check := bodyCheck(ctx)
	if check != nil {
		u.held = &heldWrites{set: map[string][]byte{}, parts: len(u.rec.parts), ahead: slices.Clone(u.rec.ahead),
			dropped: slices.Clone(u.rec.dropped), tail: u.rec.tail, info: u.rec.info}
	}
	return check
}

// saveBody is save for the writes that make a body's bytes durable: while
// a checked body is held, they are kept for [upload.settle] instead.
// Reservations and initiations are written at once (a stale writer must
// still fail before it touches OSS).
func (u *upload) saveBody(ctx context.Context, set map[string][]byte, del []string) error {
	h := u.held
	if h == nil {
		return u.save(ctx, set, del)
	}
	if _, _, err := u.token(ctx); err != nil { // fail as early as an unheld write would
		return err
	}
	maps.Copy(h.set, set)
	for _, d := range del {
		if !slices.Contains(h.del, d) {
			h.del = append(h.del, d)
		}
	}
	return nil
}

// settle ends holding. A pipeline error (perr) or a read error of the
// store's own (the buffer budget, the caller's size cap) fails the body;
// otherwise check decides (a body that did not end cleanly fails it). On
// success the held writes are recorded in one fenced update; otherwise
// they are dropped and the in-memory record is put back as it was before
// the body.
func (u *upload) settle(ctx context.Context, check func() error, perr, readErr error) error {
	h := u.held
	u.held = nil
	err := perr
	if err == nil && readErr != nil && (errors.Is(readErr, errBusy) || errors.Is(readErr, ErrCallerSizeExceeded)) {
		err = readErr
	}
	if err == nil {
		err = check()
	}
	if err == nil && len(h.set) > 0 {
		err = u.save(ctx, h.set, h.del)
	}
	if err != nil {
		info := h.info
		info.OSSUploadID = u.rec.info.OSSUploadID // initiated for this body: recorded with its reservation
		u.rec.parts, u.rec.ahead, u.rec.dropped, u.rec.tail, u.rec.info = u.rec.parts[:h.parts], h.ahead, h.dropped, h.tail, info
		u.s.media.put(u.id, &u.rec.info)
		return err
	}
	return nil
}
