package httpapi

import "testing"

func TestNegotiate(t *testing.T) {
	tests := []struct {
		name   string
		accept []string // header values; nil: no Accept header
		want   string   // "" when nothing is acceptable
	}{
		{name: "no header", accept: nil, want: typeJSON},
		{name: "empty header", accept: []string{""}, want: typeJSON},
		{name: "anything", accept: []string{"*/*"}, want: typeJSON},
		{name: "lone star", accept: []string{"*; q=.2"}, want: typeJSON},
		{name: "json", accept: []string{"application/json"}, want: typeJSON},
		{name: "text", accept: []string{"text/plain"}, want: typeText},
		{name: "text with charset", accept: []string{"text/plain; charset=utf-8"}, want: typeText},
		{name: "case", accept: []string{"Application/PDF"}, want: typePDF},
		{name: "pdf", accept: []string{"application/pdf"}, want: typePDF},
		{name: "any text", accept: []string{"text/*"}, want: typeText},
		{name: "any application", accept: []string{"application/*"}, want: typeJSON},
		{name: "weights", accept: []string{"application/pdf;q=0.5, text/plain;q=0.9"},
			want: typeText},
		{name: "weights over lines", accept: []string{"application/pdf", "application/json;q=0.1"},
			want: typePDF},
		{name: "tie takes the server's order", accept: []string{"application/pdf, text/plain"},
			want: typeText},
		{name: "specific beats wildcard", accept: []string{"application/*;q=0.1, application/pdf"},
			want: typePDF},
		{name: "q=0 refuses", accept: []string{"application/json;q=0, */*;q=0.5"}, want: typeText},
		{name: "browser", accept: []string{
			"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}, want: typeJSON},
		{name: "bad element left out", accept: []string{"text/plain;q=2, application/pdf"},
			want: typePDF},
		{name: "NaN weight left out", accept: []string{"application/json;q=NaN, text/plain;q=0.1"},
			want: typeText},
		{name: "image", accept: []string{"image/png"}, want: ""},
		{name: "everything refused", accept: []string{"*/*;q=0"}, want: ""},
		{name: "only bad elements", accept: []string{"text/plain;q=x"}, want: ""},
		{name: "wildcard type with subtype", accept: []string{"*/plain"}, want: ""},
		{name: "garbage", accept: []string{";;;"}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := negotiate(tt.accept, sheetTypes)
			if !ok {
				got = ""
			}
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("negotiate(%q) = %q, %v, want %q", tt.accept, got, ok, tt.want)
			}
		})
	}
}
