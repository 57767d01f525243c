/* See model_runner.h. The model comes from an MLF archive (tvmgen_default.h and its sources); the
 * vectors and the binding of the model's input/output names come from benchd_model.h, written by
 * target/tools/gen_model_header.py at build time. */
#include "model_runner.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "benchd_model.h"
#include "sha256.h"
#include "tvmgen_default.h"

/* Headers generated before element types were written: int8 input and output. */
#ifndef BENCHD_INPUT_TYPE
#define BENCHD_INPUT_TYPE int8_t
#define BENCHD_OUTPUT_TYPE int8_t
#define BENCHD_OUTPUT_FLOAT 0
#endif

static int32_t score_int8(const void *values, size_t i) {
    return ((const int8_t *)values)[i];
}

size_t benchd_top_k(const int8_t *values, size_t n, size_t k, int32_t out_index[], int32_t out_value[]) {
    return benchd_top_k_by(values, score_int8, n, k, out_index, out_value);
}

size_t benchd_top_k_by(const void *values, benchd_score_fn score, size_t n, size_t k, int32_t out_index[],
                       int32_t out_value[]) {
    size_t found = 0;
    if (k > n) {
        k = n;
    }
    for (size_t slot = 0; slot < k; slot++) {
        int32_t best = -1;
        for (size_t i = 0; i < n; i++) {
            int taken = 0;
            for (size_t j = 0; j < found; j++) {
                if (out_index[j] == (int32_t)i) {
                    taken = 1;
                    break;
                }
            }
            if (!taken && (best < 0 || score(values, i) > score(values, (size_t)best))) {
                best = (int32_t)i;
            }
        }
        out_index[found] = best;
        out_value[found] = score(values, (size_t)best);
        found++;
    }
    return found;
}

/* Appends to a line being built; once it has overflowed, *len stays -1. */
static void append(char *buf, size_t size, int *len, const char *fmt, ...) {
    if (*len < 0) {
        return;
    }
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(buf + *len, size - (size_t)*len, fmt, args);
    va_end(args);
    *len = (n < 0 || (size_t)(*len + n) >= size) ? -1 : *len + n;
}

int benchd_format_result(char *buf, size_t size, const benchd_result_t *r) {
    int len = 0;
    if (size == 0) {
        return -1;
    }
    buf[0] = '\0';
    append(buf, size, &len, "BENCHD_RESULT {\"v\": 2, \"model_sha256\": \"%s\", \"%s\": %llu, \"top\": [",
           r->model_sha256, r->counter_name, (unsigned long long)r->count);
    for (size_t i = 0; i < r->top_k; i++) {
        append(buf, size, &len, "%s[%ld, %ld]", i ? ", " : "", (long)r->top_index[i], (long)r->top_value[i]);
    }
    if (r->out_size <= BENCHD_OUT_INLINE_MAX) {
        append(buf, size, &len, "], \"out\": [");
        for (size_t i = 0; i < r->out_size; i++) {
            append(buf, size, &len, "%s%d", i ? ", " : "", (int)r->out[i]);
        }
        append(buf, size, &len, "]");
    } else {
        char hex[2 * BENCHD_SHA256_BYTES + 1];
        benchd_sha256_hex(r->out, r->out_size, hex);
        append(buf, size, &len, "], \"out_sha256\": \"%s\"", hex);
    }
    append(buf, size, &len, ", \"ok\": %s, \"vector\": %d}", r->ok ? "true" : "false", r->vector);
    return len;
}

/* Static buffers: a stack this size would overflow the default ESP-IDF main task. Typed, so that int16 and
 * float data are aligned (the C3 traps on misaligned loads). */
static BENCHD_INPUT_TYPE input_buf[BENCHD_INPUT_SIZE / sizeof(BENCHD_INPUT_TYPE)];
static BENCHD_OUTPUT_TYPE output_buf[BENCHD_OUTPUT_SIZE / sizeof(BENCHD_OUTPUT_TYPE)];
#define OUTPUT_COUNT (BENCHD_OUTPUT_SIZE / sizeof(BENCHD_OUTPUT_TYPE))

/* The value "top" ranks and reports: the output's own for integers, millionths for float (see model_runner.h). */
static int32_t score_output(const void *values, size_t i) {
#if BENCHD_OUTPUT_FLOAT
    const float v = (float)((const BENCHD_OUTPUT_TYPE *)values)[i] * 1e6f;
    if (v != v) {
        return 0;
    }
    if (v >= 2147483520.0f) {
        return INT32_MAX;
    }
    if (v <= -2147483648.0f) {
        return INT32_MIN;
    }
    return (int32_t)(v + (v >= 0.0f ? 0.5f : -0.5f));
#else
    return (int32_t)((const BENCHD_OUTPUT_TYPE *)values)[i];
#endif
}

int benchd_run_vectors(const benchd_platform_t *platform) {
    char line[BENCHD_LINE_MAX];
    int failures = 0;
    for (int v = 0; v < BENCHD_VECTOR_COUNT; v++) {
        struct tvmgen_default_inputs inputs;
        struct tvmgen_default_outputs outputs;
        memset(&inputs, 0, sizeof inputs);
        memset(&outputs, 0, sizeof outputs);
        memcpy(input_buf, benchd_vectors[v], BENCHD_INPUT_SIZE);
        BENCHD_SET_INPUTS(inputs, input_buf);
        BENCHD_SET_OUTPUTS(outputs, output_buf);
        uint64_t start = platform->counter();
        int32_t rc = tvmgen_default_run(&inputs, &outputs);
        uint64_t count = platform->counter() - start;
        int32_t index[BENCHD_TOP_K], value[BENCHD_TOP_K];
        size_t k = benchd_top_k_by(output_buf, score_output, OUTPUT_COUNT, BENCHD_TOP_K, index, value);
        if (rc != 0) {
            failures++;
        }
        const benchd_result_t result = {
            .model_sha256 = BENCHD_MODEL_SHA256, .counter_name = platform->counter_name, .count = count,
            .top_index = index, .top_value = value, .top_k = k, .out = (const int8_t *)(const void *)output_buf,
            .out_size = BENCHD_OUTPUT_SIZE, .ok = rc == 0, .vector = v};
        if (benchd_format_result(line, sizeof line, &result) < 0) {
            snprintf(line, sizeof line, "BENCHD_RESULT {\"v\": 2, \"ok\": false, \"error\": \"line too long\", "
                     "\"vector\": %d}", v);
            failures++;
        }
        platform->print(line);
    }
    return failures;
}
