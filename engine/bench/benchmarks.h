// Engine benchmarks: each measures two configurations side by side in one process (alternating,
// several repeats, medians) and ends with a line `NAME: ratio=X`. Torch-free interface.
#pragma once
#include <cstdio>
#include <string>

namespace ps {

struct BenchOptions {
  std::string preset;  // the model and data to measure ("" = presets/default.json)
  int steps = 60;      // minibatches per timed run
  int repeats = 3;
};

// name: overhead | scaling | telemetry. Returns the ratio (throws InputError for unknown names).
double run_benchmark(const std::string& name, const BenchOptions& opts, std::FILE* out);

}  // namespace ps
