.intel_syntax noprefix
.code64
_start:
    mov ecx, 0x11223344
    mov dx, 0x510
1:  out dx, al
    dec ecx
    jnz 1b
    mov al, 0xfe
    out 0x64, al
2:  jmp 2b
