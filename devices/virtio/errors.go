package virtio

import "errors"

// Errors a malformed queue produces. A queue that returns one of these is
// broken: the device stops using it and asks for a reset (virtio 1.2 §2.1.2).
var (
	ErrAvailIndex       = errors.New("virtio: available index moved more than the queue size")
	ErrDescIndex        = errors.New("virtio: descriptor index out of range")
	ErrChainTooLong     = errors.New("virtio: descriptor chain longer than its table (loop?)")
	ErrDescRange        = errors.New("virtio: descriptor buffer outside guest memory")
	ErrDescWraps        = errors.New("virtio: descriptor buffer wraps the address space")
	ErrNestedIndirect   = errors.New("virtio: indirect descriptor inside an indirect table")
	ErrIndirectNext     = errors.New("virtio: indirect descriptor with NEXT set")
	ErrIndirectLen      = errors.New("virtio: indirect table length not a non-zero multiple of 16")
	ErrIndirectDisabled = errors.New("virtio: indirect descriptor without VIRTIO_F_INDIRECT_DESC")
	ErrBadQueue         = errors.New("virtio: invalid queue configuration")
	// ErrTooManySegments reports a receive chain of more buffers than
	// one readv(2) takes (IOV_MAX, 1024).
	ErrTooManySegments = errors.New("virtio: chain has more buffers than one host read takes (1024)")
	// ErrNeedWritable and ErrNeedReadable report a chain whose buffers
	// point the wrong way for the request (device-readable where the
	// device must write, or the reverse).
	ErrNeedWritable = errors.New("virtio: request needs a device-writable buffer")
	ErrNeedReadable = errors.New("virtio: request needs a device-readable buffer")
)
