package tusstore

import "sync"

// mediaCache maps upload IDs to their media, which never change, so the
// Vod-Media-* headers need no Redis read. It holds at most max entries and
// drops an arbitrary half when full.
type mediaCache struct {
	mu  sync.Mutex
	max int
	m   map[string][2]string
}

func newMediaCache(max int) *mediaCache {
	return &mediaCache{max: max, m: make(map[string][2]string)}
}

func (c *mediaCache) put(id, mediaID, mediaType string) {
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
	c.m[id] = [2]string{mediaID, mediaType}
}

func (c *mediaCache) get(id string) (string, string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[id]
	return v[0], v[1], ok
}

func (c *mediaCache) delete(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}
