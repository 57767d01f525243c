/* Stand-in for ESP-IDF v5.3.1 esp_hw_support/include/esp_cpu.h: the one call main.c makes. */
#ifndef BENCHD_STUB_ESP_CPU_H
#define BENCHD_STUB_ESP_CPU_H
#include <stdint.h>

typedef uint32_t esp_cpu_cycle_count_t;

esp_cpu_cycle_count_t esp_cpu_get_cycle_count(void);

#endif
