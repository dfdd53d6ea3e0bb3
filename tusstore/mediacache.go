package tusstore

import (
	"sync"
	"time"
)

// mediaCache maps upload IDs to their media, which never change, and to
// the expiry last seen, so the Vod-Media-* and Upload-Expires headers need
// no Redis read after a request loaded the record. It holds at most max
// entries and drops an arbitrary half when full.
type mediaCache struct {
	mu  sync.Mutex
	max int
	m   map[string]cachedMedia
}

type cachedMedia struct {
	id, typ string
	expires time.Time
}

func newMediaCache(max int) *mediaCache {
	return &mediaCache{max: max, m: make(map[string]cachedMedia)}
}

func (c *mediaCache) put(id string, info *recordInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		n := 0
		for k := range c.m {
			delete(c.m, k)
			if n++; n >= c.max/2 {
				break
			}
		}
	}
	v := cachedMedia{id: info.MediaID, typ: info.MediaType}
	if !info.Finished {
		v.expires = info.Expires
	}
	c.m[id] = v
}

func (c *mediaCache) get(id string) (cachedMedia, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[id]
	return v, ok
}

func (c *mediaCache) delete(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}
