/* Runs the model on the test vectors built into the image and prints one BENCHD_RESULT line per run.
 *
 * Plain C99 with no ESP-IDF header: the platform (cycle counter, console) comes in through
 * benchd_platform_t, so the same file compiles with a host gcc in benchd's tests. */
#ifndef BENCHD_MODEL_RUNNER_H
#define BENCHD_MODEL_RUNNER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t (*cycles)(void);      /* a free-running cycle counter */
    void (*print)(const char *line); /* one complete line, without the newline */
} benchd_platform_t;

#define BENCHD_TOP_K 3
#define BENCHD_LINE_MAX 512

/* Index/value pairs of the k largest int8 outputs, largest first (ties: lower index first). */
size_t benchd_top_k(const int8_t *values, size_t n, size_t k, int32_t out_index[], int32_t out_value[]);

/* Formats a BENCHD_RESULT line into buf; returns the length, or -1 if it does not fit. */
int benchd_format_result(char *buf, size_t size, const char *model_sha256, uint64_t cycles,
                         const int32_t index[], const int32_t value[], size_t k, int ok, int vector);

/* Runs every built-in vector; returns the number of failed runs (0 = all passed). */
int benchd_run_vectors(const benchd_platform_t *platform);

#endif
