// `pipescope-cli bench processes`. Each configuration is a child of this very binary, so that the 2
// ranks of the processes executor are real processes (started by the child's own launcher) and every
// configuration pays the same process costs; a run's samples/s counts its pipeline phases only (set-up,
// rendezvous and data loading excluded) after its first kWarmSteps (first-touch allocations, socket
// buffers, the link's first frames), from its metrics.csv; the whole-run ratio is printed beside it. The
// limit beside the ratios is what 2 independent 1-stage processes reach together on this machine over 1
// alone (a VM's 2 cores may not give 2.0).
#include "app/cli/bench_processes.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "app/cli/child_process.h"
#include "engine/bench/paired.h"
#include "engine/config/run_config.h"
#include "engine/dist/link_probe.h"
#include "engine/telemetry/outputs.h"
#include "engine/util/errors.h"

namespace ps::cli {
namespace {

namespace fs = std::filesystem;
constexpr const char* kWho = "bench processes";
constexpr std::size_t kWarmSteps = 10;

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out(1);
  for (char c : line)
    if (c == ',')
      out.emplace_back();
    else
      out.back().push_back(c);
  return out;
}

// samples/s over the training rows of metrics.csv after the first kWarmSteps; the whole run's rate when
// the run is too short to leave any.
double steady_rate(const fs::path& metrics, double whole_run) {
  std::ifstream f(metrics);
  std::string line;
  if (!std::getline(f, line)) return whole_run;
  const auto head = split_csv(line);
  const auto col = [&](const char* name) {
    return static_cast<std::size_t>(std::find(head.begin(), head.end(), name) - head.begin());
  };
  const std::size_t samples = col("samples"), wall = col("wall_seconds");
  std::vector<std::pair<double, double>> rows;  // samples, wall seconds
  while (std::getline(f, line)) {
    const auto v = split_csv(line);
    if (v.size() > std::max(samples, wall) && !v[samples].empty() && !v[wall].empty())
      rows.emplace_back(std::stod(v[samples]), std::stod(v[wall]));
  }
  if (rows.size() < 2 * kWarmSteps) return whole_run;
  const auto& a = rows[kWarmSteps - 1];
  const auto& b = rows.back();
  return b.second > a.second ? (b.first - a.first) / (b.second - a.second) : whole_run;
}

struct Runner {
  std::string exe;
  fs::path dir;
  std::string preset;  // the measured config, written as a preset file
  int runs = 0;

  std::vector<std::string> args(const std::vector<std::string>& extra, const fs::path& out) const {
    std::vector<std::string> a{"run", "--preset", preset, "--quiet", "--out", out.string()};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  // A run's summary, its samples/s replaced by its steady rate (the whole run's kept in last_whole).
  RunSummary summary_of(const fs::path& out, int code, const fs::path& log) {
    const fs::path s = out / "summary.json";
    if (code != 0 || !fs::exists(s))
      throw std::runtime_error(std::string(kWho) + ": a run exited with " + std::to_string(code) + ":\n" +
                               read_text(log.string()));
    RunSummary r = read_summary_json(s.string());
    last_whole = r.samples_per_second;
    r.samples_per_second = steady_rate(out / "metrics.csv", r.samples_per_second);
    return r;
  }
  double last_whole = 0;
  // One child run; its summary.
  RunSummary run(const std::vector<std::string>& extra) {
    const fs::path out = dir / ("run" + std::to_string(++runs));
    const fs::path log = dir / "run.log";
    const ChildResult c = spawn_and_wait(exe, args(extra, out), log.string(), kWho);
    RunSummary s = summary_of(out, c.code, log);
    fs::remove_all(out);
    return s;
  }
  // `copies` 1-stage runs at once; the sum of their rates.
  double copies(int n) {
    std::vector<int> pids;
    std::vector<fs::path> outs, logs;
    for (int i = 0; i < n; ++i) {
      outs.push_back(dir / ("copy" + std::to_string(++runs)));
      logs.push_back(dir / ("copy" + std::to_string(i) + ".log"));
      pids.push_back(spawn_child(exe, args({"--stages", "1"}, outs.back()), logs.back().string(), kWho));
    }
    double sum = 0;
    for (int i = 0; i < n; ++i) {
      const ChildResult c = wait_child(pids[static_cast<std::size_t>(i)], kWho);
      sum += summary_of(outs[static_cast<std::size_t>(i)], c.code, logs[static_cast<std::size_t>(i)]).samples_per_second;
      fs::remove_all(outs[static_cast<std::size_t>(i)]);
    }
    return sum;
  }
};

}  // namespace

double run_processes_benchmark(const BenchOptions& opts, std::FILE* out) {
  RunConfig cfg = load_preset(bench_preset_path(opts.preset));  // a bad preset fails here (exit 2)
  if (opts.preset.empty()) use_balanced_mlp(cfg);
  cfg.steps = opts.steps;
  cfg.threads_per_stage = 1;
  cfg.schedule = "1f1b-async";
  cfg.chunks = 0;
  cfg.strategy.name = "stash";
  cfg.strategy.params.clear();
  cfg.microbatches = 1;
  cfg.partition.clear();
  cfg.stages = 2;
  cfg.dataset.test_limit = 1;
  cfg.executor = "threaded";
  cfg.divergence_every = 0;  // the pipeline's speed, not the divergence telemetry (see bench scaling)
  validate(cfg);

  Runner r;
  r.exe = self_exe(kWho);
  r.dir = fs::temp_directory_path() / ("pipescope_bench_processes_" + std::to_string(::getpid()));
  fs::remove_all(r.dir);
  fs::create_directories(r.dir);
  r.preset = (r.dir / "bench.json").string();
  {
    std::ofstream f(r.preset);
    f << preset_to_json(cfg);
  }

  RunSummary last_procs;
  double last_procs_whole = 0;  // its whole run's samples/s
  std::vector<Measurement> ms;
  std::vector<double> whole_procs, whole_one;  // the whole runs' samples/s, warm-up included
  ms.push_back({"2 processes", [&] {
                  last_procs = r.run({"--stages", "2", "--procs", "2"});
                  whole_procs.push_back(last_procs_whole = r.last_whole);
                  return last_procs.samples_per_second;
                }, {}});
  ms.push_back({"1 stage", [&] {
                  const double rate = r.run({"--stages", "1"}).samples_per_second;
                  whole_one.push_back(r.last_whole);
                  return rate;
                }, {}});
  ms.push_back({"2 threads", [&] { return r.run({"--stages", "2"}).samples_per_second; }, {}});
  ms.push_back({"2 copies", [&] { return r.copies(2); }, {}});
  ms.push_back({"1 copy", [&] { return r.copies(1); }, {}});
  std::vector<RatioOf> ratios = {{"processes", 0, 1, {}}, {"threads", 2, 1, {}}, {"processes/threads", 0, 2, {}},
                                 {"limit", 3, 4, {}}};
  try {
    run_paired("processes", ms, ratios, paired_options(opts), out);
  } catch (...) {
    fs::remove_all(r.dir);
    throw;
  }
  fs::remove_all(r.dir);

  const RatioStats pr = ratios[0].stats(), th = ratios[1].stats(), pt = ratios[2].stats(), lim = ratios[3].stats();
  std::fprintf(out,
               "processes: model %s, 1f1b-async + stash (divergence off), %d steps of %d; 2 processes %.1f, 2 threads %.1f, 1 stage %.1f "
               "samples/s; 2 independent 1-stage processes %.1f vs 1 %.1f (medians)\n",
               cfg.model.name.c_str(), opts.steps, cfg.batch_size, median_of(ms[0].values), median_of(ms[2].values),
               median_of(ms[1].values), median_of(ms[3].values), median_of(ms[4].values));
  const double wall = last_procs_whole > 0 ? double(last_procs.samples) / last_procs_whole : 0;
  for (const StageSummary& st : last_procs.per_stage) {
    const double per_msg = st.messages_sent > 0 ? double(st.bytes_sent) / double(st.messages_sent) : 0;
    const std::int64_t received = st.stage == 0 ? last_procs.per_stage.back().messages_sent
                                                : last_procs.per_stage.front().messages_sent;
    std::fprintf(out,
                 "processes: stage %d (%s): sent %lld messages, %.1f KiB each; waited %.3f s on its link (%.2f ms per "
                 "message received, %.1f%% of the run); utilisation %.2f\n",
                 st.stage, st.process.c_str(), static_cast<long long>(st.messages_sent), per_msg / 1024.0,
                 st.link_wait_seconds, received > 0 ? 1e3 * st.link_wait_seconds / double(received) : 0.0,
                 wall > 0 ? 100.0 * st.link_wait_seconds / wall : 0.0, st.utilization);
  }
  // The link itself: messages of the size the stages sent, between two ranks over Gloo and between two
  // threads over a channel, one each way per round, each side working 1 ms between (as 1F1B's stages).
  const std::int64_t message_bytes = !last_procs.per_stage.empty() && last_procs.per_stage.front().messages_sent > 0
                                         ? last_procs.per_stage.front().bytes_sent / last_procs.per_stage.front().messages_sent
                                         : 0;
  const auto gap = std::chrono::microseconds(1000);
  const dist::HandOffProbe by_processes = dist::probe_processes_hand_off(message_bytes, gap, 100);
  const dist::HandOffProbe by_threads = dist::probe_threads_hand_off(gap, 100);
  // 1f1b-async on 2 balanced stages waits for one hand-off per minibatch in its steady state (stage 0
  // runs F(i+2) only after B(i), which waits for the gradient; stage 1 needs F(i+2)'s activation right
  // after B(i+1): tests/engine/core_planner.cpp, AProcessesRunPaysTheProcessesHandOff): what the
  // processes' slower hand-off costs at the threads' minibatch time.
  const double threads_rate = median_of(ms[2].values);
  const double step = threads_rate > 0 ? double(cfg.batch_size) / threads_rate : 0;
  const double extra = std::max(0.0, by_processes.mean_s - by_threads.mean_s);
  std::fprintf(out,
               "processes: the link's hand-off of a %.1f KiB message, one each way per round (%zu messages): between "
               "processes (Gloo) mean %.3f ms, median %.3f; between threads (channel) mean %.3f ms, median %.3f\n",
               double(message_bytes) / 1024.0, by_processes.one_way_s.size(), 1e3 * by_processes.mean_s,
               1e3 * by_processes.median_s, 1e3 * by_threads.mean_s, 1e3 * by_threads.median_s);
  std::fprintf(out,
               "processes: 1f1b-async on 2 balanced stages waits for 1 hand-off per minibatch: at the threads' %.2f ms per "
               "minibatch, the processes' hand-off allows them %.3f of the threads (measured %.3f)\n",
               1e3 * step, step > 0 ? step / (step + extra) : 0.0, pt.median);
  std::fprintf(out, "processes: samples/s after each run's first %zu steps; over the whole runs (warm-up included) 2 processes "
                    "%.1f, 1 stage %.1f, ratio %.3f (medians)\n",
               kWarmSteps, median_of(whole_procs), median_of(whole_one),
               median_of(whole_one) > 0 ? median_of(whole_procs) / median_of(whole_one) : 0.0);
  std::fprintf(out, "processes: 2 threads over 1 stage %s\n", describe(th).c_str());
  std::fprintf(out, "processes: 2 processes over 2 threads %s\n", describe(pt).c_str());
  std::fprintf(out, "processes: limit (2 independent processes over 1) %s\n", describe(lim).c_str());
  std::fprintf(out, "processes: 2 processes reach %.3f of the limit (target 0.9; over 1 stage: target 1.7, and at least "
                    "the 2 threads' %.3f)\n",
               lim.median > 0 ? pr.median / lim.median : 0.0, th.median);
  std::fprintf(out, "processes: 2 processes over 1 stage %s\n", describe(pr).c_str());
  std::fprintf(out, "processes: ratio=%.3f\n", pr.median);
  std::fflush(out);
  return pr.median;
}

}  // namespace ps::cli
