.intel_syntax noprefix
.code64
    cli
1:  hlt
    jmp 1b
