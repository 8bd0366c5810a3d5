package share

import (
	"hash/fnv"
	"sync"

	"github.com/hugelgupf/p9/p9"
	"golang.org/x/sys/unix"
)

const (
	// qidInoBits is how much of the QID path an inode number may use
	// when the device's prefix goes above it (as QEMU's multidevs=remap).
	qidInoBits = 48
	// qidMaxDevs bounds the prefixes handed out: bit 63 stays clear for
	// the hashed form.
	qidMaxDevs = 1 << (63 - qidInoBits)
	// qidHashed marks a path that is a hash of (device, inode): an inode
	// number too big for 48 bits (overlayfs with xino sets high bits), or
	// too many devices.
	qidHashed = 1 << 63
)

// qidMap gives every (device, inode) a stable 64-bit QID path (9P: "the
// path is an integer unique among all files in the hierarchy"; Linux uses
// it as the inode number).
type qidMap struct {
	mu sync.Mutex
	// devs numbers the devices in the order they are seen.
	devs map[uint64]uint64
}

// path returns the QID path of (dev, ino).
func (m *qidMap) path(dev, ino uint64) uint64 {
	if ino < 1<<qidInoBits {
		m.mu.Lock()
		if m.devs == nil {
			m.devs = map[uint64]uint64{}
		}
		idx, ok := m.devs[dev]
		if !ok && len(m.devs) < qidMaxDevs {
			idx, ok = uint64(len(m.devs)), true
			m.devs[dev] = idx
		}
		m.mu.Unlock()
		if ok {
			return idx<<qidInoBits | ino
		}
	}
	h := fnv.New64a()
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[i], b[8+i] = byte(dev>>(8*i)), byte(ino>>(8*i))
	}
	h.Write(b[:])
	return qidHashed | h.Sum64()&^qidHashed
}

// qid is the QID of an inode.
func (s *Share) qid(st *unix.Stat_t) p9.QID {
	return p9.QID{Type: p9.FileMode(st.Mode).QIDType(), Path: s.qids.path(st.Dev, st.Ino)}
}

// attrValid is what attr fills in (no birth time, generation or data
// version).
var attrValid = p9.AttrMask{
	Mode: true, NLink: true, UID: true, GID: true, RDev: true,
	ATime: true, MTime: true, CTime: true, INo: true, Size: true, Blocks: true,
}

// attr converts a stat to 9P2000.L getattr fields.
func attr(st *unix.Stat_t) p9.Attr {
	return p9.Attr{
		Mode:             p9.FileMode(st.Mode),
		UID:              p9.UID(st.Uid),
		GID:              p9.GID(st.Gid),
		NLink:            p9.NLink(st.Nlink),
		RDev:             p9.Dev(st.Rdev),
		Size:             uint64(st.Size),
		BlockSize:        uint64(st.Blksize),
		Blocks:           uint64(st.Blocks),
		ATimeSeconds:     uint64(st.Atim.Sec),
		ATimeNanoSeconds: uint64(st.Atim.Nsec),
		MTimeSeconds:     uint64(st.Mtim.Sec),
		MTimeNanoSeconds: uint64(st.Mtim.Nsec),
		CTimeSeconds:     uint64(st.Ctim.Sec),
		CTimeNanoSeconds: uint64(st.Ctim.Nsec),
	}
}

// opaqueFS reports whether fd lies on a kernel pseudo file system whose
// files describe or control the host (statfs(2) f_type): such a mount
// shows as an empty directory.
func opaqueFS(fd int) bool {
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil {
		return true
	}
	switch uint32(fs.Type) {
	case unix.PROC_SUPER_MAGIC, unix.SYSFS_MAGIC, unix.DEBUGFS_MAGIC,
		unix.TRACEFS_MAGIC, unix.SECURITYFS_MAGIC, unix.CGROUP_SUPER_MAGIC,
		unix.CGROUP2_SUPER_MAGIC, unix.BPF_FS_MAGIC, unix.EFIVARFS_MAGIC,
		unix.PSTOREFS_MAGIC, unix.DEVPTS_SUPER_MAGIC, unix.BINFMTFS_MAGIC,
		unix.SELINUX_MAGIC, unix.SMACK_MAGIC, unix.NSFS_MAGIC,
		configFSMagic, fuseCtlMagic:
		return true
	}
	return false
}

// Magic numbers x/sys/unix does not name (linux/magic.h).
const (
	configFSMagic = 0x62656570
	fuseCtlMagic  = 0x65735543
)
