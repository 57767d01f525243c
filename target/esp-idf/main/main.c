/* ESP32-C3 entry point: the thin platform layer around target/runner (cycle counter, console). */
#include <stdint.h>
#include <stdio.h>

#include "benchd_model.h"
#include "esp_cpu.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "model_runner.h"

/* The results are printed again every REPEAT_MS, forever: the USB-Serial-JTAG console drops what nobody
 * reads, so a monitor that attaches late (or re-enumerates after the reset) still gets complete lines.
 * Each pass runs the vectors again; a reader takes the first complete pass ("vector" numbers them). */
#define REPEAT_MS 5000

/* benchd's simulator and humans can read which model an image carries straight from the flash. */
const char benchd_model_mark[] __attribute__((used)) = "BENCHD_MODEL_SHA256=" BENCHD_MODEL_SHA256;

/* The C3's counter is 32 bits (27 s at 160 MHz): extend it so a long run cannot wrap into nonsense. */
static uint64_t cycles(void) {
    static uint32_t last;
    static uint64_t high;
    uint32_t now = (uint32_t)esp_cpu_get_cycle_count();
    if (now < last) {
        high += 1ULL << 32;
    }
    last = now;
    return high | now;
}

static void print_line(const char *line) {
    printf("%s\n", line);
    fflush(stdout);
}

void app_main(void) {
    const benchd_platform_t platform = {.counter = cycles, .counter_name = "cycles", .print = print_line};
    for (unsigned pass = 1;; pass++) {
        printf("benchd: model %.12s, %d test vectors, pass %u (%s)\n", BENCHD_MODEL_SHA256, BENCHD_VECTOR_COUNT,
               pass, benchd_model_mark);
        int failures = benchd_run_vectors(&platform);
        printf("benchd: done, %d failure(s); again in %d ms\n", failures, REPEAT_MS);
        fflush(stdout);
        vTaskDelay(pdMS_TO_TICKS(REPEAT_MS));
    }
}
