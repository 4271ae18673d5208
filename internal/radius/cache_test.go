package radius

import (
	"bytes"
	"net/netip"
	"testing"
	"time"
)

func key(port uint16, id byte) cacheKey {
	return cacheKey{src: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), id: id}
}

func TestReplayCache(t *testing.T) {
	c := newReplayCache(30 * time.Second)
	now := t0
	e, dup, clash := c.begin(key(1, 1), []byte("request"), now)
	if e == nil || dup || clash {
		t.Fatalf("begin(new) = %v, %v, %v; want a new entry", e, dup, clash)
	}
	if _, dup, _ := c.begin(key(1, 1), []byte("request"), now); !dup {
		t.Errorf("begin(same, pending) dup = false, want true")
	}
	if _, _, clash := c.begin(key(1, 1), []byte("other"), now); !clash {
		t.Errorf("begin(same key, other bytes) clash = false, want true")
	}
	c.finish(e, []byte("answer"), true)
	got, dup, _ := c.begin(key(1, 1), []byte("request"), now.Add(29*time.Second))
	if !dup || !bytes.Equal(got.resp, []byte("answer")) {
		t.Errorf("begin(same, answered) = %q, %v; want the answer", got.resp, dup)
	}
	if _, dup, _ := c.begin(key(1, 1), []byte("request"), now.Add(30*time.Second)); dup {
		t.Errorf("begin(same, past the window) dup = true, want a new request")
	}
}

func TestReplayCacheForgetsFailures(t *testing.T) {
	c := newReplayCache(30 * time.Second)
	e, _, _ := c.begin(key(1, 1), []byte("request"), t0)
	waiter, _, _ := c.begin(key(1, 1), []byte("request"), t0)
	c.finish(e, nil, false)
	<-waiter.done
	if waiter.resp != nil {
		t.Errorf("waiter got %q, want no answer", waiter.resp)
	}
	if _, dup, _ := c.begin(key(1, 1), []byte("request"), t0); dup {
		t.Errorf("retransmission after a failure dup = true, want it decided anew")
	}
	if c.bytes != 0 {
		t.Errorf("bytes = %d, want 0", c.bytes)
	}
}

func TestReplayCacheBounds(t *testing.T) {
	c := newReplayCache(time.Hour)
	first, _, _ := c.begin(key(0, 0), []byte("first"), t0)
	c.finish(first, []byte("answer"), true)
	for i := 1; i <= maxCacheEntries; i++ {
		e, _, _ := c.begin(key(uint16(i>>8), byte(i)), []byte{byte(i)}, t0)
		c.finish(e, nil, true)
	}
	if n := c.len(); n != maxCacheEntries {
		t.Errorf("len = %d, want the bound %d", n, maxCacheEntries)
	}
	if _, dup, _ := c.begin(key(0, 0), []byte("first"), t0); dup {
		t.Errorf("the oldest entry is still there past the bound")
	}
	big := make([]byte, 4096)
	for i := range maxCacheBytes/len(big) + 10 {
		e, _, _ := c.begin(key(uint16(5000+i>>8), byte(i)), []byte{byte(i), 1}, t0)
		c.finish(e, big, true)
	}
	if c.bytes > maxCacheBytes {
		t.Errorf("bytes = %d, want at most %d", c.bytes, maxCacheBytes)
	}
}
