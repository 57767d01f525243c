/* SHA-256 of a byte buffer, small and self-contained: the runner reports the hash of a large output
 * (BENCHD_RESULT "out_sha256") on platforms whose libc has no hashing at all. */
#ifndef BENCHD_SHA256_H
#define BENCHD_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define BENCHD_SHA256_BYTES 32

void benchd_sha256(const void *data, size_t size, uint8_t digest[BENCHD_SHA256_BYTES]);

/* Lower-case hex of the digest into hex (65 bytes with the terminating NUL). */
void benchd_sha256_hex(const void *data, size_t size, char hex[2 * BENCHD_SHA256_BYTES + 1]);

#endif
