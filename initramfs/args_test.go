package initramfs

import (
	"maps"
	"testing"
)

func TestParseFileArgs(t *testing.T) {
	got, err := ParseFileArgs([]string{"bin/busybox=/usr/bin/busybox", "/etc/a=b=c", "x=./rel"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"bin/busybox": "/usr/bin/busybox", "/etc/a": "b=c", "x": "./rel"}
	if !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}

	if got, err := ParseFileArgs(nil); err != nil || len(got) != 0 {
		t.Errorf("ParseFileArgs(nil) = %v, %v; want an empty map", got, err)
	}
}

func TestParseFileArgsErrors(t *testing.T) {
	tests := map[string][]string{
		`initramfs: argument "nodest" is not DEST=SRC`:                                             {"nodest"},
		`initramfs: argument "=src" is not DEST=SRC`:                                               {"=src"},
		`initramfs: argument "dest=" is not DEST=SRC`:                                              {"a=b", "dest="},
		`initramfs: argument "-init=x" looks like a flag: put flags before the DEST=SRC arguments`: {"a=b", "-init=x"},
		`initramfs: archive path "a/../../x" contains ".."`:                                        {"a/../../x=/etc/passwd"},
		`initramfs: arguments "/a/b=x" and "a//b/=y" name the same archive path "a/b"`:             {"/a/b=x", "a//b/=y"},
	}
	for want, args := range tests {
		if got, err := ParseFileArgs(args); err == nil || err.Error() != want {
			t.Errorf("ParseFileArgs(%q) = %v, %v; want error %q", args, got, err, want)
		}
	}
}
