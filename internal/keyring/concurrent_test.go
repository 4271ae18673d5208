package keyring

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/audit"
)

// TestConcurrent uses one ring from many goroutines while the key file is
// rotated and the ring reloaded underneath them; run with -race.
func TestConcurrent(t *testing.T) {
	r, path := newRing(t)
	// A deterministic reader that is not safe for concurrent use: the ring
	// must serialise its reads.
	r.rand = testRand(42)
	other, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	// A clock two seconds further on at every look, so the reload rate limit
	// never refuses: this test is about races, TestReloadOnUnknownID about
	// the limit.
	var clockMu sync.Mutex
	clock := testNow
	other.now = func() time.Time {
		clockMu.Lock()
		defer clockMu.Unlock()
		clock = clock.Add(2 * time.Second)
		return clock
	}

	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				aad := []byte(fmt.Sprintf("totp/u-%d/c-%d", g, i))
				plain := []byte(fmt.Sprintf("seed %d %d", g, i))
				sealed, id, err := r.Seal(plain, aad)
				if err != nil {
					errs <- err
					return
				}
				// other learns rotated keys only through reload on unknown IDs.
				for _, ring := range []*Ring{r, other} {
					got, err := ring.Open(id, sealed, aad)
					if err != nil || !bytes.Equal(got, plain) {
						errs <- fmt.Errorf("Open(%s) = %q, %v, want %q", id, got, err, plain)
						return
					}
				}
				sum, id := r.MAC(TokenHash, plain)
				if !r.Equal(TokenHash, id, plain, sum) {
					errs <- fmt.Errorf("Equal(MAC(%q)) = false, want true", plain)
					return
				}
				_ = r.IDs()
				_ = other.ActiveID()
			}
		})
	}
	wg.Go(func() {
		for i := range 3 {
			if _, err := Rotate(path, testRand(byte(100+i)), testNow); err != nil {
				errs <- err
				return
			}
			if err := r.Reload(); err != nil {
				errs <- err
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := len(r.IDs()); got != 4 {
		t.Errorf("len(IDs()) after 3 rotations = %d, want 4", got)
	}
}

// TestConcurrentReloadOnUnknownID has many goroutines meet the same unknown
// key at once; one reload must serve them all.
func TestConcurrentReloadOnUnknownID(t *testing.T) {
	writer, path := newRing(t)
	reader, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Rotate(path, testRand(3), testNow); err != nil {
		t.Fatal(err)
	}
	if err := writer.Reload(); err != nil {
		t.Fatal(err)
	}
	sum, id := writer.MAC(Audit, []byte("m"))

	var wg sync.WaitGroup
	results := make([]bool, 16)
	for i := range results {
		wg.Go(func() { results[i] = reader.Equal(Audit, id, []byte("m"), sum) })
	}
	wg.Wait()
	for i, ok := range results {
		if !ok {
			t.Errorf("goroutine %d: Equal(key added after Load) = false, want true", i)
		}
	}
}

func TestAuditMAC(t *testing.T) {
	r, path := newRing(t)
	m := r.AuditMAC()

	sum, id := m.MAC([]byte("msg"))
	want, wantID := r.MAC(Audit, []byte("msg"))
	if !bytes.Equal(sum, want) || id != wantID {
		t.Errorf("AuditMAC().MAC(msg) = %x, %s, want %x, %s", sum, id, want, wantID)
	}

	ev := audit.Event{ID: "e1", Time: testNow, Action: "verify", Outcome: audit.Success}
	audit.Sign(m, &ev)
	link, err := audit.NextLink(m, audit.Link{}, ev)
	if err != nil {
		t.Fatal(err)
	}
	ev.Seq, ev.Link = 1, &link

	if _, err := Rotate(path, testRand(8), testNow); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	ev2 := audit.Event{ID: "e2", Time: testNow, Action: "verify", Outcome: audit.Failure}
	audit.Sign(m, &ev2)
	link2, err := audit.NextLink(m, link, ev2)
	if err != nil {
		t.Fatal(err)
	}
	ev2.Seq, ev2.Link = 2, &link2
	if ev2.KeyID == ev.KeyID || link2.KeyID == link.KeyID {
		t.Fatalf("events after rotation under key %s, want a new key", ev2.KeyID)
	}

	c := audit.NewChecker(r.AuditMAC())
	for _, e := range []audit.Event{ev, ev2} {
		if err := c.Add(e); err != nil {
			t.Errorf("Checker.Add(event %d) = %v, want nil", e.Seq, err)
		}
	}
	if res := c.Result(); !res.OK() || res.Sealed != 2 || res.Head.Seq != 2 {
		t.Errorf("Checker.Result() = %+v, want OK with 2 sealed events", res)
	}
}
