// `pipescope-cli bench memory`. Peak RSS is process-wide (the data set, LibTorch's allocator caches and
// every stage's threads share it), so each strategy runs alone in a child process: this very binary
// (/proc/self/exe) with `run --preset P --strategy S --schedule 1f1b-async ... --quiet --out DIR`. wait4()
// returns the child's ru_maxrss; the child's summary.json gives the weight memory the strategy held
// per stage (weight_copies_max, weight_bytes_max), which is what the papers' memory claims are about.
#include "app/cli/bench_memory.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "app/cli/child_process.h"
#include "engine/bench/benchmarks.h"
#include "engine/config/run_config.h"
#include "engine/strategy/strategy_info.h"
#include "engine/telemetry/outputs.h"
#include "engine/util/errors.h"

namespace ps::cli {
namespace {

namespace fs = std::filesystem;

std::string bytes_text(std::int64_t bytes) {
  char buf[64];
  if (bytes >= (1 << 20))
    std::snprintf(buf, sizeof buf, "%.2f MiB", double(bytes) / (1024.0 * 1024.0));
  else
    std::snprintf(buf, sizeof buf, "%.1f KiB", double(bytes) / 1024.0);
  return buf;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

struct StrategyResult {
  std::vector<double> rss;
  std::vector<int> copies;          // per stage, from the last repeat (deterministic)
  std::int64_t weight_bytes = 0;    // all stages together
  std::string status;
};

}  // namespace

double run_memory_benchmark(const MemoryBenchOptions& opts, std::FILE* out) {
  const std::string preset = bench_preset_path(opts.preset);
  const RunConfig cfg = load_preset(preset);  // bad presets fail here, with exit code 2
  const int stages = opts.stages > 0 ? opts.stages : std::max(2, cfg.num_stages());
  std::vector<std::string> strategies = {"latest", "stash"};
  const std::vector<std::string> fallback = {"vertical-sync", "v-timeprest", "i-timeprest", "spectrain", "pipemare"};
  for (const auto& s : opts.strategies.empty() ? fallback : opts.strategies)
    if (std::find(strategies.begin(), strategies.end(), s) == strategies.end()) strategies.push_back(s);
  for (const auto& s : strategies) resolve_strategy_params(StrategyConfig{s, {}}, "1f1b-async", "command line");

  const std::string exe = self_exe("bench memory");
  const fs::path dir = fs::temp_directory_path() / ("pipescope_bench_memory_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);

  // The floor: the same binary doing no training (LibTorch and the engine loaded, nothing allocated).
  std::vector<double> floor;
  std::map<std::string, StrategyResult> results;
  for (int r = 0; r < opts.repeats; ++r) {
    floor.push_back(spawn_and_wait(exe, {"list", "strategies"}, (dir / "list.log").string(), "bench memory").maxrss_mib);
    for (const auto& s : strategies) {
      const fs::path run_dir = dir / (s + "_" + std::to_string(r));
      const std::string log = (dir / (s + ".log")).string();
      const ChildResult c = spawn_and_wait(exe,
                                 {"run", "--preset", preset, "--strategy", s, "--schedule", "1f1b-async",
                                  "--microbatches", "1", "--stages", std::to_string(stages), "--steps",
                                  std::to_string(opts.steps), "--threads-per-stage", "1", "--set",
                                  "dataset.test_limit=256", "--quiet", "--out", run_dir.string()},
                                 log, "bench memory");
      const fs::path summary_path = run_dir / "summary.json";
      // Exit 1 with a summary is a diverged run: its memory is still measured (and its status shown).
      if ((c.code != 0 && c.code != 1) || !fs::exists(summary_path)) {
        const std::string text = read_text(log);
        fs::remove_all(dir);
        throw std::runtime_error("bench memory: the run of strategy '" + s + "' exited with " +
                                 std::to_string(c.code) + ":\n" + text);
      }
      const RunSummary sum = read_summary_json(summary_path.string());
      StrategyResult& res = results[s];
      res.rss.push_back(c.maxrss_mib);
      res.copies.clear();
      res.weight_bytes = 0;
      for (const auto& st : sum.per_stage) {
        res.copies.push_back(st.weight_copies_max);
        res.weight_bytes += st.weight_bytes_max;
      }
      res.status = to_string(sum.status);
      fs::remove_all(run_dir);
    }
  }
  fs::remove_all(dir);

  std::fprintf(out,
               "memory: model %s, %d stages, 1f1b-async, %d steps of %d, one child process per strategy and repeat "
               "(median of %d); floor (the binary, no run) %.1f MiB\n",
               cfg.model.name.c_str(), stages, opts.steps, cfg.batch_size, opts.repeats, median(floor));
  const double base_rss = median(results["latest"].rss);
  const double base_w = double(results["latest"].weight_bytes);
  double result = 0;
  for (const auto& s : strategies) {
    const StrategyResult& res = results[s];
    const double rss = median(res.rss);
    std::string copies;
    for (std::size_t k = 0; k < res.copies.size(); ++k) copies += (k ? "/" : "") + std::to_string(res.copies[k]);
    const StrategyInfo* info = find_strategy(s);
    std::fprintf(out,
                 "memory[%s]: peak RSS %.1f MiB (%+.1f MiB vs latest); weights held per stage %s copies, %s "
                 "in all (x%.2f of latest)%s%s; claimed: %s\n",
                 s.c_str(), rss, rss - base_rss, copies.c_str(), bytes_text(res.weight_bytes).c_str(),
                 base_w > 0 ? double(res.weight_bytes) / base_w : 0.0, res.status == "completed" ? "" : "; run ",
                 res.status == "completed" ? "" : res.status.c_str(), info ? info->memory.c_str() : "?");
    const double ratio = base_rss > 0 ? rss / base_rss : 0;
    std::fprintf(out, "memory[%s]: ratio=%.3f\n", s.c_str(), ratio);
    if (s == "stash") result = ratio;
  }
  std::fprintf(out, "memory: the ratio below is stash's peak RSS over latest's\n");
  std::fprintf(out, "memory: ratio=%.3f\n", result);
  std::fflush(out);
  return result;
}

}  // namespace ps::cli
