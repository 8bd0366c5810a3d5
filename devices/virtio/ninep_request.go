package virtio

import (
	"encoding/binary"
)

// ninePRequest is a chain whose T-message is with the server.
type ninePRequest struct {
	// chain is a copy of the popped chain (its descriptors copied: the
	// queue reuses its own), to write the reply into.
	chain Chain
	// guestTag is the tag the guest chose; the server sees the slot
	// number instead (see ninePConn).
	guestTag uint16
	// cost is what the request counts against ninePInFlightBytes.
	cost int
	// reply is the R-message under the guest's tag, once it arrived; or
	// ecode, a local error to answer with instead.
	reply []byte
	ecode uint32
	// xattrGet marks a Txattrwalk that reads one named attribute, and
	// xattrList one that lists them (an empty name): the device corrects
	// two answers of p9's server there (see ninePConn.reply).
	xattrGet, xattrList bool
}

// complete writes the reply into the chain and returns it. A reply larger
// than the chain's writable part becomes Rlerror EMSGSIZE.
func (r *ninePRequest) complete(q *Queue) error {
	msg := r.reply
	if msg == nil || uint64(len(msg)) > r.chain.WritableLen() {
		ecode := r.ecode
		if ecode == 0 {
			ecode = ninePEMSGSIZE
		}
		msg = ninePRlerrorMsg(r.guestTag, ecode)
	}
	return answer(q, &r.chain, msg)
}

// answer writes msg into chain c and pushes it with msg's length.
func answer(q *Queue, c *Chain, msg []byte) error {
	if err := c.WriteAt(msg, 0); err != nil {
		return err
	}
	return q.Push(c.Head, uint32(len(msg)))
}

// request takes one chain: a message the device answers itself (malformed,
// too large, not served) is answered at once; anything else goes to the
// server. A chain without room for a header and for Rlerror breaks the
// queue: no 9P answer fits it.
func (n *NineP) request(c *ninePConn, q *Queue, ch *Chain) error {
	if ch.ReadableLen() < ninePHeaderLen {
		return ErrNeedReadable
	}
	if ch.WritableLen() < ninePRlerrorLen {
		return ErrNeedWritable
	}
	hdr := n.hdr[:]
	if err := ch.ReadAt(hdr, 0); err != nil {
		return err
	}
	size := binary.LittleEndian.Uint32(hdr[0:])
	typ := hdr[4]
	tag := binary.LittleEndian.Uint16(hdr[5:])
	fail := func(ecode uint32) error { return answer(q, ch, ninePRlerrorMsg(tag, ecode)) }
	switch {
	case size < ninePHeaderLen || uint64(size) > ch.ReadableLen():
		return fail(ninePEINVAL)
	case size > c.msgLimit():
		return fail(ninePEMSGSIZE)
	}
	layout, ok := ninePLayouts[typ]
	if typ == ninePTgetlock {
		layout, ok = ninePGetlockLayout, true
	}
	if !ok {
		return fail(ninePEOPNOTSUPP)
	}
	msg := make([]byte, size)
	if err := ch.ReadAt(msg, 0); err != nil {
		return err
	}
	if !ninePBodyOK(layout, msg[ninePHeaderLen:]) {
		return fail(ninePEINVAL)
	}
	if typ == ninePTgetlock {
		r := ninePRgetlockMsg(msg)
		if uint64(len(r)) > ch.WritableLen() {
			return fail(ninePEMSGSIZE)
		}
		return answer(q, ch, r)
	}
	r := &ninePRequest{chain: *ch, guestTag: tag}
	// Txattrwalk fid[4] newfid[4] name[s]: a name reads one attribute.
	if typ == ninePTxattrwalk {
		named := binary.LittleEndian.Uint16(msg[ninePHeaderLen+8:]) > 0
		r.xattrGet, r.xattrList = named, !named
	}
	r.chain.Descs = append([]Descriptor(nil), ch.Descs...)
	r.cost = int(size) + int(min(ch.WritableLen(), ninePMaxReply))
	if !c.send(r, typ, msg) {
		// The connection broke: EIO, at once.
		return fail(ninePEIO)
	}
	return nil
}
