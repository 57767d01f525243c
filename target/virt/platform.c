/* The virtual ESP32-C3 platform (QEMU `virt`, bare metal): console on the 16550 UART, retired
 * instructions as the runner's counter, and the exit code through the SiFive test device, so the host
 * sees pass/fail as QEMU's own exit status. */
#include <stdint.h>
#include <stdio.h>

#include "benchd_model.h"
#include "model_runner.h"

#define UART_BASE 0x10000000u
#define UART_THR 0 /* transmit holding register */
#define UART_LSR 5 /* line status register */
#define UART_LSR_THRE 0x20
#define TEST_DEVICE ((volatile uint32_t *)0x100000u)
#define TEST_PASS 0x5555u
#define TEST_FAIL 0x3333u /* | exit code << 16 */

/* benchd's simulator and humans can tell which model and platform an image carries from its bytes. */
const char benchd_model_mark[] __attribute__((used)) = "BENCHD_MODEL_SHA256=" BENCHD_MODEL_SHA256;
const char benchd_platform_mark[] __attribute__((used)) = "BENCHD_PLATFORM=virt";

static void uart_putc(char c) {
    volatile uint8_t *uart = (volatile uint8_t *)UART_BASE;
    while ((uart[UART_LSR] & UART_LSR_THRE) == 0) {
    }
    uart[UART_THR] = (uint8_t)c;
}

static int stdout_put(char c, FILE *file) {
    (void)file;
    uart_putc(c);
    return (unsigned char)c;
}

/* picolibc's stdio writes through these: printf in a TVM runtime or in abort() reaches the UART. */
static FILE uart_stream = FDEV_SETUP_STREAM(stdout_put, NULL, NULL, _FDEV_SETUP_WRITE);
FILE *const stdin = &uart_stream;
FILE *const stdout = &uart_stream;
FILE *const stderr = &uart_stream;

__attribute__((noreturn)) void benchd_virt_exit(int code) {
    *TEST_DEVICE = code == 0 ? TEST_PASS : TEST_FAIL | ((uint32_t)(code & 0xffff) << 16);
    for (;;) {
    }
}

/* picolibc's exit() and abort() end here. */
__attribute__((noreturn)) void _exit(int code) { benchd_virt_exit(code); }

__attribute__((noreturn)) void benchd_virt_trap(uint32_t cause, uint32_t pc, uint32_t value) {
    printf("benchd: trap mcause=0x%lx mepc=0x%08lx mtval=0x%08lx\n", (unsigned long)cause, (unsigned long)pc,
           (unsigned long)value);
    benchd_virt_exit(3);
}

/* binutils >= 2.38 wants Zicsr named apart from "rv32imc" (the C3 has it): enabled for these reads only. */
#define CSR_READ(name, var) \
    __asm__ volatile(".option push\n.option arch, +zicsr\ncsrr %0, " name "\n.option pop" : "=r"(var))

/* RV32 reads a 64-bit counter in two halves; re-read if the low half wrapped in between. */
#define READ_COUNTER64(lo, hi)                                                    \
    do {                                                                          \
        uint32_t high, low, again;                                                \
        do {                                                                      \
            CSR_READ(hi, high);                                                   \
            CSR_READ(lo, low);                                                    \
            CSR_READ(hi, again);                                                  \
        } while (high != again);                                                  \
        return ((uint64_t)high << 32) | low;                                      \
    } while (0)

/* Retired instructions: QEMU counts them exactly when run with -icount shift=0. */
static uint64_t instructions(void) { READ_COUNTER64("instret", "instreth"); }

/* Cycles on QEMU are not the C3's: exported for completeness, not reported. */
uint64_t benchd_virt_cycles(void) { READ_COUNTER64("cycle", "cycleh"); }

static void print_line(const char *line) {
    for (const char *c = line; *c; c++) {
        uart_putc(*c);
    }
    uart_putc('\n');
}

int main(void) {
    const benchd_platform_t platform = {.counter = instructions, .counter_name = "instructions",
                                        .print = print_line};
    printf("benchd: virt, model %.12s, %d test vectors\n", BENCHD_MODEL_SHA256, BENCHD_VECTOR_COUNT);
    int failures = benchd_run_vectors(&platform);
    printf("benchd: done, %d failure(s)\n", failures);
    return failures == 0 ? 0 : 2; /* 2: an inference failed (daemon/virtcore/qemu.py) */
}
