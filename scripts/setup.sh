#!/usr/bin/env bash
# PipeScope set-up on a fresh Debian 12 machine: installs what is missing from Debian's packages,
# configures and builds (Ninja, ccache, precompiled headers), then runs the main job or the tests.
#
#   scripts/setup.sh run    # the dashboard on presets/default.json (headless CLI run without a display)
#   scripts/setup.sh test   # the whole test suite through ctest
#   scripts/setup.sh build  # install + build only
#
# Environment: BUILD_DIR (default build), PIPESCOPE_GUI=OFF to build without Qt (GPU machines),
# CMAKE_PREFIX_PATH to point at a CUDA LibTorch.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}
GUI=${PIPESCOPE_GUI:-ON}

packages=(cmake ninja-build ccache g++ pkg-config libtorch-dev nlohmann-json3-dev zlib1g-dev libgtest-dev
          libopenblas0-pthread dataset-fashion-mnist libgloo-dev libcli11-dev libgoogle-perftools-dev
          clang libclang-rt-14-dev clang-tidy)  # clang: the libFuzzer test (tests/fuzz); clang-tidy: .clang-tidy
if [ "$GUI" = ON ]; then
  packages+=(qt6-base-dev libqcustomplot-dev xvfb xauth fonts-dejavu-core)
fi

install_missing() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build() {
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPIPESCOPE_GUI="$GUI" >/dev/null
  cmake --build "$BUILD_DIR" -j "$(nproc)"
}

cmd=${1:-}
case "$cmd" in
  build)
    install_missing
    build
    ;;
  run)
    install_missing
    build
    if [ "$GUI" = ON ] && { [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; }; then
      exec "$BUILD_DIR/app/gui/pipescope" --preset presets/default.json
    fi
    echo "setup: no display: running the default preset headless (outputs in out/default)"
    exec "$BUILD_DIR/app/cli/pipescope-cli" run --preset presets/default.json --out out/default \
      --trace out/default/trace.json
    ;;
  test)
    install_missing
    build
    cd "$BUILD_DIR"
    exec ctest --output-on-failure -j "$(nproc)" --timeout 900
    ;;
  *)
    echo "usage: scripts/setup.sh run|test|build" >&2
    exit 2
    ;;
esac
