package scaler

import "testing"

// TestAppendEscaped: label values and HELP texts are escaped as the text
// exposition format requires, or a window named by marketing with a
// quote would break the whole scrape.
func TestAppendEscaped(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		quote    bool
		want     string
	}{
		{"plain", "tf1-prime-spot", true, "tf1-prime-spot"},
		{"quote in a label value", `the "big" spot`, true, `the \"big\" spot`},
		{"quote in a HELP text", `the "big" spot`, false, `the "big" spot`},
		{"backslash and newline", "a\\b\nc", true, `a\\b\nc`},
		{"UTF-8 as is", "Noël à 20h45", true, "Noël à 20h45"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(appendEscaped(nil, tc.in, tc.quote)); got != tc.want {
				t.Errorf("appendEscaped(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
