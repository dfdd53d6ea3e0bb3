package uploadapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/vodgate/vodgate/internal/uploadlist"
)

// item is an upload as the API shows it.
type item struct {
	ID        string            `json:"id"`
	Kind      string            `json:"kind"`
	URL       string            `json:"url"`
	MediaID   string            `json:"mediaId"`
	MediaType string            `json:"mediaType"`
	Filename  string            `json:"filename"`
	Title     string            `json:"title"`
	Size      *int64            `json:"size"`
	Offset    int64             `json:"offset"`
	State     string            `json:"state"`
	CreatedAt string            `json:"createdAt"`
	UpdatedAt string            `json:"updatedAt"`
	ExpiresAt *string           `json:"expiresAt"`
	Owner     string            `json:"owner,omitempty"`
	Metadata  map[string]string `json:"metadata"`
}

func (a *API) render(r *http.Request, it uploadlist.Item, admin bool) item {
	out := item{ID: it.ID, Kind: it.Kind, URL: a.cfg.UploadURL(r, it.ID), MediaID: it.MediaID, MediaType: it.MediaType,
		Filename: it.Filename, Title: it.Title, Offset: it.Offset, State: it.State,
		CreatedAt: it.CreatedAt.Format(time.RFC3339), UpdatedAt: it.UpdatedAt.Format(time.RFC3339),
		Metadata: it.MetaData}
	if out.Metadata == nil {
		out.Metadata = map[string]string{}
	}
	if !it.Deferred {
		size := it.Size
		out.Size = &size
	}
	if !it.ExpiresAt.IsZero() {
		e := it.ExpiresAt.Format(time.RFC3339)
		out.ExpiresAt = &e
	}
	if admin {
		out.Owner = it.Owner
	}
	if it.Kind == uploadlist.KindURL {
		out.URL = a.cfg.URLJobURL(r, it.ID)
	}
	return out
}

func (a *API) list(w http.ResponseWriter, r *http.Request) {
	const op = "list"
	who, ok := a.identity(w, r, op)
	if !ok {
		return
	}
	q, msg := parseQuery(r, who)
	if msg != "" {
		a.fail(w, op, http.StatusBadRequest, "ERR_INVALID_QUERY", msg)
		return
	}
	page, err := a.cfg.Lister.List(r.Context(), q)
	if errors.Is(err, uploadlist.ErrBadCursor) {
		a.fail(w, op, http.StatusBadRequest, "ERR_INVALID_CURSOR", "cursor is not one this API issued")
		return
	}
	if err != nil {
		a.internal(w, r, op, err)
		return
	}
	body := struct {
		Uploads []item  `json:"uploads"`
		Next    *string `json:"next"`
	}{Uploads: make([]item, 0, len(page.Items))}
	for _, it := range page.Items {
		body.Uploads = append(body.Uploads, a.render(r, it, who.Admin))
	}
	if page.Next != "" {
		body.Next = &page.Next
	}
	a.reply(w, op, http.StatusOK, body)
}

// parseQuery reads a listing's query parameters; msg names the first
// invalid one.
func parseQuery(r *http.Request, who Identity) (q uploadlist.Query, msg string) {
	v := r.URL.Query()
	q = uploadlist.Query{Owner: who.Owner, Limit: DefaultLimit, Cursor: v.Get("cursor"), Fingerprint: v.Get("fingerprint")}
	if who.Admin {
		q.Owner, q.All = v.Get("owner"), true
	} else if o := v.Get("owner"); o != "" && o != who.Owner {
		return q, "owner may be given only by an admin"
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return q, "limit must be an integer from 1 to 500"
		}
		q.Limit = n
	}
	for _, s := range v["state"] {
		for _, st := range strings.Split(s, ",") {
			if !slices.Contains(uploadlist.States, st) {
				return q, "state must be one of " + strings.Join(uploadlist.States, ", ")
			}
			q.States = append(q.States, st)
		}
	}
	return q, ""
}

// lookup returns the caller's upload id, or writes 404 (also for another
// owner's, as the tus endpoint does).
func (a *API) lookup(w http.ResponseWriter, r *http.Request, op string, who Identity) (uploadlist.Item, bool) {
	it, found, err := a.cfg.Lister.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		a.internal(w, r, op, err)
		return it, false
	}
	if !found || (!who.Admin && it.Owner != who.Owner) {
		a.fail(w, op, http.StatusNotFound, "ERR_UPLOAD_NOT_FOUND", "no such upload")
		return it, false
	}
	return it, true
}

func (a *API) get(w http.ResponseWriter, r *http.Request) {
	const op = "get"
	who, ok := a.identity(w, r, op)
	if !ok {
		return
	}
	if it, ok := a.lookup(w, r, op, who); ok {
		a.reply(w, op, http.StatusOK, a.render(r, it, who.Admin))
	}
}

func (a *API) remove(w http.ResponseWriter, r *http.Request) {
	const op = "delete"
	who, ok := a.identity(w, r, op)
	if !ok {
		return
	}
	deleteMedia, err := optionalBool(r.URL.Query().Get("deleteMedia"))
	if err != nil {
		a.fail(w, op, http.StatusBadRequest, "ERR_INVALID_QUERY", "deleteMedia must be true or false")
		return
	}
	it, ok := a.lookup(w, r, op, who)
	if !ok {
		return
	}
	if _, err := a.end(r.Context(), it, deleteMedia); err != nil {
		a.endFailed(w, r, op, err)
		return
	}
	a.reply(w, op, http.StatusNoContent, nil)
}

// end cancels an unfinished upload (it stays listed as cancelled) or
// removes an ended one from the list, deleting its media when asked. It
// reports whether it cancelled.
func (a *API) end(ctx context.Context, it uploadlist.Item, deleteMedia bool) (cancelled bool, err error) {
	if uploadlist.Unfinished(it.State) {
		finished, err := a.cfg.Cancel(ctx, it.ID, deleteMedia)
		switch {
		case err == nil && !finished:
			return true, nil
		case err != nil && !errors.Is(err, handler.ErrNotFound):
			return false, err
		}
		// It finished, or its record went, in the meantime: it has ended.
	} else if deleteMedia {
		if err := a.cfg.DeleteMedia(ctx, it.MediaType, it.MediaID); err != nil {
			return false, err
		}
	}
	return false, a.cfg.Lister.Forget(ctx, it.ID, it.Owner)
}

func (a *API) endFailed(w http.ResponseWriter, r *http.Request, op string, err error) {
	var he handler.Error
	if errors.As(err, &he) && he.HTTPResponse.StatusCode < 500 {
		a.fail(w, op, he.HTTPResponse.StatusCode, he.ErrorCode, he.Message)
		return
	}
	if errors.As(err, &he) {
		a.log.WarnContext(r.Context(), "APIFailed", "op", op, "error", err)
		a.fail(w, op, he.HTTPResponse.StatusCode, he.ErrorCode, he.Message)
		return
	}
	a.internal(w, r, op, err)
}

// clearable are the states POST /uploads/clear accepts by default.
var clearable = []string{uploadlist.StateComplete, uploadlist.StateFailed, uploadlist.StateCancelled, uploadlist.StateExpired}

func (a *API) clear(w http.ResponseWriter, r *http.Request) {
	const op = "clear"
	who, ok := a.identity(w, r, op)
	if !ok {
		return
	}
	var req struct {
		States []string `json:"states"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err == nil && len(strings.TrimSpace(string(body))) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		err = dec.Decode(&req)
	}
	if err != nil {
		a.fail(w, op, http.StatusBadRequest, "ERR_INVALID_BODY", "body must be {\"states\":[...]}")
		return
	}
	if req.States == nil {
		req.States = clearable
	}
	for _, st := range req.States {
		if !slices.Contains(uploadlist.States, st) {
			a.fail(w, op, http.StatusBadRequest, "ERR_INVALID_BODY", "states must be among "+strings.Join(uploadlist.States, ", "))
			return
		}
	}
	var res struct {
		Cleared   int `json:"cleared"`
		Cancelled int `json:"cancelled"`
	}
	q := uploadlist.Query{Owner: who.Owner, All: who.Admin && r.URL.Query().Get("owner") == "", States: req.States, Limit: MaxLimit}
	if who.Admin {
		q.Owner = r.URL.Query().Get("owner")
	}
	for {
		page, err := a.cfg.Lister.List(r.Context(), q)
		if err != nil {
			a.internal(w, r, op, err)
			return
		}
		for _, it := range page.Items {
			cancelled, err := a.end(r.Context(), it, false)
			if err != nil {
				a.endFailed(w, r, op, err)
				return
			}
			if cancelled {
				res.Cancelled++
			} else {
				res.Cleared++
			}
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	a.reply(w, op, http.StatusOK, res)
}

func optionalBool(s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	return strconv.ParseBool(s)
}
