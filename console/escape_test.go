package console

import "testing"

// run feeds each chunk to one escaper, as successive reads would, and renders
// the result with "<quit>" where quit requests occur.
func run(chunks ...string) string {
	var e escaper
	var res []byte
	for _, c := range chunks {
		p := []byte(c)
		for len(p) > 0 {
			out, n, quit := e.feed(nil, p)
			res = append(res, out...)
			if quit {
				res = append(res, "<quit>"...)
			}
			if n == 0 {
				panic("feed consumed nothing")
			}
			p = p[n:]
		}
	}
	return string(res)
}

func TestEscaper(t *testing.T) {
	for _, tc := range []struct {
		name   string
		chunks []string
		want   string
	}{
		{"plain", []string{"hello\r"}, "hello\r"},
		{"quit", []string{"\x01x"}, "<quit>"},
		{"quit mid-stream", []string{"ab\x01xcd"}, "ab<quit>cd"},
		{"literal ctrl-a", []string{"\x01\x01"}, "\x01"},
		{"literal ctrl-a then x", []string{"\x01\x01x"}, "\x01x"},
		{"three ctrl-a then x", []string{"\x01\x01\x01x"}, "\x01<quit>"},
		{"other key", []string{"\x01a"}, "\x01a"},
		{"capital X is not quit", []string{"\x01X"}, "\x01X"},
		{"ctrl-c passes", []string{"\x03"}, "\x03"},
		{"quit split across reads", []string{"a\x01", "xb"}, "a<quit>b"},
		{"literal split across reads", []string{"\x01", "\x01", "z"}, "\x01z"},
		{"other split across reads", []string{"\x01", "q"}, "\x01q"},
		{"trailing ctrl-a held", []string{"abc\x01"}, "abc"},
		{"two quits", []string{"\x01x\x01x"}, "<quit><quit>"},
		{"nul bytes", []string{"\x00\x01\x00"}, "\x00\x01\x00"},
	} {
		if got := run(tc.chunks...); got != tc.want {
			t.Errorf("%s: %q -> %q, want %q", tc.name, tc.chunks, got, tc.want)
		}
	}
}

func TestEscaperAppendsToDst(t *testing.T) {
	var e escaper
	out, n, quit := e.feed([]byte("pre:"), []byte("\x01yz"))
	if string(out) != "pre:\x01yz" || n != 3 || quit {
		t.Errorf("feed = %q, %d, %v", out, n, quit)
	}
}
