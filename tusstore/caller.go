package tusstore

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/vodgate/vodgate/vodbridge"
)

// Caller is who makes a request, as the authentication layer established
// it, with the limits its credential carries.
type Caller struct {
	// Owner identifies the caller (a JWT sub, an upload token's subject).
	// An upload is visible only to its owner.
	Owner string
	// MaxSize caps the upload's length in bytes; 0 means no cap beyond
	// Config.MaxSize.
	MaxSize int64
	// MediaTypes, if not empty, lists the media types ("video", "image",
	// "attached") the caller may create.
	MediaTypes []string
	// Fixed VOD parameters override what the metadata asks for, so the
	// caller cannot choose them.
	Fixed Fixed
	// Admin callers may list and cancel every owner's uploads through the
	// upload API (the tus endpoint still scopes them to their own).
	Admin bool
}

// Fixed are VOD parameters imposed by the caller's credential; empty
// fields impose nothing.
type Fixed struct {
	TemplateGroupID string
	WorkflowID      string
	CateID          int64
	StorageLocation string
	AppID           string
}

// ErrMediaTypeForbidden answers a creation of a media type the caller's
// credential does not allow.
var ErrMediaTypeForbidden = handler.NewError("ERR_MEDIA_TYPE_FORBIDDEN", "media type not allowed for this credential", http.StatusForbidden)

// ErrCallerSizeExceeded answers bytes beyond the caller's size cap.
var ErrCallerSizeExceeded = handler.NewError("ERR_MAX_SIZE_EXCEEDED", "upload exceeds the size allowed for this credential", http.StatusRequestEntityTooLarge)

// caller returns the request's caller, if Config.CallerOf is set and knows one.
func (s *Store) caller(ctx context.Context) (Caller, bool) {
	if s.cfg.CallerOf == nil {
		return Caller{}, false
	}
	return s.cfg.CallerOf(ctx)
}

// applyCaller checks a creation against the caller's limits and imposes
// its fixed parameters. It returns the size cap to record.
func (s *Store) applyCaller(ctx context.Context, info handler.FileInfo, req *vodbridge.CreateRequest) (owner string, maxSize int64, err error) {
	c, ok := s.caller(ctx)
	if !ok {
		return "", 0, nil
	}
	if c.MaxSize > 0 && !info.SizeIsDeferred && info.Size > c.MaxSize {
		return "", 0, ErrCallerSizeExceeded
	}
	if len(c.MediaTypes) > 0 && !slices.Contains(c.MediaTypes, string(req.Type)) {
		return "", 0, handler.NewError(ErrMediaTypeForbidden.ErrorCode,
			fmt.Sprintf("media type %s not allowed for this credential (allowed: %v)", req.Type, c.MediaTypes), http.StatusForbidden)
	}
	f := c.Fixed
	for _, p := range []struct {
		dst *string
		v   string
	}{
		{&req.TemplateGroupID, f.TemplateGroupID}, {&req.WorkflowID, f.WorkflowID},
		{&req.StorageLocation, f.StorageLocation}, {&req.AppID, f.AppID},
	} {
		if p.v != "" {
			*p.dst = p.v
		}
	}
	if f.CateID != 0 {
		req.CateID = f.CateID
	}
	return c.Owner, c.MaxSize, nil
}

// visible reports whether the request's caller may see the upload: uploads
// created by an authenticated owner are visible only to that owner.
func (s *Store) visible(ctx context.Context, info *recordInfo) bool {
	if info.Owner == "" || s.cfg.CallerOf == nil {
		return true
	}
	c, ok := s.caller(ctx)
	return ok && c.Owner == info.Owner
}

// capReader fails once more than left bytes are read, so an upload cannot
// grow past its caller's cap.
type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		if n, _ := c.r.Read(one[:]); n > 0 {
			return 0, ErrCallerSizeExceeded
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// admit runs the checks every creation makes before VOD is called: the
// upload's length against MaxSize and the buffer budget, the metadata
// mapping into the VOD request for a media of mediaSize bytes (0: not
// known yet), and the caller's rules. It returns the request, the owner
// and the caller's size cap, and counts a refusal by reason.
func (s *Store) admit(ctx context.Context, info handler.FileInfo, mediaSize int64) (vodbridge.CreateRequest, string, int64, error) {
	if !info.SizeIsDeferred && info.Size > s.cfg.MaxSize {
		return vodbridge.CreateRequest{}, "", 0, handler.ErrMaxSizeExceeded
	}
	if err := s.checkPartBudget(info.Size); err != nil {
		return vodbridge.CreateRequest{}, "", 0, err
	}
	req, err := CreateRequest(info.MetaData, s.cfg.Defaults, mediaSize)
	if err != nil {
		s.metrics.rejected.WithLabelValues("metadata").Inc()
		return vodbridge.CreateRequest{}, "", 0, err
	}
	owner, capSize, err := s.applyCaller(ctx, info, &req)
	if err != nil {
		s.metrics.rejected.WithLabelValues("caller").Inc()
		return vodbridge.CreateRequest{}, "", 0, err
	}
	return req, owner, capSize, nil
}
