package radius

import (
	"container/list"
	"crypto/sha256"
	"net/netip"
	"sync"
	"time"
)

// The retransmission cache is bounded: at most maxCacheEntries requests
// and maxCacheBytes octets of answers, about 20 MiB in all at the worst.
// When either bound is reached the oldest entry goes first, answered or
// not; an evicted request that is retransmitted is decided again, and the
// service's single-use rules refuse a code used once already.
const (
	maxCacheEntries = 1 << 16
	maxCacheBytes   = 16 << 20
)

// cacheKey identifies a request among retransmissions (RFC 5080 §2.2.2):
// its source address and port, Identifier and Request Authenticator.
type cacheKey struct {
	src  netip.AddrPort
	id   byte
	auth [16]byte
}

// cacheEntry is one request: being decided until done is closed, then
// answered with resp (nil when it got no answer).
type cacheEntry struct {
	key    cacheKey
	digest [sha256.Size]byte // of the request, to tell a retransmission from a clash
	at     time.Time         // when the request first came
	done   chan struct{}
	resp   []byte
	elem   *list.Element
	// kept records that resp counts toward the cache's bytes.
	kept bool
}

// replayCache remembers requests and their answers for a window, so that
// a retransmission gets the first answer and is not decided again. It is
// safe for concurrent use.
type replayCache struct {
	window time.Duration

	mu      sync.Mutex
	entries map[cacheKey]*cacheEntry
	order   *list.List // of *cacheEntry, oldest first
	bytes   int
}

func newReplayCache(window time.Duration) *replayCache {
	return &replayCache{window: window, entries: map[cacheKey]*cacheEntry{}, order: list.New()}
}

// begin looks up the request raw under key at now. A new request gets a
// new entry, which the caller must finish; a retransmission gets the
// first one's entry and dup; a different request under a known key gets
// clash.
func (c *replayCache) begin(key cacheKey, raw []byte, now time.Time) (
	e *cacheEntry, dup, clash bool) {
	digest := sha256.Sum256(raw)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(now)
	if old, ok := c.entries[key]; ok {
		if old.digest != digest {
			return nil, false, true
		}
		return old, true, false
	}
	e = &cacheEntry{key: key, digest: digest, at: now, done: make(chan struct{})}
	e.elem = c.order.PushBack(e)
	c.entries[key] = e
	for c.order.Len() > maxCacheEntries || c.bytes > maxCacheBytes {
		c.remove(c.order.Front().Value.(*cacheEntry))
	}
	return e, false, false
}

// finish records the answer of a new request. With keep false the entry
// is forgotten, so that a retransmission is decided anew: the answer
// could not be made (the service failed), and nothing was decided.
// Requests already waiting on the entry get resp all the same.
func (c *replayCache) finish(e *cacheEntry, resp []byte, keep bool) {
	c.mu.Lock()
	e.resp = resp
	close(e.done)
	if c.entries[e.key] == e {
		if keep {
			c.bytes += len(resp)
			e.kept = true
			for c.bytes > maxCacheBytes && c.order.Len() > 1 {
				c.remove(c.order.Front().Value.(*cacheEntry))
			}
		} else {
			c.remove(e)
		}
	}
	c.mu.Unlock()
}

// expire drops the entries older than the window. Entries are in the
// order they came, so it stops at the first young one.
func (c *replayCache) expire(now time.Time) {
	for f := c.order.Front(); f != nil; f = c.order.Front() {
		e := f.Value.(*cacheEntry)
		if now.Sub(e.at) < c.window {
			return
		}
		c.remove(e)
	}
}

// remove forgets e. An entry still being decided keeps working for those
// who hold it.
func (c *replayCache) remove(e *cacheEntry) {
	if c.entries[e.key] != e {
		return
	}
	delete(c.entries, e.key)
	c.order.Remove(e.elem)
	if e.kept {
		c.bytes -= len(e.resp)
	}
}

// len returns how many requests the cache holds.
func (c *replayCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
