// Engine benchmarks: each measures configurations side by side in one process (alternating, several
// repeats, medians) and ends with a line `NAME: ratio=X`. Torch-free interface.
// (`pipescope-cli bench memory` lives in the CLI: it measures child processes.)
#pragma once
#include <cstdio>
#include <string>
#include <vector>

namespace ps {

struct RunConfig;
struct PairedOptions;

struct BenchOptions {
  std::string preset;  // the model and data to measure ("" = presets/default.json; scaling: its balanced mlp)
  int steps = 60;      // minibatches per timed run
  int repeats = 3;     // at least this many pairs (rounds) of each measurement
  double budget_s = 60;  // overhead, scaling, telemetry: add rounds for up to this long (0: exactly `repeats`)
  double spread = 0.01;  // ... until every ratio's spread (relative standard error of its median) is this small
  int stages = 0;        // efficiency: devices of every run (0: the preset's, at least 2)
  std::vector<std::string> schedules;  // efficiency: the schedules to measure (empty: every pipeline schedule)
};

// Every benchmark `pipescope-cli bench` knows, `memory` (in the CLI) included.
const std::vector<std::string>& benchmark_names();

// name: overhead | scaling | efficiency | telemetry | simulator. Returns the ratio of the last line
// (throws InputError for unknown names).
double run_benchmark(const std::string& name, const BenchOptions& opts, std::FILE* out);

// The rounds of the paired measurements (engine/bench/paired.h) that --repeats, --budget and --spread ask for.
PairedOptions paired_options(const BenchOptions& opts);

// The model `bench scaling` and `bench processes` measure by default: an mlp whose two halves balance.
void use_balanced_mlp(RunConfig& cfg);

// presets/default.json of the source tree when `preset` is empty, else `preset`.
std::string bench_preset_path(const std::string& preset);

}  // namespace ps
