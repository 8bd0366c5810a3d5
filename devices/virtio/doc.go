// Package virtio implements virtio 1.2 devices for the machine: the split
// virtqueue (§2.7), the modern PCI transport (§4.1), and the block (§5.2),
// console (§5.3) and entropy (§5.4) devices. References in comments are to
// the virtio 1.2 specification.
//
// # Structure
//
// A device model (Block, Console, RNG) implements Device: feature bits, a
// configuration space and Handle(queue). It knows nothing about PCI. PCI
// wraps one Device and owns the registers, the queues, the interrupts and
// one worker goroutine, which waits on the queues' eventfds (unix.Poll) and
// calls Handle. Queue reads descriptor chains out of guest memory through
// *memory.Memory, copying each descriptor before checking it.
//
// # Wiring (done by the machine)
//
//	bus := pci.NewBus(pciMMIOBase, pciMMIOSize)
//	disk, err := virtio.NewBlock("rootfs.img", false)
//	blk, err := virtio.NewPCI(disk, mem, msi, irqLine(gsi))   // mem *memory.Memory
//	slot, err := bus.Add(blk)                                // places BAR 0 and BAR 2
//	slot.SetInterruptLine(gsi)                               // INTx fallback
//	con := virtio.NewConsole(os.Stdout)
//	conDev, err := virtio.NewPCI(con, mem, msi, irqLine(gsi2))
//	... bus.Add(conDev), then likewise virtio.NewRNG()
//	pio.Register("pci-conf", pci.ConfigIOPort, pci.ConfigIOSize, bus.ConfigIO())
//	for _, r := range bus.MMIORegions() {
//		mmio.Register(r.Name, r.Addr, r.Size, r.Dev)
//	}
//	for _, f := range blk.Ioeventfds() {                     // after bus.Add
//		vm.IoeventFD(f.Addr, f.Len, f.FD)                    // KVM_IOEVENTFD, no datamatch
//	}
//	go copyStdin(con.Input)                                  // Input never blocks
//	... run the guest ...
//	blk.Close()                                              // stops the worker, fsyncs, closes
//
// msi is a pci.MSIController (KVM_SIGNAL_MSI); irqLine a pci.IRQLine
// (KVM_IRQ_LINE, level-triggered). Interrupts are raised from the device's
// worker goroutine, never from the vCPU loop.
//
// # Notifications
//
// Each queue has an eventfd. Bound with KVM_IOEVENTFD, a guest kick never
// leaves the kernel; when not bound (tests, or a BAR the guest moved), the
// write reaches the notify register and the transport signals the same
// eventfd, so behaviour is identical.
//
// # Errors
//
// A malformed chain (loop, index or address out of range, wrapping length,
// bad indirect table, buffers pointing the wrong way where no status can be
// returned) breaks its queue: the worker stops serving it, sets
// DEVICE_NEEDS_RESET and sends a configuration change interrupt (§2.1.2).
// Other queues keep working, and a device reset by the driver clears it
// all. A bad request that can be answered (virtio-blk with a status byte)
// gets an error status instead. Nothing a guest writes can panic the host
// or hang the worker.
//
// # Memory ordering
//
// Queue calls memory.Fence between publishing used entries and reading the
// driver's suppression fields (§2.7.7.2), and around ring index accesses.
// Kicks that go through Go code also pass an atomic counter to the worker,
// which gives the race detector the happens-before edge that the eventfd
// gives the hardware; the worker does all guest-memory work of a round
// before raising the round's interrupt.
package virtio
