package events

import (
	"strconv"
	"strings"
	"sync"
	"time"
)

// tracker follows the entries read from the outbox until each is handled,
// to find the cursor: the newest entry before which all were handled.
type tracker struct {
	mu       sync.Mutex
	cursor   string
	pending  []pendingEntry // in stream order
	finished map[string]bool
}

type pendingEntry struct {
	id string
	at time.Time
}

func newTracker(cursor string) *tracker {
	return &tracker{cursor: cursor, finished: map[string]bool{}}
}

func (t *tracker) add(id string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pending = append(t.pending, pendingEntry{id: id, at: at})
}

func (t *tracker) done(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.finished[id] = true
	for len(t.pending) > 0 && t.finished[t.pending[0].id] {
		t.cursor = t.pending[0].id
		delete(t.finished, t.pending[0].id)
		t.pending = t.pending[1:]
	}
}

// lowWater returns the cursor and the age in seconds of the oldest entry
// not yet handled (0 when none is).
func (t *tracker) lowWater() (string, float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.pending) == 0 {
		return t.cursor, 0
	}
	return t.cursor, time.Since(t.pending[0].at).Seconds()
}

// cutID splits a stream ID "ms-seq".
func cutID(id string) (ms, seq int64, ok bool) {
	a, b, found := strings.Cut(id, "-")
	ms, err1 := strconv.ParseInt(a, 10, 64)
	seq, err2 := strconv.ParseInt(b, 10, 64)
	return ms, seq, found && err1 == nil && err2 == nil
}
