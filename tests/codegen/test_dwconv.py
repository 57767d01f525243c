"""DEPTHWISE_CONV_2D on both kernels, every path they have, bit-exact with TFLite's reference kernels.

Each case names the kernel and requantization form the generator must pick, so a geometry that slips
off the path it is meant to exercise fails here rather than passing on another one.
"""

from __future__ import annotations

import re
from pathlib import Path

import harness
import models_dwconv as md
import pytest
from harness import assert_bit_exact, random_inputs
from model_tools import tvm_available

from daemon.codegen import compile_c
from daemon.errors import CodegenError

pytestmark = [pytest.mark.tvm, tvm_available]

K3, GEN, M4 = "bd_depthwise_conv3x3", "bd_depthwise_conv2d", "bd_depthwise_conv_mult4"

CASES = {
    # the 3x3 kernel, stride 1 across: padded both sides, one side, none; tiny images; any stride down
    "k3_same": (K3, 1, md.depthwise((1, 7, 9, 5), (3, 3))),
    "k3_same_relu6": (K3, 1, md.depthwise((1, 6, 6, 16), (3, 3), act="RELU6", seed=1)),
    "k3_valid": (K3, 1, md.depthwise((1, 8, 9, 4), (3, 3), padding="VALID", seed=2)),
    "k3_two_wide": (K3, 1, md.depthwise((1, 5, 2, 3), (3, 3), seed=3)),
    "k3_one_high": (K3, 1, md.depthwise((1, 1, 6, 3), (3, 3), act="RELU", seed=4)),
    "k3_two_high_stride_down": (K3, 1, md.depthwise((1, 2, 5, 3), (3, 3), stride=(2, 1), seed=5)),
    "k3_per_tensor_batch2": (K3, 1, md.depthwise((2, 5, 6, 3), (3, 3), per_channel=False, seed=6)),
    "k3_stride_down3": (K3, 1, md.depthwise((1, 10, 7, 2), (3, 3), stride=(3, 1), seed=7)),
    # the 3x3 kernel, stride 2 across: odd width (padded both sides), even width (right only), VALID
    "k3_s2_odd": (K3, 1, md.depthwise((1, 9, 7, 6), (3, 3), stride=(2, 2), seed=8)),
    "k3_s2_even": (K3, 1, md.depthwise((1, 10, 8, 5), (3, 3), stride=(2, 2), act="RELU6", seed=9)),
    "k3_s2_valid": (K3, 1, md.depthwise((1, 9, 10, 3), (3, 3), stride=(2, 2), padding="VALID", seed=10)),
    "k3_s2_valid_odd": (K3, 1, md.depthwise((1, 7, 9, 3), (3, 3), stride=(1, 2), padding="VALID", seed=11)),
    "k3_s2_two_wide": (K3, 1, md.depthwise((1, 4, 2, 3), (3, 3), stride=(2, 2), seed=12)),
    # the largest right shift the 3x3 kernel's one-compare clamp takes (span = 2^31 - 1), outputs clamped
    "k3_widest_shift": (K3, 1, md.depthwise((1, 4, 5, 64), (3, 3), bias_range=2**30, out_scale_factor=16.0, out_zp=0,
                                            seed=25)),
    # general requantization: a bias beyond the fast form's proof, and a multiplier >= 1/2 (no right shift)
    "k3_huge_bias": (GEN, 0, md.depthwise((1, 6, 7, 16), (3, 3), bias_range=2**31 - 2**20,
                                          out_scale_factor=190.0, out_zp=60, seed=13)),
    "gen_big_multiplier": (GEN, 0, md.depthwise((1, 6, 7, 3), (3, 3), out_scale_factor=1 / 200, seed=14)),
    # multipliers of 4: one input channel times four (MicroKWS), three times eight with dilation, the
    # general requantization
    "m4_one_channel_x4": (M4, 1, md.depthwise((1, 13, 12, 1), (5, 4), stride=(2, 2), multiplier=4, seed=15)),
    "m4_batch2": (M4, 1, md.depthwise((2, 7, 6, 2), (3, 2), stride=(2, 2), multiplier=4, seed=28)),
    "m4_three_x8_dilated": (M4, 1, md.depthwise((1, 9, 8, 3), (3, 2), dilation=(2, 1), multiplier=8, act="RELU",
                                                seed=23)),
    "m4_general_requant": (M4, 0, md.depthwise((1, 7, 6, 2), (3, 3), stride=(1, 2), multiplier=4,
                                               out_scale_factor=1 / 200, seed=24)),
    # the general kernel: columns only (streaming wake word), dilation, multiplier 2, stride 3 across, a
    # one-pixel-wide image, a large kernel over a small image
    "gen_column": (GEN, 1, md.depthwise((1, 20, 1, 8), (5, 1), padding="VALID", seed=16)),
    "gen_column_same": (GEN, 1, md.depthwise((1, 9, 1, 5), (4, 1), act="RELU", seed=17)),
    "gen_column_batch2_stride2": (GEN, 1, md.depthwise((2, 11, 1, 3), (3, 1), stride=(2, 1), seed=26)),
    "gen_batch2": (GEN, 1, md.depthwise((2, 6, 5, 3), (2, 3), stride=(2, 1), seed=27)),
    "gen_dilated": (GEN, 1, md.depthwise((1, 12, 11, 4), (3, 3), dilation=(2, 3), seed=18)),
    "gen_multiplier2": (GEN, 1, md.depthwise((1, 7, 6, 3), (3, 3), multiplier=2, seed=19)),
    "gen_stride3": (GEN, 1, md.depthwise((1, 9, 10, 3), (3, 3), stride=(1, 3), seed=20)),
    "gen_one_wide": (GEN, 1, md.depthwise((1, 6, 1, 4), (3, 3), seed=21)),
    "gen_big_kernel": (GEN, 1, md.depthwise((1, 4, 5, 2), (5, 6), stride=(2, 2), seed=22)),
}


def _params(archive_dir: Path) -> str:
    return (archive_dir / "mlf" / "codegen" / "host" / "src" / "default_lib0.c").read_text()


@pytest.mark.parametrize("name", sorted(CASES))
def test_depthwise_is_bit_exact(name: str, host_build) -> None:  # type: ignore[no-untyped-def]
    kernel, fast, data = CASES[name]
    model, exe, io = host_build(name, data)
    source = _params(exe.parent)
    assert f"{kernel}(&op0_params" in source
    assert re.search(rf"\.fast = {fast}\b", source)
    assert_bit_exact(model, exe, io, random_inputs(io))


@pytest.mark.skipif(not harness.HAVE_RV32, reason="needs riscv64-unknown-elf-gcc, picolibc and qemu-system-riscv32")
@pytest.mark.parametrize("name", sorted(CASES))
def test_depthwise_is_bit_exact_on_rv32imc(name: str, tmp_path: Path) -> None:
    model = tmp_path / f"{name}.tflite"
    model.write_bytes(CASES[name][2])
    harness.assert_bit_exact_rv32(model, tmp_path)


def test_a_filter_that_fits_no_depth_multiplier_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "bad.tflite"
    model.write_bytes(md.mismatched_filter())
    with pytest.raises(CodegenError, match=r"operator 0 \(DEPTHWISE_CONV_2D\).*does not fit 3 input channels"):
        compile_c(model, tmp_path / "out.tar")
