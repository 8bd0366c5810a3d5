package acpi

import (
	"encoding/binary"
	"fmt"
)

// A tiny AML encoder (ACPI 6.5 §20.2, "AML Grammar Definition"): just the
// objects the DSDT needs. Each function returns the encoded bytes.

// AML opcodes (§20.2.5, §20.3).
const (
	amlZeroOp       = 0x00
	amlOneOp        = 0x01
	amlNameOp       = 0x08
	amlBytePrefix   = 0x0A
	amlWordPrefix   = 0x0B
	amlDWordPrefix  = 0x0C
	amlQWordPrefix  = 0x0E
	amlScopeOp      = 0x10
	amlBufferOp     = 0x11
	amlPackageOp    = 0x12
	amlExtOpPrefix  = 0x5B
	amlDeviceOp     = 0x82 // after amlExtOpPrefix
	amlRootChar     = '\\'
	amlNameSegBytes = 4
)

// pkgLength encodes a PkgLength (§20.2.4) for n bytes of content: the
// length counts its own encoding.
func pkgLength(n int) []byte {
	if n+1 < 1<<6 {
		return []byte{byte(n + 1)}
	}
	for extra := 1; extra <= 3; extra++ {
		total := n + 1 + extra
		if total < 1<<(4+8*extra) {
			b := []byte{byte(extra<<6) | byte(total&0xF)}
			for i := range extra {
				b = append(b, byte(total>>(4+8*i)))
			}
			return b
		}
	}
	panic(fmt.Sprintf("acpi: AML package of %d bytes is too long", n))
}

// nameString encodes a name (§20.2.2): an optional leading '\' and one
// NameSeg of up to 4 characters, padded with '_'.
func nameString(s string) []byte {
	var b []byte
	if len(s) > 0 && s[0] == amlRootChar {
		b = append(b, amlRootChar)
		s = s[1:]
	}
	if len(s) == 0 || len(s) > amlNameSegBytes {
		panic(fmt.Sprintf("acpi: AML name %q is not one NameSeg", s))
	}
	seg := []byte("____")
	copy(seg, s)
	return append(b, seg...)
}

// amlInteger encodes an integer constant in its shortest form (§20.2.3).
func amlInteger(v uint64) []byte {
	switch {
	case v == 0:
		return []byte{amlZeroOp}
	case v == 1:
		return []byte{amlOneOp}
	case v <= 0xFF:
		return []byte{amlBytePrefix, byte(v)}
	case v <= 0xFFFF:
		return binary.LittleEndian.AppendUint16([]byte{amlWordPrefix}, uint16(v))
	case v <= 0xFFFF_FFFF:
		return binary.LittleEndian.AppendUint32([]byte{amlDWordPrefix}, uint32(v))
	}
	return binary.LittleEndian.AppendUint64([]byte{amlQWordPrefix}, v)
}

// amlName encodes Name(name, obj) (§19.6.90).
func amlName(name string, obj []byte) []byte {
	b := append([]byte{amlNameOp}, nameString(name)...)
	return append(b, obj...)
}

// amlPackage encodes Package(){elems...} (§19.6.102).
func amlPackage(elems ...[]byte) []byte {
	if len(elems) > 0xFF {
		panic("acpi: AML package with more than 255 elements")
	}
	body := []byte{byte(len(elems))}
	for _, e := range elems {
		body = append(body, e...)
	}
	return append(append([]byte{amlPackageOp}, pkgLength(len(body))...), body...)
}

// amlBuffer encodes Buffer(){data} (§19.6.10).
func amlBuffer(data []byte) []byte {
	body := append(amlInteger(uint64(len(data))), data...)
	return append(append([]byte{amlBufferOp}, pkgLength(len(body))...), body...)
}

// amlScope encodes Scope(name){terms} (§19.6.122).
func amlScope(name string, terms ...[]byte) []byte {
	body := nameString(name)
	for _, t := range terms {
		body = append(body, t...)
	}
	return append(append([]byte{amlScopeOp}, pkgLength(len(body))...), body...)
}

// amlDevice encodes Device(name){terms} (§19.6.31).
func amlDevice(name string, terms ...[]byte) []byte {
	body := nameString(name)
	for _, t := range terms {
		body = append(body, t...)
	}
	return append(append([]byte{amlExtOpPrefix, amlDeviceOp}, pkgLength(len(body))...), body...)
}

// eisaID compresses a 7-character PNP ID such as "PNP0A03" into the 32-bit
// integer EisaId() produces (§19.6.35): three 5-bit letters, then four hex
// digits, stored big-endian.
func eisaID(id string) uint32 {
	if len(id) != 7 {
		panic(fmt.Sprintf("acpi: EISA ID %q is not 7 characters", id))
	}
	hex := func(c byte) uint32 {
		switch {
		case c >= '0' && c <= '9':
			return uint32(c - '0')
		case c >= 'A' && c <= 'F':
			return uint32(c-'A') + 10
		}
		panic(fmt.Sprintf("acpi: EISA ID %q: %q is not a hex digit", id, c))
	}
	l := func(c byte) uint32 { return uint32(c-'@') & 0x1F }
	be := l(id[0])<<26 | l(id[1])<<21 | l(id[2])<<16 |
		hex(id[3])<<12 | hex(id[4])<<8 | hex(id[5])<<4 | hex(id[6])
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], be)
	return binary.LittleEndian.Uint32(b[:])
}

// Resource descriptors (§6.4) for a _CRS buffer.
const (
	resIO          = 0x47 // small item 0x08, 7 bytes (§6.4.2.5)
	resIRQNoFlags  = 0x22 // small item 0x04, 2 bytes (§6.4.2.1)
	resDWordAddr   = 0x87 // large item 0x07 (§6.4.3.5.2)
	resWordAddr    = 0x88 // large item 0x08 (§6.4.3.5.3)
	resEndTag      = 0x79 // small item 0x0F, 1 byte (§6.4.2.9)
	resTypeMemory  = 0
	resTypeIO      = 1
	resTypeBus     = 2
	resFixedMinMax = 0x0C // general flags: _MIF and _MAF set, producer, positive decode
	resIOEntire    = 0x03 // I/O type-specific flags: _RNG = entire range
	resMemRW       = 0x01 // memory type-specific flags: _RW read-write, non-cacheable
)

// resWord encodes a Word Address Space Descriptor (§6.4.3.5.3) for
// [min, max] of the given resource type.
func resWord(typ, typeFlags byte, min, max uint16) []byte {
	b := []byte{resWordAddr, 13, 0, typ, resFixedMinMax, typeFlags}
	for _, v := range []uint16{0, min, max, 0, max - min + 1} { // granularity, min, max, translation, length
		b = binary.LittleEndian.AppendUint16(b, v)
	}
	return b
}

// resDWordMemory encodes a DWord Address Space Descriptor (§6.4.3.5.2) for
// memory [min, max].
func resDWordMemory(min, max uint32) []byte {
	b := []byte{resDWordAddr, 23, 0, resTypeMemory, resFixedMinMax, resMemRW}
	for _, v := range []uint32{0, min, max, 0, max - min + 1} {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

// resIOPort encodes an I/O Port Descriptor (§6.4.2.5) for n fixed ports at
// port, with 16-bit decode.
func resIOPort(port uint16, n byte) []byte {
	b := []byte{resIO, 1}
	b = binary.LittleEndian.AppendUint16(b, port)
	b = binary.LittleEndian.AppendUint16(b, port)
	return append(b, 1, n)
}

// resIRQ encodes an IRQ Descriptor without the information byte
// (§6.4.2.1): edge-triggered, active high, not shared.
func resIRQ(irq uint8) []byte {
	return binary.LittleEndian.AppendUint16([]byte{resIRQNoFlags}, 1<<irq)
}

// resEnd is the End Tag (§6.4.2.9); checksum 0 means "not checked".
func resEnd() []byte { return []byte{resEndTag, 0} }
