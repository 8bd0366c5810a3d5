// Package kvm is a thin, typed layer over the Linux KVM API (/dev/kvm).
//
// It follows the kernel's object model: a System (the /dev/kvm fd) creates a
// VM, and a VM creates VCPUs. Every ioctl number is a named constant here
// (golang.org/x/sys has none for KVM), every structure mirrors its C layout in
// <linux/kvm.h>, and VCPU.Run decodes the shared kvm_run page into an Exit
// value, so callers never touch raw offsets.
//
// Reference: the kernel's Documentation/virt/kvm/api.rst.
package kvm
