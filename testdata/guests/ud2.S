.intel_syntax noprefix
.code64
    ud2
