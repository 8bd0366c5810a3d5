.intel_syntax noprefix
.code64
_start:
    mov eax, 1
    mov edi, 1
    lea rsi, [rip + msg]
    mov edx, msg_end - msg
    syscall
    mov eax, 169
    mov edi, 0xfee1dead
    mov esi, 672274793
    mov edx, 0x4321fedc
    syscall
1:  mov eax, 60
    mov edi, 1
    syscall
    jmp 1b
msg: .ascii "govmm-guest: hello from user space\n"
msg_end:
