package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to read schema_migrations

	"github.com/mfad/mfad/internal/mfa"
	"github.com/mfad/mfad/internal/store/sqlstore/sqltest"
	"github.com/mfad/mfad/internal/totp"
)

// These tests run several `mfad serve` processes on one database, as
// replicas behind a load balancer would be run, and check that together
// they behave as one server: every decision that must hold across
// requests (single use of a code, lockout, revocation, the audit chain)
// lives in the database, not in a process.

// replicaWait bounds every wait on a server process: for its address, its
// readiness and its exit.
const replicaWait = 30 * time.Second

// lockThreshold is the default policy's lockout threshold.
const lockThreshold = 10

// replicaCase is one property checked against running replicas.
type replicaCase struct {
	name string
	run  func(t *testing.T, rs *replicaSet)
}

// replicaCases hold on any database two servers can share.
var replicaCases = []replicaCase{
	{name: "one accept among concurrent verifications", run: testReplicaSingleUse},
	{name: "lockout is shared", run: testReplicaLockout},
	{name: "concurrent guesses do not overshoot", run: testReplicaGuesses},
	{name: "revocation is seen at once", run: testReplicaRevocation},
	{name: "replay guard is shared", run: testReplicaReplay},
	{name: "one accept among concurrent uses of a backup code", run: testReplicaBackupCode},
	{name: "a new set of backup codes voids the old everywhere", run: testReplicaNewCodes},
	{name: "one accept among concurrent uses of a one-time pass", run: testReplicaPass},
	{name: "one accept among concurrent uses of a bypass", run: testReplicaBypass},
	{name: "sealers run side by side", run: testReplicaSealers},
	{name: "each event reaches a webhook once", run: testReplicaWebhook},
}

func TestReplicas(t *testing.T) {
	bin := buildMfad(t)
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		rs := newReplicaSet(t, bin, sqltest.PostgresURL(t))
		rs.start(t, 2)
		for _, tc := range replicaCases {
			t.Run(tc.name, func(t *testing.T) { tc.run(t, rs) })
		}
		t.Run("concurrent migrations", func(t *testing.T) {
			testReplicaMigrations(t, rs)
		})
		rs.stop(t)
		rs.verifyChain(t)
	})
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		// Two processes on one data folder share the SQLite file in WAL
		// mode; each has its own writing connection, so they take turns
		// through SQLite's file lock under busy_timeout.
		rs := newReplicaSet(t, bin, "")
		rs.start(t, 2)
		for _, tc := range replicaCases {
			t.Run(tc.name, func(t *testing.T) { tc.run(t, rs) })
		}
		rs.stop(t)
		rs.verifyChain(t)
	})
}

// testReplicaSingleUse sends one valid code 50 times at once, half to each
// server: exactly one verification may accept it (SECURITY.md 1).
func testReplicaSingleUse(t *testing.T, rs *replicaSet) {
	auth := rs.enroll(t, "alice")
	const n = 50
	begin := time.Now()
	got := rs.burst(t, n, "alice", auth.code(1))
	t.Logf("%d concurrent verifications over %d servers took %v", n, len(rs.servers),
		time.Since(begin).Round(time.Millisecond))
	if got["accept"] != 1 || got["reject"] != n-1 {
		t.Errorf("%d concurrent POST /v1/verify of one code = %v, want 1 accept and %d "+
			"reject", n, got, n-1)
	}

	events := rs.events(t, url.Values{"user": {"alice"}, "action": {"verify"}})
	outcomes := map[string]int{}
	for _, ev := range events {
		outcomes[ev.Outcome]++
	}
	want := map[string]int{"success": 1, "failure": n - 1}
	if diff := cmp.Diff(want, outcomes); diff != "" {
		t.Errorf("verify events of alice by outcome (-want +got):\n%s", diff)
	}
}

// ensureUser adds user with the CLI unless they exist.
func (rs *replicaSet) ensureUser(t *testing.T, user string) {
	t.Helper()
	b := &binary{t: t, path: rs.bin, data: rs.data}
	if r := b.run(rs.flags("user", "show", user)...); r.code != 0 {
		rs.must(t, "user", "add", user)
	}
}

// backupCodes gives user a new set of backup codes with the CLI, a process
// of its own beside the servers.
func (rs *replicaSet) backupCodes(t *testing.T, user string) []string {
	t.Helper()
	rs.ensureUser(t, user)
	var set struct {
		Codes []string `json:"codes"`
	}
	out := rs.must(t, "codes", "generate", user, "--json").stdout
	if err := json.Unmarshal([]byte(out), &set); err != nil || len(set.Codes) == 0 {
		t.Fatalf("codes generate --json = %q, %v", out, err)
	}
	return set.Codes
}

// testReplicaBackupCode sends one backup code 50 times at once, half to
// each server: it works once.
func testReplicaBackupCode(t *testing.T, rs *replicaSet) {
	codes := rs.backupCodes(t, "frank")
	const n = 50
	got := rs.burst(t, n, "frank", codes[0])
	if got["accept"] != 1 || got["reject"] != n-1 {
		t.Errorf("%d concurrent POST /v1/verify of one backup code = %v, want 1 accept and "+
			"%d reject", n, got, n-1)
	}
	// Each refusal counts toward the lockout, so after the threshold the
	// rest meet the lock instead of the used code.
	reasons := countReasons(rs.events(t, url.Values{"user": {"frank"}, "action": {"verify"}}))
	if reasons["accepted"] != 1 || reasons["replay"] < 1 ||
		reasons["replay"]+reasons["locked"] != n-1 || len(reasons) > 3 {
		t.Errorf("verify events of frank by reason = %v, want 1 accepted and %d replay or "+
			"locked", reasons, n-1)
	}
}

// testReplicaPass issues a one-time access pass with the CLI and sends it
// 50 times at once, half to each server: it works once (SECURITY.md 1).
func testReplicaPass(t *testing.T, rs *replicaSet) {
	rs.ensureUser(t, "heidi")
	pass := strings.TrimSpace(rs.must(t, "pass", "issue", "heidi", "--reason",
		"replica test").stdout)
	const n = 50
	got := rs.burst(t, n, "heidi", pass)
	if got["accept"] != 1 || got["reject"] != n-1 {
		t.Errorf("%d concurrent POST /v1/verify of one one-time pass = %v, want 1 accept "+
			"and %d reject", n, got, n-1)
	}
	// As with backup codes, refusals count toward the lockout: after the
	// threshold the rest meet the lock instead of the used pass.
	reasons := countReasons(rs.events(t, url.Values{"user": {"heidi"}, "action": {"verify"}}))
	if reasons["accepted"] != 1 || reasons["replay"] < 1 ||
		reasons["replay"]+reasons["locked"] != n-1 || len(reasons) > 3 {
		t.Errorf("verify events of heidi by reason = %v, want 1 accepted and %d replay or "+
			"locked", reasons, n-1)
	}
	var p passJSON
	out := rs.must(t, "pass", "show", "heidi", "--json").stdout
	if err := json.Unmarshal([]byte(out), &p); err != nil || p.Uses != 1 || p.State != "used" {
		t.Errorf("pass show heidi --json = %s (%v), want used once", out, err)
	}
}

// testReplicaBypass grants a bypass with the CLI and sends 50 empty codes at
// once, half to each server: one is let through. Asking for a bypass
// guesses nothing, so the others count no failure and meet no lock.
func testReplicaBypass(t *testing.T, rs *replicaSet) {
	rs.ensureUser(t, "ivan")
	rs.must(t, "bypass", "grant", "ivan", "--for", "5m", "--reason", "replica test")
	const n = 50
	got := rs.burst(t, n, "ivan", "")
	if got["accept"] != 1 || got["reject"] != n-1 {
		t.Errorf("%d concurrent POST /v1/verify with an empty code and one bypass = %v, "+
			"want 1 accept and %d reject", n, got, n-1)
	}
	reasons := countReasons(rs.events(t, url.Values{"user": {"ivan"}, "action": {"verify"}}))
	want := map[string]int{"accepted": 1, "replay": n - 1}
	if diff := cmp.Diff(want, reasons); diff != "" {
		t.Errorf("verify events of ivan by reason (-want +got):\n%s", diff)
	}
}

// testReplicaNewCodes makes a new set while both servers run: no code of
// the old set works on either, and the new codes do.
func testReplicaNewCodes(t *testing.T, rs *replicaSet) {
	old := rs.backupCodes(t, "grace")
	fresh := rs.backupCodes(t, "grace")
	for i, s := range rs.servers {
		if got := rs.verify(t, s, "grace", old[i]); got != "reject" {
			t.Errorf("old backup code on %s after a new set = %s, want reject", s.name, got)
		}
		if got := rs.verify(t, s, "grace", fresh[i]); got != "accept" {
			t.Errorf("new backup code on %s = %s, want accept", s.name, got)
		}
	}
}

// testReplicaLockout sends wrong codes to the servers in turn. Each server
// sees only half of them, so the account locks at the threshold only if
// the count is shared.
func testReplicaLockout(t *testing.T, rs *replicaSet) {
	// Two authenticators, so that after the unlock each server can accept
	// a right code of its own.
	auths := []replicaAuth{rs.enroll(t, "bob"), rs.enroll(t, "bob", "--name", "spare")}
	bad := wrongCode(auths...)
	for i := range lockThreshold {
		s := rs.servers[i%2]
		if got := rs.verify(t, s, "bob", bad); got != "reject" {
			t.Fatalf("wrong code %d on %s = %s, want reject", i+1, s.name, got)
		}
	}
	for _, s := range rs.servers {
		if got := rs.verify(t, s, "bob", auths[0].code(1)); got != "reject" {
			t.Errorf("right code on %s after %d wrong ones = %s, want reject (locked)",
				s.name, lockThreshold, got)
		}
	}
	reasons := countReasons(rs.events(t, url.Values{"user": {"bob"}, "action": {"verify"}}))
	want := map[string]int{"wrong_code": lockThreshold, "locked": len(rs.servers)}
	if diff := cmp.Diff(want, reasons); diff != "" {
		t.Errorf("verify events of bob by reason (-want +got):\n%s", diff)
	}

	rs.must(t, "unlock", "bob", "--reason", "replica test")
	for i, s := range rs.servers {
		if got := rs.verify(t, s, "bob", auths[i].code(1)); got != "accept" {
			t.Errorf("right code of authenticator %d on %s after mfad unlock = %s, "+
				"want accept", i+1, s.name, got)
		}
	}
}

// testReplicaGuesses sends 100 wrong codes at once, half to each server.
// Each reserves an attempt before its code is checked, so no more than the
// threshold may be checked, whichever server takes them.
func testReplicaGuesses(t *testing.T, rs *replicaSet) {
	const n = 100
	bad := wrongCode(rs.enroll(t, "carol"))
	if got := rs.burst(t, n, "carol", bad); got["reject"] != n {
		t.Errorf("%d concurrent wrong codes = %v, want %d reject", n, got, n)
	}
	reasons := countReasons(rs.events(t, url.Values{"user": {"carol"}, "action": {"verify"}}))
	want := map[string]int{"wrong_code": lockThreshold, "locked": n - lockThreshold}
	if diff := cmp.Diff(want, reasons); diff != "" {
		t.Errorf("verify events of carol by reason (-want +got):\n%s", diff)
	}
	locks := rs.events(t, url.Values{"user": {"carol"}, "action": {"user.lock"}})
	if len(locks) != 1 {
		t.Errorf("user.lock events of carol = %d, want 1", len(locks))
	}
}

// testReplicaRevocation revokes a token through one server; the other must
// refuse it on its very next request: no server may trust a token it has
// seen before without asking the database.
func testReplicaRevocation(t *testing.T, rs *replicaSet) {
	a, b := rs.servers[0], rs.servers[1]
	status, body := rs.call(t, a, "POST", "/v1/tokens", rs.admin,
		map[string]string{"name": "revoked-app", "role": "verifier"})
	var tok struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &tok); status != http.StatusCreated || err != nil {
		t.Fatalf("POST /v1/tokens on %s = %d %s, want 201 and a token", a.name, status, body)
	}
	probe := map[string]string{"user": "nobody", "code": "123456"}
	if status, body := rs.call(t, b, "POST", "/v1/verify", tok.Token, probe); status != 200 {
		t.Fatalf("POST /v1/verify on %s with the new token = %d %s, want 200", b.name,
			status, body)
	}

	status, body = rs.call(t, a, "DELETE", "/v1/tokens/"+tok.ID, rs.admin, nil)
	if status != http.StatusNoContent {
		t.Fatalf("DELETE /v1/tokens/ID on %s = %d %s, want 204", a.name, status, body)
	}
	for _, s := range []*replicaServer{b, a} {
		status, body := rs.call(t, s, "POST", "/v1/verify", tok.Token, probe)
		if status != http.StatusUnauthorized {
			t.Errorf("POST /v1/verify on %s with the revoked token = %d %s, want 401",
				s.name, status, body)
		}
	}
}

// testReplicaReplay has one server accept a code and the other refuse it:
// the used time step is recorded in the database (RFC 6238 §5.2).
func testReplicaReplay(t *testing.T, rs *replicaSet) {
	code := rs.enroll(t, "dave").code(1)
	a, b := rs.servers[0], rs.servers[1]
	if got := rs.verify(t, a, "dave", code); got != "accept" {
		t.Fatalf("code on %s = %s, want accept", a.name, got)
	}
	if got := rs.verify(t, b, "dave", code); got != "reject" {
		t.Errorf("same code on %s = %s, want reject", b.name, got)
	}
	events := rs.events(t, url.Values{"user": {"dave"}, "action": {"verify"}})
	if len(events) == 0 || events[0].Reason != "replay" {
		t.Errorf("newest verify event of dave = %+v, want reason replay", events)
	}
}

// testReplicaSealers keeps both servers verifying for a few of their
// sealing intervals, so that both sealers chain events while the other
// does and while events are written. Then every event must be sealed by
// the servers themselves, and the chain must check out.
func testReplicaSealers(t *testing.T, rs *replicaSet) {
	bad := wrongCode(rs.enroll(t, "erin"))
	before := make([]int, len(rs.servers))
	for i, s := range rs.servers {
		before[i] = s.sealings()
	}

	const workers = 4
	deadline := time.Now().Add(2*sealInterval + sealInterval/2)
	var wg sync.WaitGroup
	counts := make([]int, workers)
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			s := rs.servers[w%len(rs.servers)]
			for time.Now().Before(deadline) && errs[w] == nil {
				_, errs[w] = rs.tryVerify(s, rs.verifier, "erin", bad)
				counts[w]++
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	t.Logf("%d verifications while sealing", sum(counts))

	rs.waitSealed(t)
	for i, s := range rs.servers {
		if s.sealings() == before[i] {
			t.Errorf("%s sealed no audit events during the load; want both sealers at work",
				s.name)
		}
	}
	rs.verifyChain(t)
}

// testReplicaWebhook makes backup codes for many users through both
// servers at once, while both dispatchers run: each event must reach the
// webhook exactly once, from either server. Fanning out claims each event
// for one server, and a delivery is leased to one server at a time. There
// are more events than one round of a dispatcher takes (50), so that both
// servers have a share to deliver.
func testReplicaWebhook(t *testing.T, rs *replicaSet) {
	rcv := newReceiver(t, 0)
	add := rs.must(t, "webhook", "add", rcv.url(), "--events", mfa.EventCodesGenerated)
	rcv.setSecret(add.stdout)
	id := webhookID(t, add.stderr)

	const users = 120
	var wg sync.WaitGroup
	errs := make([]error, users)
	for i := range users {
		wg.Go(func() {
			s, name := rs.servers[i%len(rs.servers)], fmt.Sprintf("hook%03d", i)
			body, _ := json.Marshal(map[string]string{"name": name})
			status, resp, err := rs.send(s, "POST", "/v1/users", rs.admin, body)
			if err == nil && status != http.StatusCreated {
				err = fmt.Errorf("POST /v1/users on %s = %d %s, want 201", s.name, status, resp)
			}
			if err != nil {
				errs[i] = err
				return
			}
			status, resp, err = rs.send(s, "POST", "/v1/users/"+name+"/backup-codes",
				rs.admin, nil)
			if err == nil && status/100 != 2 {
				err = fmt.Errorf("POST /v1/users/%s/backup-codes on %s = %d %s, want 2xx",
					name, s.name, status, resp)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	received := func() int {
		n := 0
		for i := range users {
			n += len(rcv.ackedFor(mfa.EventCodesGenerated, fmt.Sprintf("hook%03d", i)))
		}
		return n
	}
	waitFor(t, replicaWait, fmt.Sprintf("%d events at the webhook", users), func() bool {
		return received() >= users
	})
	// A second delivery of any event would come within a few rounds.
	time.Sleep(3 * time.Second)

	for i := range users {
		name := fmt.Sprintf("hook%03d", i)
		if ids := rcv.attemptsFor(mfa.EventCodesGenerated, name); len(ids) != 1 {
			t.Errorf("backup_codes.generated events of %s at the webhook = %v, want one",
				name, ids)
		}
	}
	attempts, acked, events := rcv.snapshot()
	for eid, n := range attempts {
		if n != 1 || acked[eid] != 1 {
			t.Errorf("event %s (%s of %s) received %d times, acknowledged %d, want once",
				eid, events[eid].Type, events[eid].User, n, acked[eid])
		}
	}
	for _, s := range rs.servers {
		n := 0
		for line := range strings.Lines(s.logText()) {
			if strings.Contains(line, `msg="notice delivered"`) &&
				strings.Contains(line, "channel=webhook") {
				n++
			}
		}
		t.Logf("server %s delivered %d webhook events", s.name, n)
	}
	rs.must(t, "webhook", "delete", id)
}

// testReplicaMigrations starts two servers at the same moment on an empty
// schema: both migrate it as they open it, and each migration must be
// applied once, with neither server failing.
func testReplicaMigrations(t *testing.T, rs *replicaSet) {
	fresh := &replicaSet{bin: rs.bin, data: rs.data, db: sqltest.PostgresURL(t),
		keyFile: rs.keyFile, client: rs.client}
	fresh.start(t, 2)

	db, err := sql.Open("pgx", fresh.db)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT version, COUNT(*) FROM schema_migrations
		GROUP BY version ORDER BY version`)
	if err != nil {
		t.Fatalf("query schema_migrations: %v", err)
	}
	got := map[int]int{}
	for rows.Next() {
		var v, n int
		if err := rows.Scan(&v, &n); err != nil {
			t.Fatal(err)
		}
		got[v] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	versions := migrationVersions(t, "postgres")
	want := map[int]int{}
	for _, v := range versions {
		want[v] = 1
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("schema_migrations: times each version was applied (-want +got):\n%s", diff)
	}

	newest := fmt.Sprintf("schema is at version %d,", slices.Max(versions))
	if r := fresh.must(t, "migrate"); !strings.Contains(r.stderr, newest) {
		t.Errorf("mfad migrate after two servers started = %q, want %q", r.stderr, newest)
	}
	fresh.stop(t)
}

// migrationVersions returns the versions of the dialect's migration files.
func migrationVersions(t *testing.T, dialect string) []int {
	t.Helper()
	dir := filepath.Join("..", "..", "internal", "store", "sqlstore", "migrations", dialect)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var versions []int
	for _, e := range entries {
		num, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		versions = append(versions, v)
	}
	if len(versions) == 0 {
		t.Fatalf("no migrations in %s", dir)
	}
	return versions
}

// replicaSet is one database with its key file, the servers that share
// them, and API tokens for the tests.
type replicaSet struct {
	bin      string // the mfad binary
	data     string // the data folder: the SQLite database when db is empty
	db       string // a postgres:// URL, or "" for SQLite in data
	keyFile  string
	servers  []*replicaServer
	admin    string // an admin API token
	verifier string // a verifier API token
	client   *http.Client
}

// newReplicaSet creates the key file, the database and two API tokens
// with the CLI, before any server starts: servers would race to create a
// key file, and every process on one database must load the same one.
func newReplicaSet(t *testing.T, bin, db string) *replicaSet {
	dir := t.TempDir()
	client := &http.Client{
		Timeout:   replicaWait,
		Transport: &http.Transport{MaxIdleConnsPerHost: 128},
	}
	t.Cleanup(client.CloseIdleConnections)
	rs := &replicaSet{bin: bin, data: filepath.Join(dir, "data"), db: db,
		keyFile: filepath.Join(dir, "keyring.json"), client: client}
	rs.admin = strings.TrimSpace(rs.must(t, "token", "create", "--name", "ops",
		"--role", "admin").stdout)
	rs.verifier = strings.TrimSpace(rs.must(t, "token", "create", "--name", "app",
		"--role", "verifier").stdout)
	return rs
}

// flags adds the flags that point a command at the set's database.
func (rs *replicaSet) flags(args ...string) []string {
	args = append(args, "--key-file", rs.keyFile)
	if rs.db != "" {
		args = append(args, "--database", rs.db)
	}
	return args
}

// must runs an mfad command on the set's database and fails on an exit
// status other than 0.
func (rs *replicaSet) must(t *testing.T, args ...string) result {
	t.Helper()
	b := &binary{t: t, path: rs.bin, data: rs.data}
	return b.must(rs.flags(args...)...)
}

// start starts n servers at the same moment and waits until each is ready.
func (rs *replicaSet) start(t *testing.T, n int) {
	t.Helper()
	servers := make([]*replicaServer, n)
	for i := range servers {
		servers[i] = rs.newServer(t, string(rune('A'+i)))
	}
	release := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() {
			<-release
			errs[i] = s.launch()
		})
	}
	close(release)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("start server %s: %v", servers[i].name, err)
		}
	}
	for _, s := range servers {
		s.waitReady(t, rs.client)
	}
	rs.servers = servers
}

// stop stops every server with SIGTERM and checks that each exits with
// status 0 and logged no error.
func (rs *replicaSet) stop(t *testing.T) {
	t.Helper()
	for _, s := range rs.servers {
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("signal %s: %v", s.name, err)
		}
	}
	for _, s := range rs.servers {
		s.wait(t)
		if t.Failed() {
			t.Logf("server %s log ends:\n%s", s.name, s.logTail(50))
		}
		for _, line := range s.errorLines() {
			t.Errorf("server %s logged an error: %s", s.name, line)
		}
	}
}

// verifyChain runs mfad audit verify and checks its report.
func (rs *replicaSet) verifyChain(t *testing.T) {
	t.Helper()
	b := &binary{t: t, path: rs.bin, data: rs.data}
	r := b.run(rs.flags("audit", "verify", "--json")...)
	var rep auditReportJSON
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("audit verify --json = exit %d, %q: %v; stderr:\n%s", r.code, r.stdout, err,
			r.stderr)
	}
	if r.code != 0 || !rep.Intact || rep.Breaks != 0 || rep.Unsealed != 0 ||
		rep.Sealed != rep.Events || rep.Events == 0 {
		t.Errorf("audit verify = exit %d, %+v; want 0, an intact chain with every event "+
			"sealed", r.code, rep)
	}
}

// waitSealed waits until the servers have sealed every audit event. The
// API lists events without sealing them, unlike mfad audit verify.
func (rs *replicaSet) waitSealed(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5*sealInterval + 5*time.Second)
	for {
		events := rs.events(t, nil)
		unsealed := 0
		for _, ev := range events {
			if !ev.Sealed {
				unsealed++
			}
		}
		if unsealed == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d audit events still unsealed after the load", unsealed,
				len(events))
		}
		time.Sleep(sealInterval / 5)
	}
}

// replicaAuth is a confirmed authenticator and the time step its
// confirmation used up.
type replicaAuth struct {
	secret []byte
	params totp.Params
	step   int64
}

// code returns the authenticator's code offset steps after the confirmed
// one. The next step (offset 1) is accepted now, and stays within RFC 6238
// §5.2's window of one step either way for a minute.
func (a replicaAuth) code(offset int64) string {
	return totp.Code(a.secret, a.step+offset, a.params)
}

// enroll adds user if need be and gives them one more confirmed
// authenticator; args go to mfad totp enroll.
func (rs *replicaSet) enroll(t *testing.T, user string, args ...string) replicaAuth {
	t.Helper()
	rs.ensureUser(t, user)
	var en enrollmentJSON
	out := rs.must(t, append([]string{"totp", "enroll", user, "--json"}, args...)...).stdout
	if err := json.Unmarshal([]byte(out), &en); err != nil {
		t.Fatalf("totp enroll --json: %v\n%s", err, out)
	}
	secret, err := totp.DecodeSecret(en.Secret)
	if err != nil {
		t.Fatalf("totp enroll --json secret: %v", err)
	}
	a := replicaAuth{secret: secret, params: totp.Params{Algorithm: totp.Algorithm(en.Algorithm),
		Digits: en.Digits, Period: en.Period}}
	a.step = totp.Step(time.Now(), a.params.Period)
	rs.must(t, "totp", "confirm", user, en.ID, a.code(0))
	return a
}

// wrongCode returns a code that none of auths accepts around now.
func wrongCode(auths ...replicaAuth) string {
	near := map[string]bool{}
	for _, a := range auths {
		for off := int64(-3); off <= 3; off++ {
			near[a.code(off)] = true
		}
	}
	for n := 0; ; n++ {
		c := fmt.Sprintf("%06d", n)
		if !near[c] {
			return c
		}
	}
}

// burst sends n verifications of code for user, released together and
// spread over the servers in turn, and counts the results.
func (rs *replicaSet) burst(t *testing.T, n int, user, code string) map[string]int {
	t.Helper()
	results := make([]string, n)
	errs := make([]error, n)
	release := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-release
			s := rs.servers[i%len(rs.servers)]
			results[i], errs[i] = rs.tryVerify(s, rs.verifier, user, code)
		})
	}
	close(release)
	wg.Wait()

	got := map[string]int{}
	for i, res := range results {
		if errs[i] != nil {
			t.Errorf("verification %d: %v", i, errs[i])
			continue
		}
		got[res]++
	}
	return got
}

// verify sends POST /v1/verify to s and returns "accept" or "reject".
func (rs *replicaSet) verify(t *testing.T, s *replicaServer, user, code string) string {
	t.Helper()
	res, err := rs.tryVerify(s, rs.verifier, user, code)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// tryVerify is verify for any goroutine: it returns failures as errors.
func (rs *replicaSet) tryVerify(s *replicaServer, token, user, code string) (string, error) {
	body, err := json.Marshal(map[string]string{"user": user, "code": code})
	if err != nil {
		return "", err
	}
	status, resp, err := rs.send(s, "POST", "/v1/verify", token, body)
	if err != nil {
		return "", err
	}
	var out struct {
		Result string `json:"result"`
	}
	if err := json.Unmarshal(resp, &out); status != http.StatusOK || err != nil {
		return "", fmt.Errorf("POST /v1/verify on %s = %d %s, want 200", s.name, status, resp)
	}
	return out.Result, nil
}

// call sends a JSON request (body nil for none) and returns the status and
// the response body.
func (rs *replicaSet) call(t *testing.T, s *replicaServer, method, path, token string,
	body any) (int, []byte) {
	t.Helper()
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	status, resp, err := rs.send(s, method, path, token, raw)
	if err != nil {
		t.Fatal(err)
	}
	return status, resp
}

// send is call for any goroutine.
func (rs *replicaSet) send(s *replicaServer, method, path, token string,
	body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+s.addr+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := rs.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s on %s: %w", method, path, s.name, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s on %s: %w", method, path, s.name, err)
	}
	return resp.StatusCode, out, nil
}

// replicaEvent is the part of an audit event the tests look at.
type replicaEvent struct {
	Seq     int64  `json:"seq"`
	Action  string `json:"action"`
	Outcome string `json:"outcome"`
	Reason  string `json:"reason"`
	Subject string `json:"subject"`
	Sealed  bool   `json:"sealed"`
}

// events lists every audit event matching q through the first server,
// newest first, page by page.
func (rs *replicaSet) events(t *testing.T, q url.Values) []replicaEvent {
	t.Helper()
	const page = 1000
	q = cloneValues(q)
	q.Set("limit", strconv.Itoa(page))
	var all []replicaEvent
	for {
		status, body := rs.call(t, rs.servers[0], "GET", "/v1/audit?"+q.Encode(), rs.admin, nil)
		var out struct {
			Events []replicaEvent `json:"events"`
		}
		if err := json.Unmarshal(body, &out); status != http.StatusOK || err != nil {
			t.Fatalf("GET /v1/audit?%s = %d %s, want 200", q.Encode(), status, body)
		}
		all = append(all, out.Events...)
		if len(out.Events) < page {
			return all
		}
		q.Set("before", strconv.FormatInt(out.Events[len(out.Events)-1].Seq, 10))
	}
}

// cloneValues returns a copy of q that may be changed.
func cloneValues(q url.Values) url.Values {
	c := url.Values{}
	for k, v := range q {
		c[k] = slices.Clone(v)
	}
	return c
}

func countReasons(events []replicaEvent) map[string]int {
	n := map[string]int{}
	for _, ev := range events {
		n[ev.Reason]++
	}
	return n
}

func sum(ns []int) int {
	total := 0
	for _, n := range ns {
		total += n
	}
	return total
}

// replicaServer is one `mfad serve` process.
type replicaServer struct {
	name   string
	cmd    *exec.Cmd
	stderr io.Reader
	addr   string
	addrc  chan string   // receives the address the server announces
	done   chan struct{} // closed when the process has exited
	err    error         // how it exited, once done is closed

	mu  sync.Mutex
	log strings.Builder
}

// newServer prepares a server on the set's database, logging at debug so
// that the tests see its sealer at work. The process is killed when the
// test ends, if it still runs.
func (rs *replicaSet) newServer(t *testing.T, name string) *replicaServer {
	t.Helper()
	b := &binary{t: t, path: rs.bin, data: rs.data}
	cmd := b.command(rs.flags("serve", "--http-addr", "127.0.0.1:0",
		"--log-level", "debug")...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &replicaServer{name: name, cmd: cmd, stderr: stderr,
		addrc: make(chan string, 1), done: make(chan struct{})}
	t.Cleanup(func() {
		if cmd.Process == nil {
			return
		}
		select {
		case <-s.done:
		default:
			cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

var listening = regexp.MustCompile(`mfad is listening on http://(\S+)`)

// launch starts the process and reads its log until it exits. It is safe
// to call from any goroutine.
func (s *replicaServer) launch() error {
	if err := s.cmd.Start(); err != nil {
		close(s.done)
		return err
	}
	go func() {
		// Read every line, so that the server never blocks on a full pipe.
		sc := bufio.NewScanner(s.stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				s.addrc <- m[1]
			}
		}
		io.Copy(io.Discard, s.stderr)
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	return nil
}

// waitReady waits for the server's address and then for GET /readyz to
// answer 200, which it does once the database answers.
func (s *replicaServer) waitReady(t *testing.T, client *http.Client) {
	t.Helper()
	timeout := time.After(replicaWait)
	select {
	case s.addr = <-s.addrc:
	case <-s.done:
		t.Fatalf("server %s exited: %v\n%s", s.name, s.err, s.logText())
	case <-timeout:
		t.Fatalf("server %s did not say where it listens:\n%s", s.name, s.logText())
	}
	ctx, cancel := context.WithTimeout(context.Background(), replicaWait)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, "GET", "http://"+s.addr+"/readyz", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-s.done:
			t.Fatalf("server %s exited: %v\n%s", s.name, s.err, s.logText())
		case <-ctx.Done():
			t.Fatalf("server %s not ready (last: %v):\n%s", s.name, err, s.logText())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// wait waits for the process to exit and checks it exited with status 0.
func (s *replicaServer) wait(t *testing.T) {
	t.Helper()
	select {
	case <-s.done:
		if s.err != nil {
			t.Errorf("server %s after SIGTERM: %v, want exit status 0\n%s", s.name, s.err,
				s.logText())
		}
	case <-time.After(replicaWait):
		t.Errorf("server %s did not stop on SIGTERM:\n%s", s.name, s.logText())
	}
}

// logTail returns the last n lines of the server's log.
func (s *replicaServer) logTail(n int) string {
	lines := strings.SplitAfter(s.logText(), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "")
}

func (s *replicaServer) logText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// sealings counts the times the server's sealer has chained events.
func (s *replicaServer) sealings() int {
	return strings.Count(s.logText(), `msg="audit events sealed"`)
}

// errorLines returns the lines the server logged at level error.
func (s *replicaServer) errorLines() []string {
	var lines []string
	for line := range strings.Lines(s.logText()) {
		if strings.Contains(line, "level=ERROR") {
			lines = append(lines, strings.TrimSpace(line))
		}
	}
	return lines
}
