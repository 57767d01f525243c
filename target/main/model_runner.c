/* See model_runner.h. The model comes from an MLF archive (tvmgen_default.h and its sources); the
 * vectors and the binding of the model's input/output names come from benchd_model.h, written by
 * target/tools/gen_model_header.py at build time. */
#include "model_runner.h"

#include <stdio.h>
#include <string.h>

#include "benchd_model.h"
#include "tvmgen_default.h"

size_t benchd_top_k(const int8_t *values, size_t n, size_t k, int32_t out_index[], int32_t out_value[]) {
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
            if (!taken && (best < 0 || values[i] > values[best])) {
                best = (int32_t)i;
            }
        }
        out_index[found] = best;
        out_value[found] = values[best];
        found++;
    }
    return found;
}

int benchd_format_result(char *buf, size_t size, const char *model_sha256, uint64_t cycles,
                         const int32_t index[], const int32_t value[], size_t k, int ok, int vector) {
    int len = snprintf(buf, size, "BENCHD_RESULT {\"model_sha256\": \"%s\", \"cycles\": %llu, \"top\": [",
                       model_sha256, (unsigned long long)cycles);
    for (size_t i = 0; i < k && len > 0 && (size_t)len < size; i++) {
        len += snprintf(buf + len, size - (size_t)len, "%s[%ld, %ld]", i ? ", " : "", (long)index[i],
                        (long)value[i]);
    }
    if (len > 0 && (size_t)len < size) {
        len += snprintf(buf + len, size - (size_t)len, "], \"ok\": %s, \"vector\": %d}", ok ? "true" : "false",
                        vector);
    }
    return (len > 0 && (size_t)len < size) ? len : -1;
}

/* Static buffers: a stack this size would overflow the default ESP-IDF main task. */
static int8_t input_buf[BENCHD_INPUT_SIZE];
static int8_t output_buf[BENCHD_OUTPUT_SIZE];

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
        uint64_t start = platform->cycles();
        int32_t rc = tvmgen_default_run(&inputs, &outputs);
        uint64_t cycles = platform->cycles() - start;
        int32_t index[BENCHD_TOP_K], value[BENCHD_TOP_K];
        size_t k = benchd_top_k(output_buf, BENCHD_OUTPUT_SIZE, BENCHD_TOP_K, index, value);
        if (rc != 0) {
            failures++;
        }
        if (benchd_format_result(line, sizeof line, BENCHD_MODEL_SHA256, cycles, index, value, k, rc == 0, v) < 0) {
            snprintf(line, sizeof line, "BENCHD_RESULT {\"ok\": false, \"error\": \"line too long\", \"vector\": %d}", v);
            failures++;
        }
        platform->print(line);
    }
    return failures;
}
