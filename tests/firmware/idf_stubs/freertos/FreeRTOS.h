/* Stand-in for ESP-IDF v5.3.1 freertos/FreeRTOS.h: the tick type and pdMS_TO_TICKS (projdefs.h), as there. */
#ifndef BENCHD_STUB_FREERTOS_H
#define BENCHD_STUB_FREERTOS_H
#include <stdint.h>

typedef uint32_t TickType_t;
#define configTICK_RATE_HZ 100 /* CONFIG_FREERTOS_HZ's default */
#define pdMS_TO_TICKS(xTimeInMs) \
    ((TickType_t)(((TickType_t)(xTimeInMs) * (TickType_t)configTICK_RATE_HZ) / (TickType_t)1000U))

#endif
