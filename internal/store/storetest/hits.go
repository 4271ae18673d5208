package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/store"
)

func hit(t *testing.T, s store.Store, key string, windowStart time.Time) int {
	t.Helper()
	var n int
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		n, err = tx.Hit(ctx, key, windowStart)
		return err
	})
	return n
}

func testHits(t *testing.T, s store.Store) {
	ctx := t.Context()
	w0, w1, w2 := at(0), at(time.Minute), at(2*time.Minute)
	steps := []struct {
		name   string
		key    string
		window time.Time
		want   int
	}{
		{"first", "k1", w1, 1},
		{"second", "k1", w1, 2},
		{"another key counts apart", "k2", w1, 1},
		{"third", "k1", w1, 3},
		{"the same millisecond is the same window", "k1", w1.Add(time.Microsecond), 4},
		// A replica whose clock lags must not reset a newer window.
		{"an earlier window counts in the newer one", "k1", w0, 5},
		{"which it did not move back", "k1", w1, 6},
		{"a later window starts again", "k1", w2, 1},
		{"so does a millisecond later", "k1", w2.Add(time.Millisecond), 1},
		{"and then counts", "k1", w2.Add(time.Millisecond), 2},
		{"the other key kept its count", "k2", w1, 2},
	}
	for _, st := range steps {
		if got := hit(t, s, st.key, st.window); got != st.want {
			t.Errorf("Hit(%s, %v) %s = %d, want %d", st.key, st.window, st.name, got, st.want)
		}
	}

	// A hit rolls back with its transaction.
	errBoom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if n, err := tx.Hit(ctx, "k2", w1); err != nil || n != 3 {
			t.Errorf("tx.Hit(k2) = %d, %v; want 3, nil", n, err)
		}
		return errBoom
	})
	wantErr(t, "Update(failing)", err, errBoom)
	if got := hit(t, s, "k2", w1); got != 3 {
		t.Errorf("Hit(k2) after a rolled back hit = %d, want 3", got)
	}

	// Keys whose window began before t are forgotten; at t they are kept.
	hit(t, s, "k3", w2)
	var n int
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		n, err = tx.DeleteHitsBefore(ctx, w2)
		return err
	})
	if n != 1 {
		t.Errorf("DeleteHitsBefore(w2) = %d, want 1 (k2)", n)
	}
	for _, st := range []struct {
		key    string
		window time.Time
		want   int
	}{
		{"k2", w1, 1}, // forgotten
		{"k3", w2, 2},
		{"k1", w2.Add(time.Millisecond), 3},
	} {
		if got := hit(t, s, st.key, st.window); got != st.want {
			t.Errorf("Hit(%s) after DeleteHitsBefore = %d, want %d", st.key, got, st.want)
		}
	}
}

// testHitsTogether hits one key from many goroutines at once: each sees
// its own count, and none is lost.
func testHitsTogether(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 50
	want := make([]int, n)
	for i := range want {
		want[i] = i + 1
	}
	// A second round in a later window starts again from one.
	for _, window := range []time.Time{at(time.Minute), at(2 * time.Minute)} {
		var mu sync.Mutex
		var counts []int
		together(n, func(int) {
			err := s.Update(ctx, func(tx store.Tx) error {
				c, err := tx.Hit(ctx, "k1", window)
				if err == nil {
					mu.Lock()
					counts = append(counts, c)
					mu.Unlock()
				}
				return err
			})
			if err != nil {
				t.Errorf("Hit(k1, %v) = %v", window, err)
			}
		})
		slices.Sort(counts)
		if !slices.Equal(counts, want) {
			t.Errorf("Hit(k1, %v) counts from %d goroutines = %v, want 1 to %d",
				window, n, counts, n)
		}
	}
}
