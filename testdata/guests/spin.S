.intel_syntax noprefix
.code64
1:  jmp 1b
