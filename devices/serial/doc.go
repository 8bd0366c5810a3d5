// Package serial emulates a National Semiconductor / TI PC16550D UART (the
// "16550A" of the PC's COM ports) as a port-I/O bus device.
//
// The package knows only the eight register offsets 0..7; the machine decides
// where they live (COM1 is I/O port 0x3f8, IRQ 4) and backs the interrupt line
// with whatever it likes (KVM_IRQ_LINE on x86).
//
// References in comments are to the PC16550D datasheet (TI literature number
// SNLS378), section 8 "Registers", Table II (register summary), Table III
// (reset configuration) and Table IV (interrupt control functions).
//
// # Modelling choices
//
// Transmission is instantaneous: a byte written to THR is handed to the
// output writer at once, so THR and the transmitter shift register are always
// empty (LSR THRE and TEMT always read 1) and the 16-byte transmit FIFO never
// holds anything.
//
// There is no notion of time. The receiver's character-timeout indication
// (IIR 0x0C) is therefore reported as soon as the FIFO holds fewer bytes than
// the trigger level and no more host input is waiting; that is what a real
// 16550 reports four character times later when the line has gone quiet.
//
// Host input (Input) is held in a bounded backlog in front of the receiver and
// moved into the receiver as room appears, like a flow-controlled line, so
// host input never overruns the receiver. Overrun (LSR OE) still happens, as
// on real hardware, when bytes arrive faster than the guest reads them in
// loopback mode.
//
// # The interrupt line and MCR OUT2
//
// On a PC the 16550's INTR pin reaches the interrupt controller through a
// tri-state buffer enabled by MCR OUT2, so real hardware only interrupts
// when the guest has set OUT2. This model follows QEMU instead and does NOT
// gate the line on OUT2: the line is high exactly when IIR bit 0 reads 0.
// Reasons: guests are developed and tested against QEMU, which ignores
// OUT2 (hw/char/serial.c, serial_update_irq); Linux's 8250 driver sets OUT2
// anyway whenever it uses interrupts, so gating buys nothing for it; simple
// guests and boot loaders that forget OUT2 would otherwise silently lose
// interrupts; and keeping "line level == IIR bit 0 clear" as an invariant
// makes the model easy to check (see FuzzUART). OUT2 is still stored and
// still loops back to DCD in loopback mode.
package serial
