// `pipescope-cli bench simulator`: the what-if simulator's predicted throughput against the engine's
// measured one for 1, 2 and 4 stages of a preset on this machine. Torch-free interface.
#pragma once
#include <cstdio>

#include "engine/bench/benchmarks.h"

namespace ps {

// Prints predicted and measured samples/s and the relative error per stage count, then
// `simulator: max_error=X`; returns X.
double run_simulator_benchmark(const BenchOptions& opts, std::FILE* out);

}  // namespace ps
