package virtio

import "encoding/binary"

// 9P2000.L framing (Linux include/net/9p/9p.h; the 9P2000 intro(5)): every
// message is size[4] type[1] tag[2] body, little-endian, size counting
// itself.
const (
	ninePHeaderLen = 7
	// ninePRlerrorLen is Rlerror: size[4] type[1]=7 tag[2] ecode[4].
	ninePRlerrorLen = 11
	ninePNoTag      = 0xFFFF
)

// Message types the device looks at.
const (
	ninePRlerror    = 7
	ninePTxattrwalk = 30
	ninePRxattrwalk = 31
	ninePTgetlock   = 54
	ninePRgetlock   = 55
	ninePTversion   = 100
	ninePRversion   = 101
	ninePTflush     = 108
)

// Linux errno values sent in Rlerror.
const (
	ninePEIO        = 5
	ninePEINVAL     = 22
	ninePENODATA    = 61
	ninePEMSGSIZE   = 90
	ninePEOPNOTSUPP = 95
)

// ninePLayouts lists the T-messages passed to the server and their bodies,
// one character per field: 1, 2, 4, 8 fixed-size fields, s a string
// (len[2] then bytes), W nwname[2] then that many strings, P Twrite's
// count[4] then exactly count bytes. The server's decoder marks a shorter
// body overrun and answers it under NOTAG, which no chain could be matched
// to, so the device checks the layout first (see ninePBodyOK).
var ninePLayouts = map[uint8]string{
	8:   "4",          // Tstatfs fid
	12:  "44",         // Tlopen fid flags
	14:  "4s444",      // Tlcreate fid name flags mode gid
	16:  "4ss4",       // Tsymlink fid name symtgt gid
	18:  "4s4444",     // Tmknod dfid name mode major minor gid
	20:  "44s",        // Trename fid dfid name
	22:  "4",          // Treadlink fid
	24:  "48",         // Tgetattr fid request_mask
	26:  "4444488888", // Tsetattr fid valid mode uid gid size atime_sec atime_nsec mtime_sec mtime_nsec
	30:  "44s",        // Txattrwalk fid newfid name
	32:  "4s84",       // Txattrcreate fid name attr_size flags
	40:  "484",        // Treaddir fid offset count
	50:  "4",          // Tfsync fid (Linux appends datasync[4])
	52:  "414884s",    // Tlock fid type flags start length proc_id client_id
	70:  "44s",        // Tlink dfid fid name
	72:  "4s44",       // Tmkdir dfid name mode gid
	74:  "4s4s",       // Trenameat olddirfid oldname newdirfid newname
	76:  "4s4",        // Tunlinkat dirfd name flags
	100: "4s",         // Tversion msize version
	102: "4ss4",       // Tauth afid uname aname n_uname
	104: "44ss4",      // Tattach fid afid uname aname n_uname
	108: "2",          // Tflush oldtag
	110: "44W",        // Twalk fid newfid nwname nwname*(wname[s])
	116: "484",        // Tread fid offset count
	118: "48P",        // Twrite fid offset count data[count]
	120: "4",          // Tclunk fid
	122: "4",          // Tremove fid
}

// ninePGetlockLayout is Tgetlock: fid type start length proc_id client_id.
const ninePGetlockLayout = "41884s"

// ninePBodyOK reports whether body holds every field of layout.
func ninePBodyOK(layout string, body []byte) bool {
	for _, f := range []byte(layout) {
		switch f {
		case '1', '2', '4', '8':
			n := int(f - '0')
			if len(body) < n {
				return false
			}
			body = body[n:]
		case 's':
			var ok bool
			if body, ok = skipString(body); !ok {
				return false
			}
		case 'W':
			if len(body) < 2 {
				return false
			}
			n := binary.LittleEndian.Uint16(body)
			body = body[2:]
			for i := 0; i < int(n); i++ {
				var ok bool
				if body, ok = skipString(body); !ok {
					return false
				}
			}
		case 'P':
			if len(body) < 4 {
				return false
			}
			return uint64(binary.LittleEndian.Uint32(body)) == uint64(len(body)-4)
		}
	}
	return true
}

func skipString(b []byte) ([]byte, bool) {
	if len(b) < 2 {
		return nil, false
	}
	n := int(binary.LittleEndian.Uint16(b))
	if len(b)-2 < n {
		return nil, false
	}
	return b[2+n:], true
}

// ninePRlerror builds Rlerror (size[4] type[1] tag[2] ecode[4]).
func ninePRlerrorMsg(tag uint16, ecode uint32) []byte {
	b := make([]byte, ninePRlerrorLen)
	binary.LittleEndian.PutUint32(b[0:], ninePRlerrorLen)
	b[4] = ninePRlerror
	binary.LittleEndian.PutUint16(b[5:], tag)
	binary.LittleEndian.PutUint32(b[7:], ecode)
	return b
}

// ninePRgetlockMsg answers Tgetlock (t is the whole message, checked
// against ninePGetlockLayout) with Rgetlock type[1] start[8] length[8]
// proc_id[4] client_id[s]: type P9_LOCK_TYPE_UNLCK (2), the rest echoed.
// Tlock always succeeds on this server, so no lock ever conflicts; the
// Linux client checks its own table first (v9fs_file_getlock).
func ninePRgetlockMsg(t []byte) []byte {
	// start[8] length[8] proc_id[4] follow fid[4] type[1]; then
	// client_id's len[2] at 32.
	end := 34 + int(binary.LittleEndian.Uint16(t[32:]))
	rest := t[ninePHeaderLen+5 : end]
	b := make([]byte, ninePHeaderLen+1, ninePHeaderLen+1+len(rest))
	b = append(b, rest...)
	binary.LittleEndian.PutUint32(b[0:], uint32(len(b)))
	b[4] = ninePRgetlock
	copy(b[5:7], t[5:7])
	b[ninePHeaderLen] = 2
	return b
}
