package virtio_test

import "encoding/binary"

// 9P2000.L messages built by hand from the wire format, so tests do not
// check the device against its own code. Every message is size[4] type[1]
// tag[2] then its fields, little-endian; a string is len[2] then bytes
// (9P2000 intro(5); Linux include/net/9p/9p.h for the .L types).
type wire []byte

func msg(typ uint8, tag uint16) wire {
	return wire{0, 0, 0, 0, typ, byte(tag), byte(tag >> 8)}
}

func (w wire) u8(v uint8) wire   { return append(w, v) }
func (w wire) u16(v uint16) wire { return binary.LittleEndian.AppendUint16(w, v) }
func (w wire) u32(v uint32) wire { return binary.LittleEndian.AppendUint32(w, v) }
func (w wire) u64(v uint64) wire { return binary.LittleEndian.AppendUint64(w, v) }
func (w wire) str(s string) wire { return append(w.u16(uint16(len(s))), s...) }

// done fills in size[4].
func (w wire) done() []byte {
	binary.LittleEndian.PutUint32(w, uint32(len(w)))
	return w
}

const noFID = 0xFFFFFFFF

// Tversion: type 100, msize[4] version[s].
func tversion(msize uint32) []byte { return msg(100, 0xFFFF).u32(msize).str("9P2000.L").done() }

// Tattach: type 104, fid[4] afid[4] uname[s] aname[s] n_uname[4].
func tattach(tag uint16, fid uint32) []byte {
	return msg(104, tag).u32(fid).u32(noFID).str("root").str("").u32(0).done()
}

// Twalk: type 110, fid[4] newfid[4] nwname[2] nwname*(wname[s]).
func twalk(tag uint16, fid, newfid uint32, names ...string) []byte {
	w := msg(110, tag).u32(fid).u32(newfid).u16(uint16(len(names)))
	for _, n := range names {
		w = w.str(n)
	}
	return w.done()
}

// Tlopen: type 12, fid[4] flags[4].
func tlopen(tag uint16, fid, flags uint32) []byte { return msg(12, tag).u32(fid).u32(flags).done() }

// Tread: type 116, fid[4] offset[8] count[4].
func tread(tag uint16, fid uint32, off uint64, count uint32) []byte {
	return msg(116, tag).u32(fid).u64(off).u32(count).done()
}

// Tgetattr: type 24, fid[4] request_mask[8].
func tgetattr(tag uint16, fid uint32) []byte { return msg(24, tag).u32(fid).u64(0x3FFF).done() }

// Tlcreate: type 14, fid[4] name[s] flags[4] mode[4] gid[4].
func tlcreate(tag uint16, fid uint32, name string) []byte {
	return msg(14, tag).u32(fid).str(name).u32(2).u32(0o644).u32(0).done()
}

// Tgetlock: type 54, fid[4] type[1] start[8] length[8] proc_id[4] client_id[s].
func tgetlock(tag uint16, fid uint32) []byte {
	return msg(54, tag).u32(fid).u8(0).u64(10).u64(20).u32(42).str("guest").done()
}

// reply splits an R-message header.
func reply(b []byte) (size uint32, typ uint8, tag uint16) {
	if len(b) < 7 {
		return 0, 0, 0
	}
	return binary.LittleEndian.Uint32(b), b[4], binary.LittleEndian.Uint16(b[5:])
}

// rlerror is the ecode of an Rlerror (type 7, ecode[4]), or -1.
func rlerror(b []byte) int {
	if _, typ, _ := reply(b); typ != 7 || len(b) != 11 {
		return -1
	}
	return int(binary.LittleEndian.Uint32(b[7:]))
}
