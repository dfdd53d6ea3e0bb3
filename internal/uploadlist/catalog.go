package uploadlist

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vodgate/vodgate/tusstore"
)

// Defaults applied by [Config].
const (
	DefaultHistoryTTL = 30 * 24 * time.Hour
	DefaultStallAfter = 10 * time.Minute
	// liveSlack is how long a live item outlives its creation at least:
	// longer than any upload record (7 days), so a listing never loses an
	// upload its record still holds.
	liveSlack = 8 * 24 * time.Hour
)

// Live reads the live progress of uploads from their records;
// *tusstore.Store implements it.
type Live interface {
	Progress(ctx context.Context, ids []string) ([]tusstore.Progress, error)
}

// Config configures a [Catalog]. Redis and Live are required.
type Config struct {
	Redis redis.UniversalClient
	Live  Live
	// Prefix starts every key. Default: "vodgate".
	Prefix string
	// HistoryTTL is how long an ended upload stays listed. Default: 30 days.
	HistoryTTL time.Duration
	// StallAfter is how long an upload may go without a byte before it is
	// listed as stalled. Default: 10 minutes.
	StallAfter time.Duration
	// Notifier, if set, is told of each upload's creation, end and stalls
	// (internal/events writes them to its outbox).
	Notifier Notifier
	// Clock returns the time. Default: time.Now.
	Clock func() time.Time
	// Logger receives structured logs. Default: slog.Default().
	Logger *slog.Logger
}

// Catalog keeps the list of every owner's uploads in Redis, shared by all
// instances. It implements tusstore.Journal. Keys:
//
//   - <prefix>:{<id>}:item, a hash: "meta" (JSON [meta]), and once the
//     upload ended "state", "ended" (Unix ms) and "offset";
//   - <prefix>:list:{<owner hash>}, a sorted set of the owner's upload IDs
//     scored by creation time (Unix µs), and <prefix>:list:all for everyone;
//   - <prefix>:live, the uploads that have not ended, for the reaper.
//
// An item is written before its ID enters a sorted set and removed after
// it leaves them, so a reader that finds an ID without its item skips it.
type Catalog struct {
	rdb        redis.UniversalClient
	live       Live
	prefix     string
	historyTTL time.Duration
	stallAfter time.Duration
	clock      func() time.Time
	log        *slog.Logger
	notifier   Notifier
}

var _ tusstore.Journal = (*Catalog)(nil)

// New returns a Catalog. It does no I/O.
func New(cfg Config) (*Catalog, error) {
	if cfg.Redis == nil || cfg.Live == nil {
		return nil, errors.New("uploadlist: Redis and Live are required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "vodgate"
	}
	if cfg.HistoryTTL <= 0 {
		cfg.HistoryTTL = DefaultHistoryTTL
	}
	if cfg.StallAfter <= 0 {
		cfg.StallAfter = DefaultStallAfter
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Catalog{rdb: cfg.Redis, live: cfg.Live, prefix: cfg.Prefix, historyTTL: cfg.HistoryTTL,
		stallAfter: cfg.StallAfter, clock: cfg.Clock, log: cfg.Logger.With("component", "uploadlist"),
		notifier: cfg.Notifier}, nil
}

// meta is the part of an item fixed at creation.
type meta struct {
	Owner     string            `json:"owner"`
	MediaID   string            `json:"mediaId"`
	MediaType string            `json:"mediaType"`
	Filename  string            `json:"filename,omitempty"`
	Title     string            `json:"title,omitempty"`
	Size      int64             `json:"size"`
	Deferred  bool              `json:"deferred,omitempty"`
	Kind      string            `json:"kind,omitempty"` // "" (tus) or "url"
	MetaData  map[string]string `json:"meta,omitempty"`
	Created   int64             `json:"created"` // Unix ms
	Expires   int64             `json:"expires"` // Unix ms, at creation
}

func (c *Catalog) itemKey(id string) string  { return c.prefix + ":{" + id + "}:item" }
func (c *Catalog) allKey() string            { return c.prefix + ":list:all" }
func (c *Catalog) liveKey() string           { return c.prefix + ":live" }
func (c *Catalog) mediaKey(id string) string { return c.prefix + ":media:{" + id + "}" }

// ownerKey names the owner's sorted set; the owner is hashed so any
// subject string makes a safe key.
func (c *Catalog) ownerKey(owner string) string {
	h := sha256.Sum256([]byte(owner))
	return c.prefix + ":list:{" + hex.EncodeToString(h[:12]) + "}"
}

// Created adds a new upload to its owner's list.
func (c *Catalog) Created(ctx context.Context, s tusstore.Summary) error {
	m := meta{Owner: s.Owner, MediaID: s.MediaID, MediaType: s.MediaType, Filename: s.Filename, Title: s.Title,
		Size: s.Size, Deferred: s.Deferred, MetaData: s.MetaData,
		Created: s.Created.UnixMilli(), Expires: s.Expires.UnixMilli()}
	// One round trip for the item, its indexes and the media link.
	pipe := c.rdb.Pipeline()
	if err := c.queueItem(ctx, pipe, s.ID, m, s.Created, true); err != nil {
		return err
	}
	if s.Created.UnixMicro()%64 == 0 {
		// Now and then, forget IDs whose items have certainly expired.
		cutoff := strconv.FormatInt(c.clock().Add(-liveSlack-c.historyTTL).UnixMicro(), 10)
		pipe.ZRemRangeByScore(ctx, c.ownerKey(s.Owner), "-inf", "("+cutoff)
		pipe.ZRemRangeByScore(ctx, c.allKey(), "-inf", "("+cutoff)
	}
	pipe.Set(ctx, c.mediaKey(s.MediaID), s.ID, liveSlack+c.historyTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("uploadlist: index %s: %w", s.ID, err)
	}
	return c.notify(ctx, "upload.created", s.ID, "", itemData(s.ID, m, s.Size, 0, nil))
}

// queueItem adds to pipe the writes that list item id: its meta, and its
// ID in the owner's and everyone's sorted sets (and the live set, when
// live: the reaper walks it), scored by created in µs (exact in a float64
// until 2255). The item is written first: on one Redis a pipeline runs in
// order, so an ID found in a sorted set has its item; on a cluster a
// reader may briefly find the ID first, and skips it.
func (c *Catalog) queueItem(ctx context.Context, pipe redis.Pipeliner, id string, m meta, created time.Time, live bool) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("uploadlist: encode %s: %w", id, err)
	}
	pipe.HSet(ctx, c.itemKey(id), "meta", b)
	pipe.PExpire(ctx, c.itemKey(id), liveSlack+c.historyTTL)
	sets := []string{c.ownerKey(m.Owner), c.allKey()}
	if live {
		sets = append(sets, c.liveKey())
	}
	score := float64(created.UnixMicro())
	for _, k := range sets {
		pipe.ZAdd(ctx, k, redis.Z{Score: score, Member: id})
	}
	return nil
}

// endScript records how an upload ended, if its item exists: KEYS[1] the
// item, ARGV state, ended ms, offset, TTL ms. A later end does not
// replace an earlier one, except that "complete" replaces "failed" (a
// finish retried after a failure).
var endScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local cur = redis.call('HGET', KEYS[1], 'state')
if cur and not (cur == 'failed' and ARGV[1] == 'complete') then return 2 end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'ended', ARGV[2], 'offset', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`)

// Ended records how an upload ended; it stays listed for HistoryTTL. The
// event reporting it is written first, only if the end is news, so a crash
// between the two makes the repair (the reaper's reconciliation) write it
// again with the same event ID rather than lose it.
func (c *Catalog) Ended(ctx context.Context, e tusstore.End) error {
	id := e.ID
	if err := c.notifyEnd(ctx, e); err != nil {
		return err
	}
	now := c.clock().UnixMilli()
	_, err := endScript.Run(ctx, c.rdb, []string{c.itemKey(id)},
		string(e.State), now, e.Offset, c.historyTTL.Milliseconds()).Result()
	if err != nil {
		return fmt.Errorf("uploadlist: end %s: %w", id, err)
	}
	if err := c.rdb.ZRem(ctx, c.liveKey(), id).Err(); err != nil {
		return fmt.Errorf("uploadlist: end %s: %w", id, err)
	}
	return nil
}

// Forget removes an upload from every list.
func (c *Catalog) Forget(ctx context.Context, id, owner string) error {
	pipe := c.rdb.Pipeline()
	for _, k := range []string{c.ownerKey(owner), c.allKey(), c.liveKey()} {
		pipe.ZRem(ctx, k, id)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("uploadlist: forget %s: %w", id, err)
	}
	if err := c.rdb.Del(ctx, c.itemKey(id)).Err(); err != nil {
		return fmt.Errorf("uploadlist: forget %s: %w", id, err)
	}
	return nil
}

// LiveIDs returns up to n uploads that have not ended, oldest first,
// created before the given time; the reaper pages through them with after
// (the last ID's score and ID, or zero values to start).
func (c *Catalog) LiveIDs(ctx context.Context, afterScore int64, afterID string, n int) ([]string, []int64, error) {
	zs, err := c.rdb.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{
		Key: c.liveKey(), Start: strconv.FormatInt(afterScore, 10), Stop: "+inf", ByScore: true, Count: int64(n + 64),
	}).Result()
	if err != nil {
		return nil, nil, fmt.Errorf("uploadlist: live uploads: %w", err)
	}
	var ids []string
	var scores []int64
	for _, z := range zs {
		id, _ := z.Member.(string)
		s := int64(z.Score)
		if s == afterScore && id <= afterID {
			continue
		}
		ids, scores = append(ids, id), append(scores, s)
		if len(ids) == n {
			break
		}
	}
	return ids, scores, nil
}

// KindURL marks the items of URL upload jobs.
const KindURL = "url"

// AddURLJob lists a URL upload job (its ID is VOD's job ID) for its owner.
// It is listed as uploading until Ended reports how it ended.
func (c *Catalog) AddURLJob(ctx context.Context, jobID, owner, sourceURL, title string, created time.Time) error {
	m := meta{Owner: owner, MediaType: "video", Filename: path.Base(strings.SplitN(sourceURL, "?", 2)[0]), Title: title,
		MetaData: map[string]string{"sourceUrl": sourceURL}, Created: created.UnixMilli(), Kind: KindURL}
	pipe := c.rdb.Pipeline()
	if err := c.queueItem(ctx, pipe, jobID, m, created, false); err != nil {
		return err
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("uploadlist: add url job %s: %w", jobID, err)
	}
	return nil
}
