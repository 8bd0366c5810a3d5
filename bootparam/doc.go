// Package bootparam implements the guest-side data formats of the Linux x86
// boot protocols as pure functions: parsing a bzImage setup header and
// building struct boot_params (the "zero page") for the 64-bit boot protocol,
// and parsing an uncompressed ELF vmlinux and building struct hvm_start_info
// for the PVH entry point.
//
// The package never touches guest memory and hard-codes no guest addresses
// except values the specifications themselves fix; the machine package
// chooses where everything goes and passes the addresses in.
//
// References:
//   - Documentation/x86/boot.rst (boot protocol 2.15)
//   - arch/x86/include/uapi/asm/bootparam.h (struct boot_params,
//     struct setup_header, struct boot_e820_entry)
//   - include/xen/interface/hvm/start_info.h (struct hvm_start_info)
//   - include/xen/interface/elfnote.h (XEN_ELFNOTE_PHYS32_ENTRY)
package bootparam
