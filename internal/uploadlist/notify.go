package uploadlist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/vodgate/vodgate/tusstore"
)

// Notifier writes events about uploads; *events.Outbox implements it.
// subject orders events (the upload ID); discriminator tells apart events
// of one type about one subject.
type Notifier interface {
	Notify(ctx context.Context, typ, subject, discriminator string, data map[string]any) error
}

func (c *Catalog) notify(ctx context.Context, typ, subject, discriminator string, data map[string]any) error {
	if c.notifier == nil {
		return nil
	}
	if err := c.notifier.Notify(ctx, typ, subject, discriminator, data); err != nil {
		return fmt.Errorf("uploadlist: %s event for %s: %w", typ, subject, err)
	}
	return nil
}

// itemData is an event's data about an upload.
func itemData(id string, m meta, size, offset int64, crc *uint64) map[string]any {
	d := map[string]any{"uploadId": id, "owner": m.Owner, "mediaId": m.MediaID, "mediaType": m.MediaType,
		"size": size, "offset": offset, "filename": m.Filename, "title": m.Title, "metadata": m.MetaData}
	if m.Deferred && size == 0 {
		d["size"] = nil
	}
	if d["metadata"] == nil {
		d["metadata"] = map[string]string{}
	}
	if crc != nil {
		d["crc64"] = strconv.FormatUint(*crc, 10)
	}
	return d
}

// itemState is what the event writers read of an item.
type itemState struct {
	meta    meta
	ended   string // the recorded end state; "" while it has not ended
	stalled string // the updated time (ms) of the last stall reported
}

// readItem reads an upload's item in one round trip; ok is false when
// there is no item.
func (c *Catalog) readItem(ctx context.Context, id string) (st itemState, ok bool, err error) {
	h, err := c.rdb.HMGet(ctx, c.itemKey(id), "meta", "state", "stalled").Result()
	if err != nil {
		return itemState{}, false, fmt.Errorf("uploadlist: read %s: %w", id, err)
	}
	raw, _ := h[0].(string)
	if raw == "" || json.Unmarshal([]byte(raw), &st.meta) != nil {
		return itemState{}, false, nil
	}
	st.ended, _ = h[1].(string)
	st.stalled, _ = h[2].(string)
	return st, true, nil
}

// notifyEnd writes the event of an end that is news: the item has not
// ended yet (or "complete" follows "failed").
func (c *Catalog) notifyEnd(ctx context.Context, e tusstore.End) error {
	if c.notifier == nil {
		return nil
	}
	st, ok, err := c.readItem(ctx, e.ID)
	if err != nil || !ok {
		return err
	}
	m, ended := st.meta, st.ended
	if ended != "" && !(ended == StateFailed && e.State == tusstore.StateComplete) {
		return nil
	}
	size := m.Size
	var crc *uint64
	if e.State == tusstore.StateComplete {
		crc = &e.CRC64
		if m.Deferred {
			size = e.Offset
		}
	}
	return c.notify(ctx, "upload."+eventVerb(e.State), e.ID, "", itemData(e.ID, m, size, e.Offset, crc))
}

func eventVerb(s tusstore.State) string {
	if s == tusstore.StateComplete {
		return "completed"
	}
	return string(s) // failed, cancelled, expired
}

// stallScript marks an item stalled at one "updated" time: KEYS[1] the
// item, ARGV[1] the updated ms. It returns 1 the first time for that time.
var stallScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'state') == 1 then return 0 end
if redis.call('HGET', KEYS[1], 'stalled') == ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'stalled', ARGV[1])
return 1`)

// Stalled reports upload.stalled once per stall: when the upload has had
// no byte for StallAfter since p.Updated, and that stall was not reported.
func (c *Catalog) Stalled(ctx context.Context, id string, p tusstore.Progress) error {
	if c.notifier == nil || !p.Found || p.Finished || p.Updated.IsZero() || c.clock().Sub(p.Updated) <= c.stallAfter {
		return nil
	}
	if !p.Deferred && p.Offset == p.Size {
		return nil // completing, not stalled
	}
	at := strconv.FormatInt(p.Updated.UnixMilli(), 10)
	st, ok, err := c.readItem(ctx, id)
	if err != nil || !ok || st.ended != "" || st.stalled == at { // gone, ended, or reported already
		return err
	}
	m := st.meta
	// The event first, then the mark: a crash between repeats the event
	// (same ID), never loses it.
	if err := c.notify(ctx, "upload.stalled", id, at, itemData(id, m, p.Size, p.Offset, nil)); err != nil {
		return err
	}
	if err := stallScript.Run(ctx, c.rdb, []string{c.itemKey(id)}, at).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("uploadlist: mark %s stalled: %w", id, err)
	}
	return nil
}

// ByMedia returns the upload whose media is mediaID, if it is listed.
func (c *Catalog) ByMedia(ctx context.Context, mediaID string) (Item, bool, error) {
	id, err := c.rdb.Get(ctx, c.mediaKey(mediaID)).Result()
	if errors.Is(err, redis.Nil) {
		return Item{}, false, nil
	}
	if err != nil {
		return Item{}, false, fmt.Errorf("uploadlist: media %s: %w", mediaID, err)
	}
	return c.Get(ctx, id)
}
