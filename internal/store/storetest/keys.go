package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mfad/mfad/internal/store"
)

// testAnchorKey checks that the first anchor wins, also among racing
// callers, and that everyone reads the winner.
func testAnchorKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 20
	got := make([]store.KeyAnchor, n)
	var mu sync.Mutex
	together(n, func(i int) {
		a, err := s.AnchorKey(ctx, store.KeyAnchor{
			KeyID: fmt.Sprintf("k%07d", i), Check: []byte{byte(i), 1, 2}, CreatedAt: at(0),
		})
		if err != nil {
			t.Errorf("AnchorKey(%d) = %v", i, err)
		}
		mu.Lock()
		got[i] = a
		mu.Unlock()
	})
	winner := got[0]
	if winner.KeyID == "" || len(winner.Check) != 3 || !winner.CreatedAt.Equal(ms(at(0))) {
		t.Fatalf("AnchorKey = %+v, want one of the offered anchors", winner)
	}
	for i, a := range got {
		if diff := cmp.Diff(winner, a); diff != "" {
			t.Errorf("caller %d saw another anchor (-first +this):\n%s", i, diff)
		}
	}
	later, err := s.AnchorKey(ctx, store.KeyAnchor{KeyID: "other", Check: []byte{9}, CreatedAt: at(1)})
	if err != nil || later.KeyID != winner.KeyID {
		t.Errorf("AnchorKey after the first = %+v, %v, want the first anchor %q", later, err, winner.KeyID)
	}
}
