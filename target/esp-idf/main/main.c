/* ESP32-C3 entry point: the thin platform layer around target/runner (cycle counter, console). */
#include <stdio.h>

#include "benchd_model.h"
#include "esp_cpu.h"
#include "model_runner.h"

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
    printf("benchd: model %.12s, %d test vectors (%s)\n", BENCHD_MODEL_SHA256, BENCHD_VECTOR_COUNT,
           benchd_model_mark);
    int failures = benchd_run_vectors(&platform);
    printf("benchd: done, %d failure(s)\n", failures);
}
