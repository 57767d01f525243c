/* Runs the model on the test vectors built into the image and prints one BENCHD_RESULT line per run.
 *
 * Plain C99 with no platform header: the platform (counter, console) comes in through benchd_platform_t,
 * so the same file compiles for ESP-IDF (target/esp-idf), bare-metal QEMU virt (target/virt) and, in
 * benchd's tests, the host. */
#ifndef BENCHD_MODEL_RUNNER_H
#define BENCHD_MODEL_RUNNER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t (*counter)(void);       /* free-running: cycles on a board, retired instructions on virt */
    const char *counter_name;        /* the result line's key for it: "cycles" or "instructions" */
    void (*print)(const char *line); /* one complete line, without the newline */
} benchd_platform_t;

#define BENCHD_TOP_K 3
#define BENCHD_OUT_INLINE_MAX 64 /* larger outputs are reported as their sha256 */
#define BENCHD_LINE_MAX 1024     /* 64 inline values of up to 6 characters fit with room to spare */

/* One inference, as the BENCHD_RESULT line (version 2, ARCHITECTURE.md section 7) reports it.
 * "out" is the output's bytes, each as a signed byte: an int8 output's values; an int16 or float32 output is
 * reported byte for byte (little-endian), so benchd compares it exactly. "top" ranks the output's values: an
 * int8/int16 output's values, a float32 output's in millionths (rounded, saturated to int32). */
typedef struct {
    const char *model_sha256;
    const char *counter_name;
    uint64_t count;
    const int32_t *top_index;
    const int32_t *top_value;
    size_t top_k;
    const int8_t *out;      /* the output's bytes */
    size_t out_size;        /* in bytes */
    int ok;
    int vector;
} benchd_result_t;

/* Index/value pairs of the k largest int8 outputs, largest first (ties: lower index first). */
size_t benchd_top_k(const int8_t *values, size_t n, size_t k, int32_t out_index[], int32_t out_value[]);

/* The same over any element type: score(values, i) is the value ranked and reported for element i. */
typedef int32_t (*benchd_score_fn)(const void *values, size_t i);
size_t benchd_top_k_by(const void *values, benchd_score_fn score, size_t n, size_t k, int32_t out_index[],
                       int32_t out_value[]);

/* Formats a BENCHD_RESULT line into buf; returns the length, or -1 if it does not fit. */
int benchd_format_result(char *buf, size_t size, const benchd_result_t *result);

/* Runs every built-in vector; returns the number of failed runs (0 = all passed). */
int benchd_run_vectors(const benchd_platform_t *platform);

#endif
