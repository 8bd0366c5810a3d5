.intel_syntax noprefix
.code16
_start:
    push cs
    pop ds
    mov si, msg - _start  # CS base is the load address, so offsets are from _start
    mov cx, msg_end - msg
    mov dx, 0x3f8
    cld
1:  lodsb
    out dx, al
    loop 1b
    mov al, 0xfe
    out 0x64, al
2:  jmp 2b
msg: .ascii "hello from real mode\n"
msg_end:
