#!/bin/bash
# A developer's check, not a CI test: configure target/esp-idf with a real ESP-IDF source tree's own CMake, the way
# docker/espidf's benchd-build-firmware runs it, then compile the main component's sources with the exact command
# lines ESP-IDF generated (build/compile_commands.json). Needs no Espressif toolchain: Debian's
# riscv64-unknown-elf-gcc stands in (ilp32, rv32imc_zicsr_zifencei), with Debian's newlib headers
# (libnewlib-dev) in place of the newlib Espressif's toolchain carries; no .bin is linked.
#
#   IDF_PATH=/path/to/esp-idf-v5.3.1 tests/firmware/esp_idf_configure_check.sh MLF_DIR MODEL.tflite WORK_DIR
#
# IDF_PATH: a checkout of the tag with the submodules the esp32c3 configuration reads (mqtt/esp-mqtt,
# mbedtls/mbedtls, lwip/lwip, heap/tlsf, esp_phy/lib, esp_coex/lib, unity, cmock, json, protobuf-c, spiffs,
# micro-ecc). PATH must hold a Python with esp-idf-kconfig (v5.3 uses the 2.2 series).
set -euo pipefail
mlf=$(realpath "${1:?usage: $0 MLF_DIR MODEL.tflite WORK_DIR}")
model=$(realpath "${2:?model}")
work=$(realpath -m "${3:?work dir}")
here=$(cd "$(dirname "$0")" && pwd)
target=$(cd "$here/../../target" && pwd)
: "${IDF_PATH:?set IDF_PATH to an ESP-IDF source tree}"

# riscv32-esp-elf-* on PATH: Debian's tools. The link step (only CMake's compiler checks link) takes picolibc's
# rv32imc multilib, and C++ links through the C driver: Debian has no rv32 libstdc++.
tc="$work/toolchain"
mkdir -p "$tc"
cat > "$tc/gcc-wrap" <<'EOF'
#!/bin/bash
tool=riscv64-unknown-elf-${0##*riscv32-esp-elf-}
link=1
for a in "$@"; do case "$a" in -c|-S|-E|-M|-MM) link=0;; esac; done
args=() march=-march=rv32imc_zicsr_zifencei
for a in "$@"; do
  case "$a" in -march=*) march=;; esac
  if [ $link = 1 ]; then
    case "$a" in --specs=nosys.specs) a=--specs=picolibc.specs;; -march=rv32imc_zicsr_zifencei) a=-march=rv32imc;; esac
  fi
  args+=("$a")
done
[ $link = 1 ] && tool=riscv64-unknown-elf-gcc
exec "$tool" -mabi=ilp32 $march "${args[@]}"
EOF
chmod +x "$tc/gcc-wrap"
ln -sf gcc-wrap "$tc/riscv32-esp-elf-gcc"
ln -sf gcc-wrap "$tc/riscv32-esp-elf-g++"
for t in ar ranlib objcopy objdump size nm strip ld as readelf gcc-ar gcc-ranlib addr2line c++filt; do
  ln -sf "/usr/bin/riscv64-unknown-elf-$t" "$tc/riscv32-esp-elf-$t"
done
export PATH="$tc:$PATH" IDF_COMPONENT_MANAGER=0 IDF_CCACHE_ENABLE=0

# As benchd-build-firmware: target/ copied next to the output, the archive in project/mlf, the header generated.
project="$work/firmware-src" out="$work/firmware"
rm -rf "$project" "$out" && mkdir -p "$project" "$out" && cp -r "$target/." "$project/" && cp -r "$mlf" "$project/mlf"
python3 "$project/tools/gen_model_header.py" --mlf "$project/mlf" --sha256 "$(sha256sum "$model" | cut -d' ' -f1)" \
  --model "$model" --out "$project/gen/benchd_model.h"
# What `idf.py -C project -B out -D... set-target esp32c3 build` runs first (tools/idf_py_actions/tools.py).
(cd "$out" && cmake -G Ninja -DPYTHON_DEPS_CHECKED=1 -DPYTHON="$(command -v python3)" -DESP_PLATFORM=1 \
  -DIDF_TARGET=esp32c3 -DBENCHD_MLF="$project/mlf" -DBENCHD_MODEL_HEADER="$project/gen/benchd_model.h" \
  "$project/esp-idf")
echo "configured: $out/flasher_args.json"
python3 - "$out" <<'PY'
import json, shlex, subprocess, sys
gcc = "/usr/lib/gcc/riscv64-unknown-elf/12.2.0/"
newlib = ["-nostdinc", "-isystem", gcc + "include", "-isystem", "/usr/include/newlib", "-isystem", gcc + "include-fixed"]
failed = 0
for entry in json.load(open(f"{sys.argv[1]}/compile_commands.json")):
    if "__idf_main.dir" not in entry["command"]:
        continue
    argv = shlex.split(entry["command"])
    proc = subprocess.run(argv[:1] + newlib + argv[1:], cwd=entry["directory"], capture_output=True, text=True)
    generated = "/mlf/" in entry["file"]  # the archive's code may warn (its warnings stay warnings); ours may not
    status = "ok" if proc.returncode == 0 and (generated or not proc.stderr.strip()) else "FAILED"
    failed += status != "ok"
    print(f"{status}: {entry['file']}", proc.stderr.strip()[-2000:], sep="\n" if proc.stderr.strip() else "")
sys.exit(1 if failed else 0)
PY
