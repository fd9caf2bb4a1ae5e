#include "commands.h"
#include "engine/bench/benchmarks.h"
#include "engine/util/errors.h"

namespace ps::cli {

int cmd_bench(const Args& args) {
  ArgReader r(args, "bench");
  BenchOptions opts;
  opts.preset = r.value("--preset");
  const std::string steps = r.value("--steps");
  const std::string repeats = r.value("--repeats");
  auto pos = r.positional();
  r.finish();
  if (pos.empty()) throw InputError("command line", "bench", "name a benchmark: overhead, scaling or telemetry");
  try {
    if (!steps.empty()) opts.steps = std::stoi(steps);
    if (!repeats.empty()) opts.repeats = std::stoi(repeats);
  } catch (...) {
    throw InputError("command line", "--steps/--repeats", "expected integers");
  }
  if (opts.steps < 1 || opts.repeats < 1) throw InputError("command line", "--steps/--repeats", "must be at least 1");
  for (const auto& name : pos) run_benchmark(name, opts, stdout);
  return 0;
}

}  // namespace ps::cli
