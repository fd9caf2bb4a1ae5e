// `pipescope-cli bench memory`: peak resident memory per strategy, each strategy run in a child process.
#pragma once
#include <cstdio>
#include <string>
#include <vector>

namespace ps::cli {

struct MemoryBenchOptions {
  std::string preset;                    // "" = presets/default.json
  int steps = 60;                        // minibatches per child run
  int repeats = 3;
  int stages = 0;                        // 0 = the preset's stage count (at least 2)
  std::vector<std::string> strategies;   // empty = a default set; latest and stash are always measured
};

// Spawns this binary (`run ... --quiet --out DIR`) once per strategy and repeat, reads each child's
// ru_maxrss through wait4() and its summary.json's weight memory, prints medians, and ends with
// `memory: ratio=X` (stash's peak RSS over latest's). Returns that ratio. Throws InputError for bad
// options and std::runtime_error when a child fails.
double run_memory_benchmark(const MemoryBenchOptions& opts, std::FILE* out);

}  // namespace ps::cli
