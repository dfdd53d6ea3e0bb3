package uploadlist

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vodgate/vodgate/tusstore"
)

// States an item can be in.
const (
	StateUploading  = "uploading"
	StateStalled    = "stalled"
	StateCompleting = "completing"
	StateComplete   = string(tusstore.StateComplete)
	StateFailed     = string(tusstore.StateFailed)
	StateCancelled  = string(tusstore.StateCancelled)
	StateExpired    = string(tusstore.StateExpired)
)

// States lists every state, for validating filters.
var States = []string{StateUploading, StateStalled, StateCompleting, StateComplete, StateFailed, StateCancelled, StateExpired}

// Unfinished reports whether an upload in state may still receive bytes
// (cancelling it ends it; clearing it cancels it).
func Unfinished(state string) bool {
	return state == StateUploading || state == StateStalled || state == StateCompleting
}

// Item is one upload as listed.
type Item struct {
	ID        string
	Kind      string // "tus", or "url" for a URL upload job
	Owner     string
	MediaID   string
	MediaType string
	Filename  string
	Title     string
	Size      int64 // meaningless while Deferred
	Deferred  bool
	Offset    int64
	State     string
	CreatedAt time.Time
	UpdatedAt time.Time
	ExpiresAt time.Time // zero once ended
	MetaData  map[string]string
}

// Query selects a page of uploads.
type Query struct {
	// Owner is whose uploads to list; "" with All lists everyone's.
	Owner string
	All   bool
	// States, if not empty, keeps only items in these states.
	States []string
	// Fingerprint, if not empty, keeps only items whose tus metadata has
	// this value under the key "fingerprint".
	Fingerprint string
	Limit       int
	Cursor      string
}

// Page is one page of a listing; Next is "" at the end.
type Page struct {
	Items []Item
	Next  string
}

// ErrBadCursor answers a cursor this package did not issue.
var ErrBadCursor = errors.New("uploadlist: malformed cursor")

// maxScan bounds the IDs one page request reads when filters drop most of
// them; the page then comes back short, with a cursor to go on.
const maxScan = 5000

// List returns uploads newest first. Paging is by cursor (the creation
// time and ID of the last item returned), so uploads created or removed
// while a client pages neither repeat nor hide others: a new upload sorts
// before the cursor, and a removed one simply is not there.
func (c *Catalog) List(ctx context.Context, q Query) (Page, error) {
	key := c.ownerKey(q.Owner)
	if q.All && q.Owner == "" {
		key = c.allKey()
	}
	score, after, err := parseCursor(q.Cursor)
	if err != nil {
		return Page{}, err
	}
	var page Page
	for scanned := 0; scanned < maxScan; {
		batch := max(q.Limit-len(page.Items), 20) + 1
		zs, err := c.rdb.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: key, Start: "-inf", Stop: score, // go-redis swaps them for Rev
			ByScore: true, Rev: true, Count: int64(batch + 64)}).Result()
		if err != nil {
			return Page{}, fmt.Errorf("uploadlist: list: %w", err)
		}
		ids := make([]string, 0, len(zs))
		scores := make([]string, 0, len(zs))
		for _, z := range zs {
			id, _ := z.Member.(string)
			sc := strconv.FormatInt(int64(z.Score), 10)
			if sc == score && after != "" && id >= after {
				continue // returned already (same millisecond, higher ID)
			}
			ids, scores = append(ids, id), append(scores, sc)
			if len(ids) == batch {
				break
			}
		}
		// more: the set may hold IDs beyond this batch.
		more := len(zs) == batch+64 || len(ids) == batch
		items, err := c.load(ctx, ids)
		if err != nil {
			return Page{}, err
		}
		for i, it := range items {
			scanned++
			score, after = scores[i], ids[i]
			if it.ID == "" || !q.keeps(it) {
				continue
			}
			page.Items = append(page.Items, it)
			if len(page.Items) == q.Limit {
				if i == len(items)-1 && !more {
					return page, nil // the last item of the set
				}
				page.Next = formatCursor(score, after)
				return page, nil
			}
		}
		if !more || len(ids) == 0 {
			return page, nil // the set is exhausted
		}
	}
	page.Next = formatCursor(score, after)
	return page, nil
}

func (q Query) keeps(it Item) bool {
	if len(q.States) > 0 && !slices.Contains(q.States, it.State) {
		return false
	}
	return q.Fingerprint == "" || it.MetaData["fingerprint"] == q.Fingerprint
}

// Get returns upload id, or ok=false if it is not listed.
func (c *Catalog) Get(ctx context.Context, id string) (Item, bool, error) {
	items, err := c.load(ctx, []string{id})
	if err != nil {
		return Item{}, false, err
	}
	return items[0], items[0].ID != "", nil
}

// load reads the items of ids and the live progress of those that have
// not ended, in two round trips. A missing item is left zero.
func (c *Catalog) load(ctx context.Context, ids []string) ([]Item, error) {
	pipe := c.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, c.itemKey(id))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("uploadlist: load items: %w", err)
	}
	items := make([]Item, len(ids))
	var liveIdx []int
	var liveIDs []string
	for i, cmd := range cmds {
		h := cmd.Val()
		var m meta
		if h["meta"] == "" || json.Unmarshal([]byte(h["meta"]), &m) != nil {
			continue
		}
		it := Item{ID: ids[i], Kind: "tus", Owner: m.Owner, MediaID: m.MediaID, MediaType: m.MediaType, Filename: m.Filename,
			Title: m.Title, Size: m.Size, Deferred: m.Deferred, MetaData: m.MetaData,
			CreatedAt: time.UnixMilli(m.Created).UTC(), UpdatedAt: time.UnixMilli(m.Created).UTC(),
			ExpiresAt: time.UnixMilli(m.Expires).UTC()}
		if st := h["state"]; st != "" {
			it.State = st
			it.Offset, _ = strconv.ParseInt(h["offset"], 10, 64)
			if ms, err := strconv.ParseInt(h["ended"], 10, 64); err == nil {
				it.UpdatedAt = time.UnixMilli(ms).UTC()
			}
			it.ExpiresAt = time.Time{}
			switch {
			case m.Kind == KindURL: // the size VOD pulled, known once complete
				it.Size, it.Deferred = it.Offset, st != StateComplete
			case st == StateComplete && !it.Deferred:
				it.Offset = it.Size
			case st == StateComplete && it.Deferred:
				it.Size, it.Deferred = it.Offset, false
			}
		} else if m.Kind == KindURL {
			it.Kind, it.State, it.Deferred, it.ExpiresAt = KindURL, StateUploading, m.Size == 0, time.Time{} // VOD is pulling it
		} else {
			liveIdx, liveIDs = append(liveIdx, i), append(liveIDs, ids[i])
		}
		if m.Kind == KindURL {
			it.Kind = KindURL
		}
		items[i] = it
	}
	if len(liveIDs) == 0 {
		return items, nil
	}
	prog, err := c.live.Progress(ctx, liveIDs)
	if err != nil {
		return nil, fmt.Errorf("uploadlist: progress: %w", err)
	}
	now := c.clock()
	for j, i := range liveIdx {
		c.applyProgress(&items[i], prog[j], now)
	}
	return items, nil
}

// applyProgress sets the live fields of an item that has not ended.
func (c *Catalog) applyProgress(it *Item, p tusstore.Progress, now time.Time) {
	if !p.Found {
		it.State, it.ExpiresAt = StateExpired, time.Time{} // the record is gone: reaped or past its TTL
		return
	}
	it.Offset, it.Size, it.Deferred = p.Offset, p.Size, p.Deferred
	if !p.Updated.IsZero() {
		it.UpdatedAt = p.Updated.UTC()
	}
	it.ExpiresAt = p.Expires.UTC()
	switch {
	case p.Finished:
		it.State, it.ExpiresAt = StateComplete, time.Time{}
	case !p.Expires.IsZero() && now.After(p.Expires):
		it.State, it.ExpiresAt = StateExpired, time.Time{}
	case !p.Deferred && p.Offset == p.Size:
		it.State = StateCompleting
	case now.Sub(it.UpdatedAt) > c.stallAfter:
		it.State = StateStalled
	default:
		it.State = StateUploading
	}
}

func formatCursor(score, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(score + ":" + id))
}

// parseCursor returns the score bound and the last ID of a cursor; an
// empty cursor starts from the newest.
func parseCursor(cur string) (string, string, error) {
	if cur == "" {
		return "+inf", "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(cur)
	if err != nil {
		return "", "", ErrBadCursor
	}
	s, id, ok := strings.Cut(string(b), ":")
	if _, err := strconv.ParseInt(s, 10, 64); !ok || err != nil || !tusstore.ValidID(id) {
		return "", "", ErrBadCursor
	}
	return s, id, nil
}
