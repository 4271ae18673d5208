package codes

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestClean(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   string
		wantOK bool
	}{
		{name: "digits", in: "123456", want: "123456", wantOK: true},
		{name: "spaced", in: " 123 456 ", want: "123456", wantOK: true},
		{name: "dashed lower", in: "abcde-fghij", want: "ABCDEFGHIJ", wantOK: true},
		{name: "tab", in: "123\t456", want: "123456", wantOK: true},
		{name: "empty", in: "", wantOK: false},
		{name: "only separators", in: " - - ", wantOK: false},
		{name: "arabic-indic digits", in: "١٢٣٤٥٦", wantOK: false},
		{name: "fullwidth digits", in: "１２３４５６", wantOK: false},
		{name: "newline", in: "123456\n", wantOK: false},
		{name: "nul", in: "123\x00456", wantOK: false},
		{name: "too long", in: string(make([]byte, MaxInput+1)), wantOK: false},
		{name: "longest spaced", in: "1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1",
			want: "11111111111111111111111111111111", wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Clean(tt.in)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Clean(%q) = %q, %v, want %q, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		code string
		want Shape
	}{
		{"123456", Numeric},
		{"12345678", Numeric},
		{"1234567", Unknown},
		{"12345", Unknown},
		{"123456789", Unknown},
		{"12345A", Unknown},
		{"ABCDEFGHJK", Passcode},
		{"2345678923", Passcode},
		{"ABCDEFGHJKMNPQRSTUVW", Passcode},
		{"ABCDEFGHJKMNPQRSTUVWX", Passcode}, // 21 symbols: a pass
		{"ABCDEFGH", Passcode},              // 8 symbols: the shortest pass
		{"ABCDEFG", Unknown},
		{strings.Repeat("A", 48), Passcode},
		{strings.Repeat("A", 49), Unknown},
		{"ABCDEFGHIJ", Unknown}, // I is a look-alike, not in the alphabet
		{"ABCDEFGH0K", Unknown},
		{"ABCDEFGH1K", Unknown},
		{"ABCDEFGHLK", Unknown},
		{"ABCDEFGHOK", Unknown},
		{"ABCDE_GHJK", Unknown},
	}
	for _, tt := range tests {
		if got := Classify(tt.code); got != tt.want {
			t.Errorf("Classify(%q) = %v, want %v", tt.code, got, tt.want)
		}
	}
}

// TestBackupInput is the table of what people may type for the backup code
// "abcde-fghjk": case, spaces and dashes do not matter.
func TestBackupInput(t *testing.T) {
	const canonical = "ABCDEFGHJK"
	accepted := []string{
		"abcde-fghjk", "ABCDE-FGHJK", "abcdefghjk", "ABCDEFGHJK", "abcde fghjk",
		" abcde - fghjk ", "AbCdE-fGhJk", "a-b-c-d-e-f-g-h-j-k", "abcde\tfghjk", "abcde--fghjk",
	}
	for _, in := range accepted {
		got, ok := Clean(in)
		if !ok || got != canonical || Classify(got) != Passcode {
			t.Errorf("Clean(%q) = %q, %v (shape %v); want %q, a backup code", in, got, ok,
				Classify(got), canonical)
		}
	}
	refused := []string{
		"abcde_fghjk", "abcde.fghjk", "abcde/fghjk", "abcde-fghj", "abcde-fghjkm-npqrs-tuvwx",
		"abcde-fghjk\n", "ａｂｃｄｅ-ｆｇｈｊｋ", "abcdé-fghjk",
	}
	for _, in := range refused {
		if got, ok := Clean(in); ok && Classify(got) == Passcode && IsBackupLength(len(got)) {
			t.Errorf("Clean(%q) = %q, a backup code; want no backup code", in, got)
		}
	}
}

func TestDisplay(t *testing.T) {
	tests := map[string]string{
		"ABCDEFGHJK":           "abcde-fghjk",
		"ABCDEFGHJKMN":         "abcde-fghjk-mn",
		"ABCDEFGHJKMNPQRSTUVW": "abcde-fghjk-mnpqr-stuvw",
		"2345678923":           "23456-78923",
	}
	for in, want := range tests {
		if got := Display(in); got != want {
			t.Errorf("Display(%q) = %q, want %q", in, got, want)
		}
		if back, _ := Clean(want); back != in {
			t.Errorf("Clean(Display(%q)) = %q, want it back", in, back)
		}
	}
}

func TestBits(t *testing.T) {
	if got := Bits(10); got < 49.5 || got > 49.6 {
		t.Errorf("Bits(10) = %.2f, want 49.54 (10 symbols of 31)", got)
	}
	if got := Bits(11); got < 54.4 {
		t.Errorf("Bits(11) = %.2f, want at least 54.4", got)
	}
}

// TestGenerateStatistics draws a million codes: repeats must be as rare as
// chance says, every code must have the backup shape, and every symbol of the
// alphabet must turn up as often as chance says, at every position.
func TestGenerateStatistics(t *testing.T) {
	const n, length = 1_000_000, 10
	seen := make(map[string]struct{}, n)
	var counts [length][256]int
	const batch = 20
	total, repeats := 0, 0
	for total < n {
		set, err := GenerateBackup(rand.Reader, batch, length)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range set {
			total++
			if _, dup := seen[c]; dup {
				repeats++
			}
			if Classify(c) != Passcode {
				t.Fatalf("GenerateBackup made %q, which is no backup code", c)
			}
			seen[c] = struct{}{}
			for i := 0; i < length; i++ {
				counts[i][c[i]]++
			}
		}
	}
	// Among a million draws of 49.5 bits, a repeat happens by chance in about
	// one run of 1,600 (the birthday bound), so one or two are allowed; three
	// happen by chance about once in 25 billion runs, while a source of 32
	// bits would give over a hundred.
	if repeats > 2 {
		t.Errorf("%d repeated codes in %d draws; chance gives about 0.0006", repeats, total)
	}
	// A chi-squared test per position with 30 degrees of freedom: above 90
	// happens by chance about once in 15 million positions, while the modulo
	// bias that randomString avoids would score near 2,800.
	expected := float64(total) / float64(len(Alphabet))
	for pos := range length {
		chi2 := 0.0
		for _, sym := range []byte(Alphabet) {
			d := float64(counts[pos][sym]) - expected
			chi2 += d * d / expected
		}
		if chi2 > 90 {
			t.Errorf("position %d: chi-squared %.1f over %d codes; symbols not uniform", pos,
				chi2, total)
		}
		sum := 0
		for _, c := range counts[pos] {
			sum += c
		}
		if sum != total {
			t.Errorf("position %d: %d symbols outside the alphabet", pos, total-sum)
		}
	}
}

func TestGenerateBounds(t *testing.T) {
	for _, tc := range []struct{ n, length int }{{0, 10}, {10, 9}, {10, 21}} {
		if _, err := GenerateBackup(rand.Reader, tc.n, tc.length); err == nil {
			t.Errorf("GenerateBackup(%d, %d) = nil error, want one", tc.n, tc.length)
		}
	}
	set, err := GenerateBackup(rand.Reader, 20, 20)
	if err != nil || len(set) != 20 || len(set[0]) != 20 {
		t.Errorf("GenerateBackup(20, 20) = %q, %v; want 20 codes of 20", set, err)
	}
}

func TestGeneratePass(t *testing.T) {
	for _, n := range []int{8, 12, 48} {
		p, err := GeneratePass(rand.Reader, n)
		if err != nil || len(p) != n || Classify(p) != Passcode {
			t.Errorf("GeneratePass(%d) = %q, %v; want a passcode of %d", n, p, err, n)
		}
	}
	for _, n := range []int{7, 49} {
		if _, err := GeneratePass(rand.Reader, n); err == nil {
			t.Errorf("GeneratePass(%d) = nil error, want one", n)
		}
	}
	// A source whose first draw is all digits: that draw would read as an
	// authenticator code, so a second one is made.
	digits := bytes.Repeat([]byte{0}, 8)  // symbol '2' eight times
	letters := bytes.Repeat([]byte{8}, 8) // symbol 'A'
	src := io.MultiReader(bytes.NewReader(append(digits, make([]byte, 3)...)),
		bytes.NewReader(append(letters, make([]byte, 3)...)))
	if p, err := GeneratePass(src, 8); err != nil || p != "AAAAAAAA" {
		t.Errorf("GeneratePass after an all-digit draw = %q, %v; want AAAAAAAA", p, err)
	}
}

func TestGenerateRandomFails(t *testing.T) {
	_, err := GenerateBackup(iotest.ErrReader(errors.New("no entropy")), 10, 10)
	if !errors.Is(err, ErrRandom) {
		t.Errorf("GenerateBackup with a failing source = %v, want ErrRandom", err)
	}
}

// TestGenerateNoBias feeds every byte value once: only bytes below the
// largest multiple of 31 may be used, each symbol then exactly 8 times.
func TestGenerateNoBias(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	got, err := randomString(bytes.NewReader(append(all, all...)), 248)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[rune]int{}
	for _, c := range got {
		counts[c]++
	}
	for _, c := range Alphabet {
		if counts[c] != 8 {
			t.Errorf("symbol %c drawn %d times from bytes 0..255, want 8", c, counts[c])
		}
	}
}

func TestDisplayPass(t *testing.T) {
	for in, want := range map[string]string{
		"K7QM2XRT9HCP": "k7qm-2xrt-9hcp",
		"ABCDEFGH":     "abcd-efgh",
		"ABCDEFGHJ":    "abcd-efgh-j",
	} {
		if got := DisplayPass(in); got != want {
			t.Errorf("DisplayPass(%q) = %q, want %q", in, got, want)
		}
		if back, ok := Clean(want); !ok || back != in {
			t.Errorf("Clean(DisplayPass(%q)) = %q, %v; want it back", in, back, ok)
		}
	}
}
