#include "app/cli/bench_memory.h"
#include "app/cli/bench_processes.h"
#include "commands.h"

#include <CLI/CLI.hpp>
#include "engine/bench/benchmarks.h"
#include "engine/config/suggest.h"
#include "engine/schedule/schedule.h"
#include "engine/util/allocator.h"
#include "engine/util/errors.h"

#include <algorithm>
#include <cmath>
#include <thread>

namespace ps::cli {
namespace {

int to_int(const std::string& text, const std::string& flag) {
  std::size_t used = 0;
  int v = 0;
  try {
    v = std::stoi(text, &used);
  } catch (...) {
    used = 0;
  }
  if (used != text.size() || text.empty()) throw InputError("command line", flag, "expected an integer, got '" + text + "'");
  return v;
}

double to_number(const std::string& text, const std::string& flag) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (...) {
    used = 0;
  }
  if (used != text.size() || text.empty() || !std::isfinite(v))
    throw InputError("command line", flag, "expected a number, got '" + text + "'");
  return v;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

void declare_bench(CLI::App& command) {
  add_words(command, "NAME", "the benchmarks to run: " + join_names(benchmark_names()), true);
  add_value(command, "--preset", "FILE", "model and data (default presets/default.json; scaling: its balanced mlp)");
  add_value(command, "--steps", "N", "minibatches per timed run (default 60; processes " + std::to_string(kProcessesBenchSteps) + ")");
  add_value(command, "--repeats", "R", "at least R pairs (or repeats) of each measurement (default 3)");
  add_value(command, "--budget", "S", "overhead, scaling, telemetry: add pairs for up to S seconds (default 60; 0: exactly R)");
  add_value(command, "--spread", "X", "overhead, scaling, telemetry: stop once the ratio's spread is below X, from 6 rounds on (default 0.01)");
  add_value(command, "--strategies", "a,b,...", "memory: the strategies to measure (latest and stash always)");
  add_value(command, "--stages", "N", "memory, efficiency: stages (devices) of every run (default the preset's, at least 2)");
  add_value(command, "--schedules", "a,b,...", "efficiency: the schedules to measure (default every pipeline schedule)");
}

int cmd_bench(const CLI::App& command, const Args&) {
  const ArgValues r(command);
  BenchOptions opts;
  opts.preset = r.value("--preset");
  const std::string steps = r.value("--steps");
  const std::string repeats = r.value("--repeats");
  const std::string strategies = r.value("--strategies");
  const std::string stages = r.value("--stages");
  const std::string schedules = r.value("--schedules");
  const std::string budget = r.value("--budget");
  const std::string spread = r.value("--spread");
  const std::vector<std::string> pos = r.values("NAME");
  const auto& known = benchmark_names();
  if (pos.empty()) throw InputError("command line", "bench", "name a benchmark (known: " + join_names(known) + ")");
  for (const auto& name : pos)  // all checked before the first one runs
    if (std::find(known.begin(), known.end(), name) == known.end())
      throw InputError("command line", "bench", unknown_name_reason("benchmark", name, known));
  if (!budget.empty()) opts.budget_s = to_number(budget, "--budget");
  if (!spread.empty()) opts.spread = to_number(spread, "--spread");
  if (opts.budget_s < 0) throw InputError("command line", "--budget", "must be at least 0 seconds, got " + budget);
  if (!(opts.spread > 0)) throw InputError("command line", "--spread", "must be more than 0, got " + spread);
  if (!steps.empty()) opts.steps = to_int(steps, "--steps");
  if (!repeats.empty()) opts.repeats = to_int(repeats, "--repeats");
  if (opts.steps < 1) throw InputError("command line", "--steps", "must be at least 1, got " + steps);
  if (opts.repeats < 1) throw InputError("command line", "--repeats", "must be at least 1, got " + repeats);
  MemoryBenchOptions mem;
  mem.preset = opts.preset;
  mem.steps = opts.steps;
  mem.repeats = opts.repeats;
  mem.strategies = split_list(strategies);
  if (!stages.empty()) mem.stages = to_int(stages, "--stages");
  if (!stages.empty() && mem.stages < 2) throw InputError("command line", "--stages", "must be at least 2, got " + stages);
  opts.stages = mem.stages;
  opts.schedules = split_list(schedules);
  for (const auto& s : opts.schedules) {  // an unknown name: exit 2 naming the known ones
    try {
      schedule_info(s);
    } catch (const InputError& e) {
      throw InputError("command line", "--schedules", e.reason());
    }
  }
  for (const auto& name : pos) {
    if (name != "memory" && !strategies.empty())
      throw InputError("command line", "--strategies", "applies to `bench memory` only, not '" + name + "'");
    if (name != "memory" && name != "efficiency" && !stages.empty())
      throw InputError("command line", "--stages", "applies to `bench memory` and `bench efficiency` only, not '" + name + "'");
    if (name != "efficiency" && !schedules.empty())
      throw InputError("command line", "--schedules", "applies to `bench efficiency` only, not '" + name + "'");
  }
  // What serves malloc moves every figure (README, "The allocator"): say it beside them.
  std::printf("bench: allocator %s, %u hardware threads\n", allocator_name(), std::max(1u, std::thread::hardware_concurrency()));
  for (const auto& name : pos) {
    if (name == "memory")
      run_memory_benchmark(mem, stdout);
    else if (name == "processes") {
      BenchOptions p = opts;
      if (steps.empty()) p.steps = kProcessesBenchSteps;  // each run: its warm-up, then long enough to hold still
      run_processes_benchmark(p, stdout);
    }
    else
      run_benchmark(name, opts, stdout);
  }
  return 0;
}

}  // namespace ps::cli
