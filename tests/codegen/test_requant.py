"""The requantization helpers of benchd_kernels.h against the definitions they replaced, bit for bit.

The reference functions below are the previous C definitions (a literal transcription of TFLite's
SaturatingRoundingDoublingHighMul, RoundingDivideByPOT and MultiplyByQuantizedMultiplier with 64-bit
arithmetic), which the operator tests proved against the interpreter. The new ones are checked on edge
values crossed with every shift, on millions of random operands, and the fast forms on the accumulator
ranges requant.py proves them for: on the host under the sanitizers and on RV32IMC (where mulhsu/mulh
do the work) under QEMU.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from harness import HAVE_RV32, QEMU, RV_GCC, RV_LINK, RV_START, SANITIZE

from daemon.codegen.requant import INT32_MAX, INT32_MIN, accumulator_range, fast_double, fast_single

KERNELS = Path(__file__).resolve().parents[2] / "daemon" / "codegen" / "kernels"

REFERENCE = r"""
static int32_t ref_high_mul(int32_t a, int32_t b) {
    int64_t ab, nudge;
    if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
    ab = (int64_t)a * (int64_t)b;
    nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}
static int32_t ref_div_pot(int32_t x, int32_t exponent) {
    const int32_t mask = (int32_t)(((uint32_t)1 << exponent) - 1u);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}
static int32_t ref_requant(int32_t x, int32_t multiplier, int32_t shift) {
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    return ref_div_pot(ref_high_mul((int32_t)((uint32_t)x << left), multiplier), right);
}
static int32_t ref_requant_single(int32_t x, int32_t multiplier, int32_t shift) {
    const int32_t total = 31 - shift;
    const int64_t round = (int64_t)1 << (total - 1);
    return (int32_t)(((int64_t)x * multiplier + round) >> total);
}
"""

CHECKS = r"""
static uint32_t rng_state = 12345u;
static uint32_t rnd(void) {  /* xorshift32 */
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 17; rng_state ^= rng_state << 5;
    return rng_state;
}
static const int32_t EDGES[] = {INT32_MIN, INT32_MIN + 1, -1073741825, -1073741824, -1073741823, -65536,
    -32769, -32768, -257, -256, -255, -129, -128, -127, -3, -2, -1, 0, 1, 2, 3, 127, 128, 255, 256, 32767,
    32768, 65535, 1073741823, 1073741824, 1073741825, INT32_MAX - 1, INT32_MAX};
static const int32_t MULTS[] = {0, 1, 2, 3, 1073741824, 1073741825, 1073741824 + 65536, 1518500250,
    2147483646, INT32_MAX, -1, INT32_MIN, INT32_MIN + 1, -1073741824};
#define COUNT(a) ((int32_t)(sizeof(a) / sizeof((a)[0])))

static int32_t failures;
static void fail(const char *what, int32_t x, int32_t m, int32_t s, int32_t got, int32_t want) {
    if (failures++ < 10) report(what, x, m, s, got, want);
}

static void check_general(int32_t x, int32_t m, int32_t s) {
    int32_t got, want;
    got = bd_requant(x, m, s); want = ref_requant(x, m, s);
    if (got != want) fail("requant", x, m, s, got, want);
    got = bd_requant_single(x, m, s); want = ref_requant_single(x, m, s);
    if (got != want) fail("single", x, m, s, got, want);
}

static void check_fast(const int32_t *c, int32_t acc) {
    /* c: mult, shift, zp, lo, hi, double?, m2, r, k, single?, s, k1 */
    int32_t want;
    if (c[5]) {
        want = ref_requant(acc, c[0], c[1]) + c[2];
        int32_t got = bd_requant_fast(acc, (uint32_t)c[6], c[7], c[8]);
        if (got != want) fail("fast", acc, c[0], c[1], got, want);
    }
    if (c[9]) {
        want = ref_requant_single(acc, c[0], c[1]) + c[2];
        int32_t got = bd_requant_single_fast(acc, c[0], c[10], c[11]);
        if (got != want) fail("single_fast", acc, c[0], c[1], got, want);
    }
}

static int32_t in_range(const int32_t *c, int64_t v) {
    return v < c[3] ? c[3] : v > c[4] ? c[4] : (int32_t)v;
}

static int32_t run_checks(int32_t randoms, int32_t window, int32_t per_case) {
    int32_t i, j, s, n;
    for (i = 0; i < COUNT(EDGES); i++)
        for (j = 0; j < COUNT(MULTS); j++)
            for (s = -31; s <= 30; s++) check_general(EDGES[i], MULTS[j], s);
    for (i = 0; i < COUNT(EDGES); i++)
        for (s = -31; s <= 30; s++) check_general(EDGES[i], (int32_t)(rnd() >> 1) | 0x40000000, s);
    for (i = 0; i < COUNT(EDGES); i++) {
        int32_t a = EDGES[i];
        for (j = 0; j < COUNT(EDGES); j++) {
            int32_t got = bd_high_mul(a, EDGES[j]), want = ref_high_mul(a, EDGES[j]);
            if (got != want) fail("high_mul", a, EDGES[j], 0, got, want);
        }
    }
    for (n = 0; n < randoms; n++) {
        uint32_t u = rnd();
        int32_t x = (int32_t)rnd() >> (u & 31);
        int32_t m = (u & 0x300) ? (int32_t)((rnd() >> 1) | 0x40000000) : (int32_t)rnd();
        int32_t sh = (int32_t)((u >> 10) % 62) - 31;
        int32_t got = bd_high_mul(x, m), want = ref_high_mul(x, m);
        if (got != want) fail("high_mul", x, m, 0, got, want);
        check_general(x, m, sh);
    }
    for (i = 0; i < FAST_CASES; i++) {
        const int32_t *c = FAST[i];
        int64_t v;
        check_fast(c, c[3]);
        check_fast(c, c[4]);
        for (v = -window; v <= window; v++) check_fast(c, in_range(c, v));
        for (v = -window; v <= window; v += 7) {
            check_fast(c, in_range(c, (int64_t)c[3] + window + v));
            check_fast(c, in_range(c, (int64_t)c[4] - window + v));
        }
        for (n = 0; n < per_case; n++) {
            uint64_t span = (uint64_t)((int64_t)c[4] - c[3]) + 1u;
            uint64_t r64 = ((uint64_t)rnd() << 32) | rnd();
            check_fast(c, (int32_t)((int64_t)c[3] + (int64_t)(r64 % span)));
        }
    }
    return failures;
}
"""

HOST_MAIN = r"""
#include <stdio.h>
static void report(const char *what, int32_t x, int32_t m, int32_t s, int32_t got, int32_t want) {
    printf("%s x=%ld m=%ld s=%ld got=%ld want=%ld\n", what, (long)x, (long)m, (long)s, (long)got, (long)want);
}
"""

RV_MAIN = r"""
#define UART ((volatile uint8_t *)0x10000000)
static void put_str(const char *s) { while (*s) *UART = (uint8_t)*s++; }
static void put_dec(int32_t v) {
    char b[12]; int n = 0; uint32_t u = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
    if (v < 0) *UART = '-';
    do { b[n++] = (char)('0' + u % 10); u /= 10; } while (u); while (n) *UART = (uint8_t)b[--n];
}
static void report(const char *what, int32_t x, int32_t m, int32_t s, int32_t got, int32_t want) {
    put_str(what); put_str(" x="); put_dec(x); put_str(" m="); put_dec(m); put_str(" s="); put_dec(s);
    put_str(" got="); put_dec(got); put_str(" want="); put_dec(want); put_str("\n");
}
void bd_exit(int code) {
    *(volatile uint32_t *)0x100000 = code ? (((uint32_t)code << 16) | 0x3333u) : 0x5555u; for (;;) { }
}
"""


def _cases(count: int, seed: int) -> tuple[list[list[int]], int, int]:
    """Random channels (multiplier, shift, zero point, accumulator range) and their fast constants."""
    rng = np.random.default_rng(seed)
    special = [1 << 30, (1 << 30) + 1, (1 << 30) + (1 << 16), (1 << 31) - 1, 1518500250]
    rows, doubles, singles = [], 0, 0
    for i in range(count):
        mult = special[i % len(special)] if i % 3 == 0 else int(rng.integers(1 << 30, 1 << 31))
        shift = -int(rng.integers(1, 32)) if i % 5 else -int(rng.integers(1, 4))
        zp = int(rng.integers(-128, 128))
        width = 1 << int(rng.integers(4, 32))
        lo = int(rng.integers(-width, 1))
        hi = min(lo + int(rng.integers(1, 2 * width + 1)), INT32_MAX)
        lo = max(lo, INT32_MIN)
        arrays = np.array([mult]), np.array([shift]), zp, np.array([lo]), np.array([hi])
        d = fast_double(*arrays)
        s = fast_single(*arrays)
        doubles += d is not None
        singles += s is not None
        rows.append([mult, shift, zp, lo, hi, int(d is not None), *(int(a[0]) for a in (d or ([0],) * 3)),
                     int(s is not None), *(int(a[0]) for a in (s or ([0],) * 2))])
    return rows, doubles, singles


def _source(main: str, rows: list[list[int]]) -> str:
    table = ",\n".join("{" + ", ".join(f"(int32_t){v}" if v != INT32_MIN else "INT32_MIN" for v in row) + "}"
                       for row in rows)
    return "\n".join(['#include "benchd_kernels.h"', main, REFERENCE, f"#define FAST_CASES {len(rows)}",
                      f"static const int32_t FAST[{len(rows)}][12] = {{{table}}};", CHECKS])


def test_fast_constants_are_refused_where_the_sum_could_overflow() -> None:
    mult, shift = np.array([1 << 30]), np.array([-20])
    assert fast_double(mult, shift, 5, np.array([-1000]), np.array([1000])) is not None
    # the folded zero point times 2^r leaves int32, and a range beyond int32 (a wrapping accumulator)
    assert fast_double(mult, shift, 5000, np.array([-1000]), np.array([1000])) is None
    assert fast_double(mult, np.array([-2]), 0, np.array([0]), np.array([INT32_MAX + 1])) is None
    assert fast_double(mult, np.array([0]), 0, np.array([0]), np.array([10])) is None  # r = 0: general form
    assert fast_double(mult, np.array([-31]), 0, np.array([0]), np.array([INT32_MAX])) is None
    assert fast_single(mult, np.array([-1]), 0, np.array([0]), np.array([10])) is None  # needs shift <= -2
    lo, hi = accumulator_range(np.array([100, -7]), np.array([[2, -3], [0, 1]]), -128)
    assert lo.tolist() == [100 + 0 - 3 * 255, -7] and hi.tolist() == [100 + 2 * 255, -7 + 255]


def test_requant_helpers_match_the_previous_definitions_on_the_host(tmp_path: Path) -> None:
    rows, doubles, singles = _cases(600, 1)
    assert doubles > 300 and singles > 300, (doubles, singles)  # the fast forms are really exercised
    src = tmp_path / "check.c"
    src.write_text(_source(HOST_MAIN, rows) + "\nint main(void) { return run_checks(3000000, 40000, 3000) != 0; }\n")
    exe = tmp_path / "check"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", *SANITIZE, "-I", str(KERNELS),
                    str(src), "-o", str(exe)], check=True, timeout=120)
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(not HAVE_RV32, reason="riscv64-unknown-elf-gcc or qemu-system-riscv32 missing")
def test_requant_helpers_match_the_previous_definitions_on_rv32(tmp_path: Path) -> None:
    rows, _, _ = _cases(120, 2)
    main = "int main(void) { int32_t f = run_checks(100000, 3000, 300);"
    main += ' put_str(f ? "FAILED\\n" : "PASSED\\n"); bd_exit(0); return 0; }'
    (tmp_path / "check.c").write_text(_source(RV_MAIN, rows) + "\n" + main + "\n")
    (tmp_path / "start.S").write_text(RV_START)
    (tmp_path / "link.ld").write_text(RV_LINK)
    elf = tmp_path / "check.elf"
    subprocess.run([RV_GCC, "-march=rv32imc", "-mabi=ilp32", "-O2", "--specs=picolibc.specs", "-nostartfiles",
                    "-std=c99", "-Wall", "-Wextra", "-Werror", "-ffreestanding", "-T", str(tmp_path / "link.ld"),
                    "-I", str(KERNELS), str(tmp_path / "start.S"), str(tmp_path / "check.c"), "-o", str(elf)],
                   check=True, timeout=120)
    proc = subprocess.run([QEMU, "-M", "virt", "-bios", "none", "-nographic", "-kernel", str(elf)],
                          capture_output=True, text=True, timeout=600)
    assert proc.stdout.strip().endswith("PASSED"), proc.stdout[-2000:] + proc.stderr
