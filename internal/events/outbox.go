package events

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// maxStreamLen caps the outbox (approximately): entries older than every
// endpoint's cursor are trimmed as it grows past this.
const maxStreamLen = 1_000_000

// Outbox writes events to the Redis stream the [Dispatcher] delivers from.
type Outbox struct {
	rdb    redis.UniversalClient
	stream string
	clock  func() time.Time
}

// NewOutbox returns the outbox under prefix. It does no I/O.
func NewOutbox(rdb redis.UniversalClient, prefix string) *Outbox {
	return &Outbox{rdb: rdb, stream: streamKey(prefix), clock: time.Now}
}

func streamKey(prefix string) string { return prefix + ":events" }
func deadKey(prefix string) string   { return prefix + ":events:dead" }

// body is what a receiver gets.
type body struct {
	Type      string         `json:"type"`
	Timestamp string         `json:"timestamp"`
	Data      map[string]any `json:"data"`
}

// Notify writes an event of typ about subject (the upload or media ID,
// which orders its events) with data. discriminator tells apart events of
// one type about one subject (see [EventID]).
func (o *Outbox) Notify(ctx context.Context, typ, subject, discriminator string, data map[string]any) error {
	b, err := json.Marshal(body{Type: typ, Timestamp: o.clock().UTC().Format(time.RFC3339Nano), Data: data})
	if err != nil {
		return fmt.Errorf("events: encode %s: %w", typ, err)
	}
	err = o.rdb.XAdd(ctx, &redis.XAddArgs{Stream: o.stream, MaxLen: maxStreamLen, Approx: true,
		Values: map[string]any{"id": EventID(typ, subject, discriminator), "type": typ, "subject": subject,
			"at": o.clock().UnixMilli(), "body": b}}).Err()
	if err != nil {
		return fmt.Errorf("events: write %s: %w", typ, err)
	}
	return nil
}
