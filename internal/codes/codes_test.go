package codes

import "testing"

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
		{"ABCDEFGHIJ", Unknown},
	}
	for _, tt := range tests {
		if got := Classify(tt.code); got != tt.want {
			t.Errorf("Classify(%q) = %v, want %v", tt.code, got, tt.want)
		}
	}
}
