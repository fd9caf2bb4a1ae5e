// Engine benchmarks: each measures configurations side by side in one process (alternating, several
// repeats, medians) and ends with a line `NAME: ratio=X`. Torch-free interface.
// (`pipescope-cli bench memory` lives in the CLI: it measures child processes.)
#pragma once
#include <cstdio>
#include <string>

namespace ps {

struct BenchOptions {
  std::string preset;  // the model and data to measure ("" = presets/default.json)
  int steps = 60;      // minibatches per timed run
  int repeats = 3;
};

// name: overhead | scaling | efficiency | telemetry. Returns the ratio of the last line (throws
// InputError for unknown names).
double run_benchmark(const std::string& name, const BenchOptions& opts, std::FILE* out);

// presets/default.json of the source tree when `preset` is empty, else `preset`.
std::string bench_preset_path(const std::string& preset);

}  // namespace ps
