// `pipescope-cli bench processes`: the same 2-stage pipeline as 2 threads and as 2 processes (c10d,
// Gloo on loopback), beside 1 stage and this machine's limit (2 independent 1-stage processes at once).
#pragma once
#include <cstdio>

#include "engine/bench/benchmarks.h"

namespace ps::cli {

// `bench processes` without --steps: each run's first 10 steps are its warm-up, not measured.
constexpr int kProcessesBenchSteps = 200;

// Runs every configuration as a child process of this binary (`run ... --quiet --out DIR`), in paired
// rounds; prints the ratios, the bytes and the link time per message, and ends with
// `processes: ratio=X` (2 processes over 1 stage). Returns X.
double run_processes_benchmark(const BenchOptions& opts, std::FILE* out);

}  // namespace ps::cli
