package guestinit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// collect decodes guest frames fed in pieces of size step.
func collect(t *testing.T, stream []byte, step int) ([]Frame, error) {
	t.Helper()
	var got []Frame
	d := Decoder{OnFrame: func(f Frame) {
		got = append(got, Frame{Type: f.Type, Payload: append([]byte(nil), f.Payload...)})
	}}
	for len(stream) > 0 {
		n := min(step, len(stream))
		if _, err := d.Write(stream[:n]); err != nil {
			return got, err
		}
		stream = stream[n:]
	}
	if d.Pending() {
		return got, io.ErrUnexpectedEOF
	}
	return got, nil
}

func TestFramesRoundTripInAnyPieces(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), MaxPayload/16)
	want := []Frame{
		{FrameReady, []byte(ProtocolVersion)},
		{FrameStdout, []byte("hello\r\n\x00\x1b[0m")},
		{FrameStderr, nil},
		{FrameStdout, big},
		{FrameError, []byte("mount failed")},
		{FrameExit, ExitPayload(7)},
	}
	var stream []byte
	for _, f := range want {
		stream = AppendFrame(stream, f.Type, f.Payload)
	}
	for _, step := range []int{1, 2, 4, 5, 6, 4096, len(stream)} {
		got, err := collect(t, stream, step)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if len(got) != len(want) {
			t.Fatalf("step %d: %d frames, want %d", step, len(got), len(want))
		}
		for i := range want {
			if got[i].Type != want[i].Type || !bytes.Equal(got[i].Payload, want[i].Payload) {
				t.Errorf("step %d frame %d: type %d, %d bytes; want type %d, %d bytes", step, i, got[i].Type, len(got[i].Payload), want[i].Type, len(want[i].Payload))
			}
		}
	}
	if c, err := ExitCode(ExitPayload(-1)); err != nil || c != -1 {
		t.Errorf("ExitCode(ExitPayload(-1)) = %d, %v", c, err)
	}
	if c, err := ExitCode(ExitPayload(255)); err != nil || c != 255 {
		t.Errorf("ExitCode(ExitPayload(255)) = %d, %v", c, err)
	}
}

func TestDecoderRefusesHostileFrames(t *testing.T) {
	hdr := func(typ byte, n uint32) []byte {
		b := []byte{typ, 0, 0, 0, 0}
		binary.LittleEndian.PutUint32(b[1:], n)
		return b
	}
	for name, stream := range map[string][]byte{
		"length over MaxPayload":  hdr(FrameStdout, MaxPayload+1),
		"length 4 GiB":            hdr(FrameStderr, 0xffffffff),
		"unknown type":            hdr(0, 0),
		"type 255":                hdr(255, 1),
		"host type from guest":    AppendFrame(nil, FrameStdin, []byte("x")),
		"stdin EOF from guest":    AppendFrame(nil, FrameStdinEOF, nil),
		"short exit status":       AppendFrame(nil, FrameExit, []byte{1, 0}),
		"good frame then garbage": append(AppendFrame(nil, FrameStdout, []byte("ok")), hdr(9, 0)...),
	} {
		d := Decoder{}
		_, err := d.Write(stream)
		if !errors.Is(err, ErrFrame) {
			t.Errorf("%s: error %v, want ErrFrame", name, err)
			continue
		}
		// The stream stays broken.
		if _, err := d.Write(AppendFrame(nil, FrameStdout, []byte("x"))); err == nil || d.Err() == nil {
			t.Errorf("%s: decoder accepted a frame after an error", name)
		}
	}
	// A huge length is refused from its header alone, before any payload.
	d := Decoder{}
	if _, err := d.Write(hdr(FrameStdout, 1<<31)); err == nil {
		t.Error("a 2 GiB frame header was accepted")
	}
	// A partial header or payload is not an error.
	d = Decoder{}
	if _, err := d.Write(AppendFrame(nil, FrameStdout, []byte("abc"))[:6]); err != nil || !d.Pending() {
		t.Errorf("partial frame: err %v, pending %v", err, d.Pending())
	}
}

func TestReadFrameHostToGuest(t *testing.T) {
	var stream []byte
	stream = AppendFrame(stream, FrameStdin, []byte("hi\n"))
	stream = AppendFrame(stream, FrameStdin, bytes.Repeat([]byte{0}, MaxPayload))
	stream = AppendFrame(stream, FrameStdinEOF, nil)
	r := bytes.NewReader(stream)
	for i, want := range []struct {
		typ byte
		n   int
	}{{FrameStdin, 3}, {FrameStdin, MaxPayload}, {FrameStdinEOF, 0}} {
		f, err := ReadFrame(r)
		if err != nil || f.Type != want.typ || len(f.Payload) != want.n {
			t.Fatalf("frame %d: %v type %d len %d", i, err, f.Type, len(f.Payload))
		}
	}
	if _, err := ReadFrame(r); err != io.EOF {
		t.Errorf("at the end: %v, want io.EOF", err)
	}
	cut := AppendFrame(nil, FrameStdin, []byte("hello"))
	for _, n := range []int{2, 7} {
		if _, err := ReadFrame(bytes.NewReader(cut[:n])); err != io.ErrUnexpectedEOF {
			t.Errorf("cut at %d: %v, want io.ErrUnexpectedEOF", n, err)
		}
	}
	for name, b := range map[string][]byte{
		"guest type":       AppendFrame(nil, FrameStdout, nil),
		"EOF with payload": {FrameStdinEOF, 1, 0, 0, 0, 'x'},
		"too long":         {FrameStdin, 0, 0, 0, 0x80},
	} {
		if _, err := ReadFrame(bytes.NewReader(b)); !errors.Is(err, ErrFrame) {
			t.Errorf("%s: %v, want ErrFrame", name, err)
		}
	}
}

func TestAppendFramePanicsOnOversizedPayload(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	AppendFrame(nil, FrameStdout, make([]byte, MaxPayload+1))
}

func FuzzDecoder(f *testing.F) {
	f.Add(AppendFrame(AppendFrame(nil, FrameReady, []byte(ProtocolVersion)), FrameExit, ExitPayload(3)), 3)
	f.Add([]byte{FrameStdout, 0xff, 0xff, 0, 0}, 1)
	f.Fuzz(func(t *testing.T, b []byte, step int) {
		if step <= 0 {
			step = 1
		}
		d := Decoder{OnFrame: func(fr Frame) {
			if len(fr.Payload) > MaxPayload {
				t.Fatalf("payload of %d bytes", len(fr.Payload))
			}
		}}
		for len(b) > 0 {
			n := min(step, len(b))
			if _, err := d.Write(b[:n]); err != nil {
				return
			}
			b = b[n:]
		}
	})
}
