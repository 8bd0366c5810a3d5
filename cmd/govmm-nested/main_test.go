package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestUsageErrorsExit2BeforeAnyDownload(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"-smp", "0", "--", "true"}, "-smp 0"},
		{[]string{"-timeout", "-1s", "--", "true"}, "-timeout -1s"},
		{[]string{"-bogus"}, "-bogus"},
	} {
		var out, errb strings.Builder
		if code := run(c.args, &out, &errb); code != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%q: exit %d, stderr %q (want 2 and %q)", c.args, code, errb.String(), c.want)
		}
		if strings.Contains(errb.String(), "apt-get") || strings.Contains(errb.String(), "downloading") {
			t.Errorf("%q: a usage error fetched something: %s", c.args, errb.String())
		}
	}
}

func TestGuestEnvDropsTMPDIR(t *testing.T) {
	got := guestEnv([]string{"PATH=/bin", "TMPDIR=/host/only", "CI=true"})
	if !reflect.DeepEqual(got, []string{"PATH=/bin", "CI=true"}) {
		t.Fatalf("%q", got)
	}
}
