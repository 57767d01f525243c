/* The ESP-IDF calls main.c makes, on QEMU virt: app_main runs as main() would run it on the C3's main task,
 * printf reaches the 16550 UART, esp_cpu_get_cycle_count reads the cycle CSR, and vTaskDelay ends the run
 * through the test device after BENCHD_STUB_PASSES passes of main.c's loop (it never returns by itself). */
#include <stdint.h>
#include <stdio.h>

#include "esp_cpu.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"

#ifndef BENCHD_STUB_PASSES
#define BENCHD_STUB_PASSES 2
#endif

#define UART ((volatile uint8_t *)0x10000000u)
#define TEST_DEVICE ((volatile uint32_t *)0x100000u)

void app_main(void);

static int uart_put(char c, FILE *file) {
    (void)file;
    while ((UART[5] & 0x20) == 0) {
    }
    UART[0] = (uint8_t)c;
    return (unsigned char)c;
}

static FILE uart_stream = FDEV_SETUP_STREAM(uart_put, NULL, NULL, _FDEV_SETUP_WRITE);
FILE *const stdin = &uart_stream;
FILE *const stdout = &uart_stream;
FILE *const stderr = &uart_stream;

__attribute__((noreturn)) void benchd_virt_exit(int code) {
    *TEST_DEVICE = code == 0 ? 0x5555u : 0x3333u | ((uint32_t)(code & 0xffff) << 16);
    for (;;) {
    }
}

__attribute__((noreturn)) void _exit(int code) { benchd_virt_exit(code); }

__attribute__((noreturn)) void benchd_virt_trap(uint32_t cause, uint32_t pc, uint32_t value) {
    printf("stub: trap mcause=0x%lx mepc=0x%08lx mtval=0x%08lx\n", (unsigned long)cause, (unsigned long)pc,
           (unsigned long)value);
    benchd_virt_exit(3);
}

esp_cpu_cycle_count_t esp_cpu_get_cycle_count(void) {
    uint32_t value;
    __asm__ volatile(".option push\n.option arch, +zicsr\ncsrr %0, cycle\n.option pop" : "=r"(value));
    return value;
}

void vTaskDelay(const TickType_t xTicksToDelay) {
    static int passes;
    printf("stub: vTaskDelay(%lu)\n", (unsigned long)xTicksToDelay);
    if (++passes >= BENCHD_STUB_PASSES) {
        benchd_virt_exit(0);
    }
}

int main(void) {
    app_main();
    printf("stub: app_main returned\n");
    return 4; /* main.c's loop must not end */
}
