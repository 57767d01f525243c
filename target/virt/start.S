/* Reset entry of the virtual core (QEMU virt, -bios none: the hart starts here in machine mode).
 * Stack, global pointer and TLS pointer first, then .data (copied from rom) and .bss (zeroed), then
 * main(); its return value leaves QEMU through the test device (benchd_virt_exit in platform.c). */
/* The C3 has Zicsr; binutils >= 2.38 wants it named apart from "rv32imc", for these files only. */
    .option arch, +zicsr
    .section .text.start, "ax"
    .global _start
_start:
    .option push
    .option norelax
    la gp, __global_pointer$
    .option pop
    la sp, __stack_top
    la tp, __tls_base
    la t0, benchd_trap_entry
    csrw mtvec, t0

    la t0, __data_source
    la t1, __data_start
    la t2, __data_end
1:  bgeu t1, t2, 2f
    lw t3, 0(t0)
    sw t3, 0(t1)
    addi t0, t0, 4
    addi t1, t1, 4
    j 1b

2:  la t1, __bss_start
    la t2, __bss_end
3:  bgeu t1, t2, 4f
    sw zero, 0(t1)
    addi t1, t1, 4
    j 3b

4:  call main
    tail benchd_virt_exit

/* Any trap (illegal instruction, misaligned or bad access): report it on the UART and exit failed, instead of
 * hanging until the time bound. Direct mode needs a 4-byte aligned vector. */
    .balign 4
    .global benchd_trap_entry
benchd_trap_entry:
    la sp, __stack_top
    csrr a0, mcause
    csrr a1, mepc
    csrr a2, mtval
    tail benchd_virt_trap
