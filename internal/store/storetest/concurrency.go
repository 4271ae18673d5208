package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mfad/mfad/internal/store"
)

// together runs fn(i) for i in [0, n) on n goroutines released at once,
// and waits for them all.
func together(n int, fn func(i int)) {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			fn(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
}

// confirmedTOTP creates user u1 with a confirmed authenticator c1 at step 0.
func confirmedTOTP(t *testing.T, s store.Store) {
	t.Helper()
	createUsers(t, s, newUser("u1", "alice"))
	c := newTOTP("c1", "u1", "phone", at(0))
	c.Confirmed = true
	c.ConfirmedAt = at(0)
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateTOTP(ctx, c) })
}

func testConcurrency(t *testing.T, s store.Store) {
	ctx := t.Context()

	t.Run("same step used once", func(t *testing.T) {
		confirmedTOTP(t, s)
		// Several rounds, since a race lost once may be won the next time.
		for step := int64(1); step <= 5; step++ {
			var wins atomic.Int32
			together(50, func(i int) {
				err := s.Update(ctx, func(tx store.Tx) error {
					ok, err := tx.UseTOTPStep(ctx, "c1", step, at(time.Duration(i)*time.Second))
					if ok {
						wins.Add(1)
					}
					return err
				})
				if err != nil {
					t.Errorf("UseTOTPStep(c1, %d) = %v", step, err)
				}
			})
			if got := wins.Load(); got != 1 {
				t.Errorf("UseTOTPStep(c1, %d) succeeded %d times in 50, want 1", step, got)
			}
		}
	})

	t.Run("increasing steps keep the highest", func(t *testing.T) {
		const n = 50
		steps := rand.Perm(n)
		var accepted sync.Map
		together(n, func(i int) {
			step := int64(100 + steps[i])
			err := s.Update(ctx, func(tx store.Tx) error {
				ok, err := tx.UseTOTPStep(ctx, "c1", step, at(time.Hour))
				if ok {
					accepted.Store(step, true)
				}
				return err
			})
			if err != nil {
				t.Errorf("UseTOTPStep(c1, %d) = %v", step, err)
			}
		})
		c := totpByID(t, s, "u1", "c1")
		if c.LastStep != 100+n-1 {
			t.Errorf("LastStep after concurrent steps = %d, want %d", c.LastStep, 100+n-1)
		}
		if _, ok := accepted.Load(int64(100 + n - 1)); !ok {
			t.Errorf("UseTOTPStep(c1, %d), the highest step, was refused", 100+n-1)
		}
	})

	reservers := []struct {
		name    string
		userID  string
		reserve reserveFunc
	}{
		{"attempts reserved up to the threshold", "u2", reserveOnStore},
		{"attempts reserved up to the threshold in transactions", "u3", reserveInTx},
	}
	for _, r := range reservers {
		t.Run(r.name, func(t *testing.T) {
			testReserveTogether(t, s, r.userID, r.reserve)
		})
	}

	t.Run("confirmed once", func(t *testing.T) {
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateTOTP(ctx, newTOTP("c2", "u1", "tablet", at(0)))
		})
		var wins atomic.Int32
		together(20, func(i int) {
			err := s.Update(ctx, func(tx store.Tx) error {
				ok, err := tx.ConfirmTOTP(ctx, "u1", "c2", int64(1000+i), at(0))
				if ok {
					wins.Add(1)
				}
				return err
			})
			if err != nil {
				t.Errorf("ConfirmTOTP(u1, c2) = %v", err)
			}
		})
		if got := wins.Load(); got != 1 {
			t.Errorf("ConfirmTOTP(u1, c2) succeeded %d times in 20, want 1", got)
		}
	})

	t.Run("revoked once", func(t *testing.T) {
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.CreateToken(ctx, store.Token{ID: "t1", Name: "x", Role: "admin",
				Hash: []byte{1}, KeyID: "k1", CreatedAt: at(0)})
		})
		var wins atomic.Int32
		together(20, func(i int) {
			err := s.Update(ctx, func(tx store.Tx) error {
				return tx.RevokeToken(ctx, "t1", at(time.Duration(i+1)*time.Second))
			})
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, store.ErrNotFound):
				t.Errorf("RevokeToken(t1) = %v, want nil or ErrNotFound", err)
			}
		})
		if got := wins.Load(); got != 1 {
			t.Errorf("RevokeToken(t1) succeeded %d times in 20, want 1", got)
		}
	})

	t.Run("sealing while appending", func(t *testing.T) {
		testSealWhileAppending(t, s)
	})
}

// testReserveTogether makes 100 attempts at once against a threshold of
// 10: exactly 10 are reserved, each seeing its own count, and the tenth
// locks the account.
func testReserveTogether(t *testing.T, s store.Store, userID string, reserve reserveFunc) {
	ctx := t.Context()
	createUsers(t, s, newUser(userID, "user "+userID))
	rule := store.LockRule{Threshold: 10, Duration: time.Minute,
		MaxDuration: time.Hour, MaxFailures: 100}
	var mu sync.Mutex
	var counts []int
	together(100, func(int) {
		st, ok, err := reserve(ctx, s, userID, at(0), rule)
		if err != nil {
			t.Errorf("ReserveAttempt(%s) = %v", userID, err)
			return
		}
		if ok {
			mu.Lock()
			counts = append(counts, st.Failures)
			mu.Unlock()
		}
	})
	slices.Sort(counts)
	want := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if !slices.Equal(counts, want) {
		t.Errorf("reserved counts = %v, want %v", counts, want)
	}
	u, err := s.UserByID(ctx, userID)
	if err != nil {
		t.Fatalf("UserByID(%s) = %v", userID, err)
	}
	wantLock := store.LockState{Failures: 10, LockedUntil: ms(at(time.Minute))}
	if u.Lock != wantLock {
		t.Errorf("Lock after 100 parallel attempts = %+v, want %+v", u.Lock, wantLock)
	}
}

// testSealWhileAppending appends from many goroutines while several others
// seal, then checks that the chain holds every event exactly once, in one
// unbroken sequence.
func testSealWhileAppending(t *testing.T, s store.Store) {
	ctx := t.Context()
	const writers, perWriter, sealers = 8, 25, 4

	var mu sync.Mutex
	var appended []int64
	var writing sync.WaitGroup
	writing.Add(writers)
	stop := make(chan struct{})
	go func() {
		writing.Wait()
		close(stop)
	}()

	together(writers+sealers, func(i int) {
		if i >= writers {
			for {
				n, err := s.SealAudit(ctx, 5, testLink)
				if err != nil {
					t.Errorf("SealAudit() = %v", err)
					return
				}
				if n == 0 {
					time.Sleep(time.Millisecond) // let the writers catch up
				}
				select {
				case <-stop:
					return
				default:
				}
			}
		}
		defer writing.Done()
		for j := range perWriter {
			ev := newEvent(i*perWriter+j, "verify", fmt.Sprintf("user%d", i), at(0))
			err := s.Update(ctx, func(tx store.Tx) error {
				seq, err := tx.AppendAudit(ctx, ev)
				if err == nil {
					mu.Lock()
					appended = append(appended, seq)
					mu.Unlock()
				}
				return err
			})
			if err != nil {
				t.Errorf("AppendAudit(%s) = %v", ev.ID, err)
			}
		}
	})
	sealAll(t, s, 50)

	all := scanAll(t, s)
	if n := checkChain(t, all); n != writers*perWriter || len(all) != writers*perWriter {
		t.Errorf("ScanAudit() = %d events, %d sealed, want %d, all sealed",
			len(all), n, writers*perWriter)
	}
	var scanned []int64
	for _, ev := range all {
		scanned = append(scanned, ev.Seq)
	}
	slices.Sort(scanned)
	slices.Sort(appended)
	if !slices.Equal(scanned, appended) {
		t.Errorf("ScanAudit() Seqs differ from those AppendAudit returned")
	}
}
