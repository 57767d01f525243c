/* Stand-in for ESP-IDF v5.3.1 freertos/task.h: vTaskDelay, as declared there. */
#ifndef BENCHD_STUB_FREERTOS_TASK_H
#define BENCHD_STUB_FREERTOS_TASK_H
#ifndef BENCHD_STUB_FREERTOS_H
#error "include freertos/FreeRTOS.h before freertos/task.h"
#endif

void vTaskDelay(const TickType_t xTicksToDelay);

#endif
