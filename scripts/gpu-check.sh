#!/usr/bin/env bash
# The CUDA path on a machine with an NVIDIA GPU and a CUDA PyTorch (issue 15): builds the engine and
# the CLI (GUI off) against that PyTorch's LibTorch, runs the CUDA tests, then
# `pipescope-cli bench overhead|scaling|efficiency` on cuda, and writes the figures to one file.
#
#   scripts/gpu-check.sh [RESULTS_FILE]      default: build-gpu/gpu-check.txt
#
# Environment: PYTHON (python3), PIPESCOPE_GPU_BUILD (build-gpu), BENCH_STEPS (30), BENCH_REPEATS (2),
# JOBS (the core count). Exit status: 0 all passed, 1 a build, test or benchmark failed, 2 this
# machine cannot run the check (the message says what is missing).
set -uo pipefail

refuse() {
  echo "gpu-check: cannot run here: $*" >&2
  exit 2
}
fail() {
  echo "gpu-check: FAILED: $*" >&2
  [ -n "${RESULTS:-}" ] && echo "FAILED: $*" >>"$RESULTS"
  exit 1
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${PIPESCOPE_GPU_BUILD:-$ROOT/build-gpu}
PY=${PYTHON:-python3}
STEPS=${BENCH_STEPS:-30}
REPEATS=${BENCH_REPEATS:-2}
JOBS=${JOBS:-$(nproc)}

# 1. What the check needs: a GPU, a CUDA PyTorch that sees it, the CUDA toolkit its CMake package
#    asks for, and the build tools.
command -v nvidia-smi >/dev/null 2>&1 || refuse "no nvidia-smi (no NVIDIA driver, so no GPU to check on)"
GPUS=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ') || true
[ "${GPUS:-0}" -ge 1 ] || refuse "nvidia-smi lists no GPU"
command -v "$PY" >/dev/null 2>&1 || refuse "no $PY (set PYTHON to the interpreter that has PyTorch)"
"$PY" -c 'import torch' 2>/dev/null || refuse "$PY has no PyTorch (pip install torch, a CUDA build)"
TORCH=$("$PY" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)')
"$PY" -c 'import sys, torch; sys.exit(0 if torch.version.cuda else 1)' || refuse "PyTorch $TORCH is a CPU-only build"
"$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' ||
  refuse "PyTorch $TORCH sees no GPU (driver too old for its CUDA, or CUDA_VISIBLE_DEVICES hides them)"
PREFIX=$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')
ABI=$("$PY" -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')
[ "$ABI" = 1 ] || refuse "PyTorch $TORCH's LibTorch uses the old C++ string ABI, which the system's GoogleTest " \
  "cannot link with: use PyTorch 2.7 or later (or a cxx11-ABI LibTorch through CMAKE_PREFIX_PATH)"
for tool in cmake ninja g++; do
  command -v "$tool" >/dev/null 2>&1 || refuse "no $tool (the build needs cmake, ninja and g++)"
done
NVCC=$(command -v nvcc || true)
[ -z "$NVCC" ] && [ -x /usr/local/cuda/bin/nvcc ] && NVCC=/usr/local/cuda/bin/nvcc
[ -n "$NVCC" ] || refuse "no nvcc: LibTorch's CMake package of a CUDA build needs the CUDA toolkit (set PATH or install it)"

mkdir -p "$BUILD" || refuse "cannot create $BUILD"
RESULTS=${1:-$BUILD/gpu-check.txt}
: >"$RESULTS" || refuse "cannot write $RESULTS"
{
  echo "# PipeScope gpu-check, $(date -u '+%Y-%m-%d %H:%M UTC'), $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader | sed 's/^/gpu: /'
  echo "pytorch: $TORCH ($PREFIX)"
  echo "nvcc: $("$NVCC" --version | tail -1)"
} >>"$RESULTS"
say() { echo "$*" | tee -a "$RESULTS"; }

# 2. Build: the CUDA path must be compiled in (PIPESCOPE_WITH_CUDA), not only syntax-checked.
CUDA_ROOT=$(dirname "$(dirname "$NVCC")")
# tcmalloc where the machine has it (libgoogle-perftools-dev); glibc's malloc, tuned, where it does not.
TCMALLOC=OFF
pkg-config --exists libtcmalloc_minimal 2>/dev/null && TCMALLOC=ON
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPIPESCOPE_GUI=OFF -DPIPESCOPE_TCMALLOC="$TCMALLOC" \
  -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_CUDA_COMPILER="$NVCC" -DCUDAToolkit_ROOT="$CUDA_ROOT" \
  >"$BUILD/configure.log" 2>&1 || fail "configure (see $BUILD/configure.log)"
grep -q 'CUDA path compiled and linked' "$BUILD/configure.log" ||
  fail "the LibTorch at $PREFIX was found without CUDA (see $BUILD/configure.log)"
start=$(date +%s)
cmake --build "$BUILD" -j "$JOBS" --target pipescope-cli test_engine >"$BUILD/build.log" 2>&1 ||
  fail "build (see $BUILD/build.log)"
say "build: engine + pipescope-cli + test_engine in $(($(date +%s) - start)) s"

# 3. The CUDA tests (tests/engine/test_cuda_engine.cpp, test_device_backend.cpp) and the CUDA-refusal tests turned around.
FILTER='DeviceBackend*:CudaEngine*:NcclCuda*:AllReduceMeet*'
"$BUILD/tests/test_engine" --gtest_filter="$FILTER" >"$BUILD/cuda-tests.log" 2>&1
tests_rc=$?
grep -E '^\[  (PASSED|FAILED|SKIPPED) |^\[ +(OK|FAILED|SKIPPED) \]' "$BUILD/cuda-tests.log" | sed 's/^/test: /' >>"$RESULTS"
grep -A1 '\[ SKIPPED \]' "$BUILD/cuda-tests.log" | grep -v '^\[\|^--' | sed 's/^/skip reason: /' >>"$RESULTS" || true
say "cuda tests: $(grep -E '^\[  PASSED  \]' "$BUILD/cuda-tests.log" || echo 'not all passed') (log: $BUILD/cuda-tests.log)"

# 4. The benchmarks on cuda: the default preset where its data is installed, else the synthetic
#    transformer preset, with the device switched to cuda.
PRESET_SRC=$ROOT/presets/default.json
[ -d /usr/share/datasets/fashion-mnist ] || PRESET_SRC=$ROOT/presets/transformer-tiny.json
PRESET=$BUILD/gpu-check-cuda.json
"$PY" - "$PRESET_SRC" "$PRESET" <<'EOF' || fail "writing the cuda preset"
import json, sys
p = json.load(open(sys.argv[1]))
p["name"] = p.get("name", "preset") + "-cuda"
p["device"] = "cuda"
json.dump(p, open(sys.argv[2], "w"), indent=2)
EOF
say "bench preset: $(basename "$PRESET_SRC") on cuda, --steps $STEPS --repeats $REPEATS"
bench_rc=0
for b in overhead scaling efficiency; do
  echo "## bench $b" >>"$RESULTS"
  if ! "$BUILD/app/cli/pipescope-cli" bench "$b" --preset "$PRESET" --steps "$STEPS" --repeats "$REPEATS" \
    >>"$RESULTS" 2>&1; then
    bench_rc=1
    echo "bench $b FAILED" >>"$RESULTS"
  fi
done

echo "gpu-check: figures in $RESULTS"
cat "$RESULTS"
[ $tests_rc -eq 0 ] || fail "CUDA tests (see $BUILD/cuda-tests.log)"
[ $bench_rc -eq 0 ] || fail "a benchmark (see $RESULTS)"
exit 0
