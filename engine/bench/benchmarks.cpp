#include "engine/bench/benchmarks.h"
#include "engine/planner/simulator_bench.h"

#include <sys/resource.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include <cmath>
#include <map>
#include <numeric>

#include "engine/config/run_config.h"
#include "engine/planner/profiler.h"
#include "engine/planner/simulator.h"
#include "engine/schedule/schedule.h"
#include "engine/data/dataset.h"
#include "engine/models/model.h"
#include "engine/runtime/batches.h"
#include "engine/runtime/pipeline.h"
#include "engine/session/session.h"
#include "engine/bench/paired.h"
#include "engine/config/suggest.h"
#include "engine/util/errors.h"
#include "engine/util/initial_weights.h"

namespace ps {
namespace {

double median(std::vector<double> v) { return median_of(std::move(v)); }

unsigned cores() { return std::max(1u, std::thread::hardware_concurrency()); }

// Busy time of one stage per minibatch, seconds, split by op kind.
struct StageTimes {
  double f = 0, b = 0, u = 0;
  double total() const { return f + b + u; }
};

struct Measured {
  RunSummary sum;
  double rate = 0;                // samples/s over the pipeline phases (data loading and evaluation excluded)
  std::vector<StageTimes> busy;   // per stage, per minibatch: the run's own op events
  std::vector<int> partition;     // as resolved by the session
  std::vector<StageTimes> dev_busy;  // per device (a device's chunks together), per minibatch
  double slowest_device() const { return dev_busy.empty() ? 0 : dev_busy[slowest_device_index()].total(); }
  int slowest_device_index() const {
    int k = 0;
    for (int i = 0; i < int(dev_busy.size()); ++i)
      if (dev_busy[i].total() > dev_busy[k].total()) k = i;
    return k;
  }
  double slowest() const {
    double m = 0;
    for (const auto& t : busy) m = std::max(m, t.total());
    return m;
  }
  double sum_busy() const {
    double s = 0;
    for (const auto& t : busy) s += t.total();
    return s;
  }
};

// Runs `cfg` to the end. With `ops`, the op events are drained for a per-kind split of each stage's
// busy time; without, the busy time comes from the summary's utilization (the same op durations summed
// by the stages) and nothing is drained.
Measured measure(RunConfig cfg, bool ops = false) {
  cfg.eval_every_epochs = 1000000;
  SessionOptions so;
  if (ops) so.ui_buffer_ops = std::size_t(cfg.steps) * std::size_t(cfg.num_chunks()) * (3 * cfg.microbatches + 1) + 1024;
  Session s(cfg, so);
  Measured m;
  m.partition = s.partition();
  s.start();
  s.wait();
  m.sum = s.summary();
  if (m.sum.status != RunStatus::Completed)
    throw std::runtime_error("benchmark run (" + cfg.schedule + ", " + std::to_string(cfg.num_stages()) +
                             " stages) did not complete: " + to_string(m.sum.status) + " " + m.sum.error);
  m.rate = m.sum.samples_per_second;
  const double steps = std::max<double>(1, double(m.sum.steps));
  const double pipe_s = m.rate > 0 ? double(m.sum.samples) / m.rate : 0;
  m.busy.assign(m.sum.per_stage.size(), StageTimes{});
  m.dev_busy.assign(std::size_t(cfg.num_devices()), StageTimes{});
  const TelemetryBatch batch = ops ? s.drain() : TelemetryBatch{};
  if (ops && batch.dropped_ops == 0 && !batch.ops.empty()) {
    for (const OpEvent& e : batch.ops) {
      if (e.stage < 0 || e.stage >= int(m.busy.size())) continue;
      const double d = double(e.t_end_ns - e.t_start_ns) * 1e-9 / steps;
      const int dev = e.device >= 0 ? e.device : e.stage;
      for (StageTimes* t : {&m.busy[e.stage], dev < int(m.dev_busy.size()) ? &m.dev_busy[dev] : nullptr})
        if (t) (e.kind == OpKind::Forward ? t->f : is_backward_pass(e.kind) ? t->b : t->u) += d;
    }
  } else {
    for (std::size_t k = 0; k < m.sum.per_stage.size(); ++k) m.busy[k].f = m.sum.per_stage[k].utilization * pipe_s / steps;
  }
  return m;
}

// The same training written as a plain LibTorch loop: one module, torch::optim::SGD (or Adam), same
// batches. Built on the calling thread, run on any: run() times `steps` minibatches on its caller.
class PlainLoop {
 public:
  PlainLoop(const RunConfig& cfg, const DataSplit& data)
      : cfg_(cfg), builder_(cfg.model, data.input), batches_(data.train, cfg.batch_size, cfg.seed) {
    {
      auto weights_lock = lock_initial_weights();
      torch::manual_seed(cfg.seed);
      model_ = builder_.build_units(0, builder_.num_units());
    }
    const OptimizerConfig& o = cfg.optimizer;
    if (o.name == "adam")
      opt_ = std::make_unique<torch::optim::Adam>(
          model_->parameters(),
          torch::optim::AdamOptions(o.lr).betas({o.beta1, o.beta2}).eps(o.eps).weight_decay(o.weight_decay));
    else
      opt_ = std::make_unique<torch::optim::SGD>(model_->parameters(), torch::optim::SGDOptions(o.lr)
                                                                           .momentum(o.momentum)
                                                                           .nesterov(o.nesterov)
                                                                           .weight_decay(o.weight_decay));
  }

  double run() {  // seconds
    set_intra_op_threads(cfg_.threads_per_stage);
    const auto t0 = std::chrono::steady_clock::now();
    double sink = 0;
    for (std::int64_t i = 0; i < cfg_.steps; ++i) {
      Batch b = batches_.get(i, -1, 1);
      opt_->zero_grad();
      at::Tensor loss = torch::nn::functional::cross_entropy(model_->forward(b.inputs), b.labels);
      loss.backward();
      opt_->step();
      sink += loss.item<double>();  // the engine reads the loss every step too
    }
    (void)sink;
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  double samples() const { return double(cfg_.steps) * cfg_.batch_size; }

 private:
  RunConfig cfg_;
  ModelBuilder builder_;
  BatchSource batches_;
  torch::nn::Sequential model_{nullptr};
  std::unique_ptr<torch::optim::Optimizer> opt_;
};

// `copies` plain loops, each on its own thread with its own model, started together; samples/s of all
// of them together over the wall time until the last one ends. copies = 2 over copies = 1 is what this
// machine's cores really give two independent single-thread workers (a VM's 2 vCPUs may not give 2.0).
double copies_rate(const RunConfig& cfg, const DataSplit& data, int copies) {
  std::vector<std::unique_ptr<PlainLoop>> loops;
  for (int i = 0; i < copies; ++i) loops.push_back(std::make_unique<PlainLoop>(cfg, data));
  std::mutex mu;
  std::condition_variable cv;
  int ready = 0;
  bool go = false;
  std::vector<std::thread> threads;
  for (auto& loop : loops)
    threads.emplace_back([&, l = loop.get()] {
      {
        std::unique_lock<std::mutex> lock(mu);
        ++ready;
        cv.notify_all();
        cv.wait(lock, [&] { return go; });
      }
      l->run();
    });
  std::chrono::steady_clock::time_point t0;
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return ready == copies; });
    go = true;
    t0 = std::chrono::steady_clock::now();
  }
  cv.notify_all();
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return secs > 0 ? copies * loops[0]->samples() / secs : 0;
}

double print_ratio(std::FILE* out, const std::string& name, double ratio) {
  std::fprintf(out, "%s: ratio=%.3f\n", name.c_str(), ratio);
  std::fflush(out);
  return ratio;
}


// Kernel time and minor page faults of the whole process over one measurement (the runs are one at a
// time, so the deltas are the measured run's): where an engine loses time that its user time does not show.
struct Usage {
  double sys_s = 0, user_s = 0;
  long minflt = 0;
  static Usage now() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    Usage x;
    x.sys_s = u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6;
    x.user_s = u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6;
    x.minflt = u.ru_minflt;
    return x;
  }
};

struct UsageLog {
  std::vector<double> sys_ms, user_ms, faults;  // per step
  template <class F>
  double track(std::int64_t steps, F&& f) {
    const Usage a = Usage::now();
    const double rate = f();
    const Usage b = Usage::now();
    sys_ms.push_back((b.sys_s - a.sys_s) * 1e3 / double(steps));
    user_ms.push_back((b.user_s - a.user_s) * 1e3 / double(steps));
    faults.push_back(double(b.minflt - a.minflt) / double(steps));
    return rate;
  }
};

// Two configurations in alternating pairs: overhead (engine vs plain loop, its limit) and telemetry
// (on vs off).
double bench_pair(const std::string& name, RunConfig base, const BenchOptions& opts, std::FILE* out) {
  base.dataset.test_limit = 1;
  std::vector<Measurement> ms;
  UsageLog ua, ub;
  std::unique_ptr<DataSplit> data;
  if (name == "overhead") {
    base.stages = 1;
    data = std::make_unique<DataSplit>(load_dataset(base.dataset, base.seed));
    ms.push_back({"engine", [&] { return ua.track(base.steps, [&] { return measure(base).rate; }); }, {}});
    ms.push_back({"plain", [&] {
                    return ub.track(base.steps, [&] {
                      PlainLoop loop(base, *data);
                      return loop.samples() / loop.run();
                    });
                  }, {}});
  } else {
    RunConfig on = base, off = base;
    on.stages = off.stages = 2;
    off.telemetry = false;
    ms.push_back({"on", [on] { return measure(on).rate; }, {}});
    ms.push_back({"off", [off] { return measure(off).rate; }, {}});
  }
  std::vector<RatioOf> ratios = {{name, 0, 1, {}}};
  run_paired(name, ms, ratios, paired_options(opts), out);
  const RatioStats st = ratios[0].stats();
  const bool overhead = name == "overhead";
  std::fprintf(out, "%s: %s %.1f samples/s vs %s %.1f samples/s (medians; %d steps of %d, model %s)\n", name.c_str(),
               overhead ? "engine, 1 stage" : "telemetry on", median_of(ms[0].values),
               overhead ? "plain LibTorch loop (the limit)" : "telemetry off", median_of(ms[1].values), opts.steps,
               base.batch_size, base.model.name.c_str());
  if (overhead)
    std::fprintf(out,
                 "overhead: per step, engine sys %.2f ms user %.2f ms %.0f minor faults; plain loop sys %.2f ms "
                 "user %.2f ms %.0f minor faults (medians over the process; the engine's include its session's set-up and "
                 "data load, so use --steps 150 or more to compare)\n",
                 median_of(ua.sys_ms), median_of(ua.user_ms), median_of(ua.faults), median_of(ub.sys_ms),
                 median_of(ub.user_ms), median_of(ub.faults));
  std::fprintf(out, "%s: %s\n", name.c_str(), describe(st).c_str());
  return print_ratio(out, name, st.median);
}

// 1f1b-async on 2 stages vs 1 stage, beside this machine's limit: 2 plain single-thread copies of the
// same training together vs 1. The 2-stage speed-up is bounded by that and by the balance of the split
// (total work over the slowest stage's), so the split is balanced by measured unit times.
double bench_scaling(RunConfig base, const BenchOptions& opts, std::FILE* out) {
  base.dataset.test_limit = 1;
  RunConfig one = base, two = base;
  one.stages = 1;
  two.stages = 2;
  // Per-unit busy time, measured: the sequential schedule with one unit per stage keeps one stage busy at
  // a time, so the times are not inflated by the other stage's thread.
  int units = 0;
  std::vector<int> default_split;
  {
    Session probe(two);
    units = int(probe.model_info().units.size());
    default_split = probe.partition();
  }
  if (units < 2) throw InputError(base.source, "model", "has one layer unit: nothing to split into 2 stages");
  RunConfig cal = base;
  cal.schedule = "sequential";
  cal.strategy.name = "latest";
  cal.strategy.params.clear();
  cal.microbatches = 1;
  cal.steps = std::max<std::int64_t>(3, std::min<std::int64_t>(opts.steps, 20));
  cal.partition.clear();
  for (int u = 1; u < units; ++u) cal.partition.push_back(u);
  const Measured unit_run = measure(cal);
  std::vector<double> unit_ms;
  for (const auto& t : unit_run.busy) unit_ms.push_back(t.total() * 1e3);
  const double total = std::accumulate(unit_ms.begin(), unit_ms.end(), 0.0);
  auto balance = [&](int b) {  // total over the slower side when stage 2 starts at unit b
    const double left = std::accumulate(unit_ms.begin(), unit_ms.begin() + b, 0.0);
    return total / std::max(left, total - left);
  };
  int best = 1;
  for (int b = 2; b < units; ++b)
    if (balance(b) > balance(best)) best = b;
  const int def = default_split.empty() ? best : default_split[0];
  std::fprintf(out, "scaling: model %s, unit busy times (sequential schedule, one unit per stage, %lld steps):",
               base.model.name.c_str(), static_cast<long long>(cal.steps));
  for (std::size_t u = 0; u < unit_ms.size(); ++u) std::fprintf(out, " %zu:%.2f", u, unit_ms[u]);
  std::fprintf(out, " ms per minibatch\n");
  const bool rebalance = balance(def) < 0.97 * balance(best);
  std::fprintf(out,
               "scaling: default split at unit %d (balance limit %.2f), split balanced by measured time at unit %d "
               "(%.2f): %s\n",
               def, balance(def), best, balance(best),
               rebalance ? ("using --partition " + std::to_string(best)).c_str() : "the default is balanced, kept");
  if (rebalance) two.partition = {best};

  const DataSplit data = load_dataset(base.dataset, base.seed);
  std::vector<double> busy_max, busy_sum, busy1;
  std::vector<std::vector<double>> per_stage(2);
  std::vector<Measurement> ms;
  ms.push_back({"2 stages", [&] {
                  const Measured m2 = measure(two);
                  busy_max.push_back(m2.slowest());
                  busy_sum.push_back(m2.sum_busy());
                  for (int k = 0; k < 2 && k < int(m2.busy.size()); ++k) per_stage[k].push_back(m2.busy[k].total() * 1e3);
                  return m2.rate;
                }, {}});
  ms.push_back({"1 stage", [&] {
                  const Measured m1 = measure(one);
                  busy1.push_back(m1.sum_busy());
                  return m1.rate;
                }, {}});
  ms.push_back({"2 copies", [&] { return copies_rate(one, data, 2); }, {}});
  ms.push_back({"1 copy", [&] { return copies_rate(one, data, 1); }, {}});
  std::vector<RatioOf> ratios = {{"scaling", 0, 1, {}}, {"limit", 2, 3, {}}};
  run_paired("scaling", ms, ratios, paired_options(opts), out);
  const RatioStats sc = ratios[0].stats(), lim = ratios[1].stats();

  std::fprintf(out,
               "scaling: 1f1b-async, 2 stages %.1f samples/s vs 1 stage %.1f samples/s; 2 plain copies %.1f vs 1 "
               "copy %.1f samples/s (medians; %d steps of %d, model %s)\n",
               median_of(ms[0].values), median_of(ms[1].values), median_of(ms[2].values), median_of(ms[3].values),
               opts.steps, base.batch_size, base.model.name.c_str());
  const double bmax = median_of(busy_max);
  const double bal = bmax > 0 ? median_of(busy_sum) / bmax : 0;
  const double with_ops = bmax > 0 ? median_of(busy1) / bmax : 0;
  std::fprintf(out,
               "scaling: limit %.3f = 2 independent single-thread copies over 1 (this machine's parallelism, %u "
               "cores reported), +- %.1f%%; partition balance %.2f; 2-stage busy %.2f + %.2f ms, 1-stage busy %.2f "
               "ms per minibatch (1 stage over the slowest of 2: %.2f)\n",
               lim.median, cores(), 100 * lim.spread, bal, median_of(per_stage[0]), median_of(per_stage[1]),
               median_of(busy1) * 1e3, with_ops);
  const double bound = std::min(lim.median, bal);
  std::fprintf(out, "scaling: 2 stages reach %.3f of the limit (min(copies %.3f, balance %.2f) = %.3f)\n",
               bound > 0 ? sc.median / bound : 0, lim.median, bal, bound);
  std::fprintf(out, "scaling: %s\n", describe(sc).c_str());
  return print_ratio(out, "scaling", sc.median);
}

// The schedules `bench efficiency` measures: every pipeline schedule the engine has (data-parallel is
// not a pipeline and nf1b belongs to its own strategy family; both left out).
std::vector<std::string> efficiency_schedules() {
  std::vector<std::string> out;
  for (const ScheduleInfo& info : schedule_catalog())
    if (info.name != "data-parallel" && info.name != "nf1b") out.push_back(info.name);
  return out;
}

// Per schedule: measured throughput over the bound set by the slowest device (batch / its busy time per
// minibatch, from the run's own op events), the ideal bubble-limited bound beside it, and the simulator's
// prediction for the same run (the profile's op times, I and W included, on this machine's cores).
double bench_efficiency(RunConfig base, int preset_microbatches, const BenchOptions& opts, std::FILE* out) {
  base.dataset.test_limit = 1;
  base.strategy.name = "latest";  // synchronous schedules read the staleness-free weights: nothing to choose
  base.strategy.params.clear();
  base.divergence_every = 0;      // the pipeline's speed, not the lesson's telemetry
  base.stages = opts.stages > 0 ? opts.stages : std::max(2, base.stages);
  const int S = base.stages;
  // One M for every microbatched schedule, so their bubbles compare: the preset's, raised to 2S (what
  // dualpipev needs) and to a multiple of S (the interleaved schedules' rounds).
  int M = std::max(preset_microbatches > 1 ? preset_microbatches : 4, 2 * S);
  M = (M + S - 1) / S * S;
  M = std::min(M, base.batch_size);
  const std::vector<std::string> schedules = opts.schedules.empty() ? efficiency_schedules() : opts.schedules;
  const int units = static_cast<int>(model_info_for(base).units.size());
  struct Acc {
    std::vector<double> rate, bound, ratio, ideal, ideal_ratio, f, b, u, slowest, bubble, act_max;
    std::vector<double> sim_rate, sim_ratio, sim_bubble;  // the simulator, per round
    double sim_cores = 0, sim_latency = 0, sim_switch = 0;  // the machine it simulates (the median profile's)
    std::vector<std::vector<double>> sim_device;  // per device simulated busy per minibatch
    std::vector<std::vector<double>> device;  // per device busy per minibatch
    std::vector<std::vector<int>> partitions;  // per round: the run's cut
    RunConfig cfg;
    std::string skipped;
  };
  std::map<std::string, Acc> acc;
  for (const auto& name : schedules) {
    RunConfig cfg = base;
    cfg.schedule = name;
    cfg.chunks = 0;
    cfg.microbatches = schedule_info(name).takes_microbatches ? M : 1;
    Acc& a = acc[name];
    a.cfg = cfg;
    const int chunks = S * cfg.chunks_per_device();
    if (chunks > units)
      a.skipped = std::to_string(S) + " devices x " + std::to_string(cfg.chunks_per_device()) + " chunks = " +
                  std::to_string(chunks) + " chunks, more than the model's " + std::to_string(units) + " layer units";
  }
  // The simulator's inputs, profiled afresh every round (once per microbatch size), and every round's run
  // simulated on the median of the rounds' profiles (median_profile): a profile takes seconds, and a
  // slow spell of this VM moved one round's by 10-35% (the same run simulated at 7 733 to 13 519
  // samples/s over 5 rounds, while the runs measured 11 135 to 12 105), more than the runs themselves.
  std::map<int, std::vector<ModelProfile>> profiles;
  for (int r = 0; r < opts.repeats; ++r) {
    for (const auto& name : schedules) {
      const Acc& a = acc[name];
      if (!a.skipped.empty()) continue;
      std::vector<ModelProfile>& taken = profiles[a.cfg.microbatches];
      if (static_cast<int>(taken.size()) > r) continue;  // this round's is taken
      ProfileOptions popts;
      popts.use_cache = false;  // the round's own, and the cache's kept profiles stay the user's
      taken.push_back(profile_model(a.cfg, popts));
    }
    for (const auto& name : schedules) {
      Acc& a = acc[name];
      if (!a.skipped.empty()) continue;
      const Measured m = measure(a.cfg, true);
      a.partitions.push_back(m.partition);
      const double t = m.slowest_device();
      const double bound = t > 0 ? a.cfg.batch_size / t : 0;
      a.rate.push_back(m.rate);
      a.bound.push_back(bound);
      a.ratio.push_back(bound > 0 ? m.rate / bound : 0);
      // The bubble-limited ideal assumes balanced devices; one stage at a time (sequential) is bounded
      // exactly by the sum of the stages' busy times.
      const double ideal = name == "sequential" ? (m.sum_busy() > 0 ? a.cfg.batch_size / m.sum_busy() : 0)
                                                : bound * (1.0 - m.sum.bubble_fraction_ideal);
      a.ideal.push_back(ideal);
      a.ideal_ratio.push_back(ideal > 0 ? m.rate / ideal : 0);
      const StageTimes& st = m.dev_busy[m.slowest_device_index()];
      a.f.push_back(st.f);
      a.b.push_back(st.b);
      a.u.push_back(st.u);
      a.slowest.push_back(m.slowest_device_index());
      a.bubble.push_back(m.sum.bubble_fraction_measured);
      std::int64_t act = 0;
      for (const auto& ps : m.sum.per_stage) act = std::max(act, ps.device_activation_bytes_max);
      a.act_max.push_back(double(act));
      a.device.resize(m.dev_busy.size());
      for (std::size_t k = 0; k < m.dev_busy.size(); ++k) a.device[k].push_back(m.dev_busy[k].total());
    }
  }
  std::map<int, ModelProfile> pooled;
  for (const auto& [microbatches, list] : profiles) {
    pooled[microbatches] = median_profile(list);
    std::vector<double> ops, cores_of;  // per round: F + B + U of every unit at the microbatch size, the cores
    for (const auto& p : list) {
      double sum = 0;
      for (const auto& u : p.units) sum += u.forward_micro_s + u.backward_micro_s + u.update_s;
      ops.push_back(1e3 * sum);
      cores_of.push_back(p.cores);
    }
    std::fprintf(out, "efficiency: the %zu profiles at %d microbatches: F + B + U of every unit %s ms, cores %s; every "
                      "run is simulated on their median\n",
                 list.size(), microbatches, join_fixed(ops, 3).c_str(), join_fixed(cores_of, 2).c_str());
  }
  for (const auto& name : schedules) {
    Acc& a = acc[name];
    if (!a.skipped.empty()) continue;
    const ModelProfile& profile = pooled.at(a.cfg.microbatches);
    for (std::size_t r = 0; r < a.partitions.size(); ++r) {
      // The simulator's view of the round's run: the median profile at its microbatch size, its session's cut.
      SimOptions so;
      so.schedule = name;
      so.microbatches = a.cfg.microbatches;
      so.minibatches = int(a.cfg.steps);
      so.boundaries = a.partitions[r];
      so.chunks = a.cfg.chunks_per_device();
      so.cores = cores();
      profile.apply_machine(so, int(cores()));
      const SimResult sim = simulate(profile, so);
      a.sim_rate.push_back(sim.samples_per_second);
      a.sim_ratio.push_back(a.rate[r] > 0 ? sim.samples_per_second / a.rate[r] : 0);
      a.sim_bubble.push_back(sim.bubble_fraction);
      a.sim_cores = so.cores;
      a.sim_latency = so.latency_s;
      a.sim_switch = so.switch_s;
      a.sim_device.resize(sim.device_busy_s.size());
      for (std::size_t k = 0; k < sim.device_busy_s.size(); ++k)
        a.sim_device[k].push_back(sim.device_busy_s[k] / std::max(1, so.minibatches));
    }
  }
  std::fprintf(out, "efficiency: %d devices, model %s (%d layer units), batch %d, %d steps, median of %d; M = %d "
                    "microbatches for every schedule that takes them\n",
               S, base.model.name.c_str(), units, base.batch_size, opts.steps, opts.repeats, M);
  std::fprintf(out, "efficiency: bound = batch / the slowest device's busy time per minibatch (its own op events); "
                    "ideal = bound x (1 - ideal bubble), batch / all devices' busy time for sequential; simulated = "
                    "the simulator on a fresh profile's op times (I and W measured in the engine), the cores its model's "
                    "passes get at once and its measured hand-off between stage threads, on %u cores\n",
               cores());
  // The sequential runs keep one device busy at a time: their device times are free of the other devices'
  // threads competing for the cores, which is the uncontended limit of any schedule on this machine.
  double seq_max = 0, seq_sum = 0;
  if (acc.count("sequential"))
    for (const auto& v : acc["sequential"].device) {
      seq_max = std::max(seq_max, median(v));
      seq_sum += median(v);
    }
  const double slot_limit = seq_max > 0 ? base.batch_size / seq_max : 0;
  const double core_limit = seq_sum > 0 ? std::min<double>(S, cores()) * base.batch_size / seq_sum : 0;
  const double hw_limit = std::min(slot_limit, core_limit);
  struct Row {
    std::string name;
    int v = 1, M = 1;
    double rate = 0, sim_rate = 0, ideal_bubble = 0, sim_bubble = 0, bubble = 0, act = 0;
  };
  std::vector<Row> rows;
  double result = 0, max_sim_error = 0;
  for (const auto& name : schedules) {
    const Acc& a = acc[name];
    if (!a.skipped.empty()) {
      std::fprintf(out, "efficiency[%s]: skipped: %s\n", name.c_str(), a.skipped.c_str());
      continue;
    }
    const double rate = median(a.rate), bound = median(a.bound), ideal = median(a.ideal), ratio = median(a.ratio);
    std::fprintf(out,
                 "efficiency[%s]: %.1f samples/s; slowest device %d busy %.2f ms per minibatch (F %.2f + B/I/W %.2f + U %.2f) "
                 "-> bound %.1f samples/s, ideal %.1f; measured/bound %.3f, measured/ideal %.3f, "
                 "of the uncontended limit %.3f\n",
                 name.c_str(), rate, int(median(a.slowest)), (median(a.f) + median(a.b) + median(a.u)) * 1e3,
                 median(a.f) * 1e3, median(a.b) * 1e3, median(a.u) * 1e3, bound, ideal, ratio,
                 median(a.ideal_ratio), hw_limit > 0 ? rate / hw_limit : 0);
    print_ratio(out, "efficiency[" + name + "]", ratio);
    if (name == "1f1b-async") result = ratio;
    Row row{name, a.cfg.chunks_per_device(), a.cfg.microbatches, rate, median(a.sim_rate),
            ideal_bubble_fraction(name, S, a.cfg.microbatches, a.cfg.chunks_per_device()), median(a.sim_bubble),
            median(a.bubble), median(a.act_max)};
    // The error of the median round: simulated over measured, each round's run on the median profile.
    const double error = std::abs(median(a.sim_ratio) - 1.0);
    max_sim_error = std::max(max_sim_error, error);
    std::vector<double> rounds = a.sim_ratio;
    std::sort(rounds.begin(), rounds.end());
    std::fprintf(out, "efficiency[%s]: per round, simulated / measured: %s (measured %s samples/s, in round order)\n",
                 name.c_str(), join_fixed(rounds, 3).c_str(), join_fixed(a.rate, 0).c_str());
    std::string busy;  // "measured / simulated" per device
    for (std::size_t k = 0; k < a.device.size() && k < a.sim_device.size(); ++k)
      busy += (k ? ", " : "") + join_fixed({median(a.device[k]) * 1e3, median(a.sim_device[k]) * 1e3}, 2, " / ");
    std::fprintf(out, "efficiency[%s]: busy ms per minibatch per device, measured / simulated: %s\n", name.c_str(),
                 busy.c_str());
    std::fprintf(out,
                 "efficiency[%s]: simulated %.1f samples/s (error %+.1f%%; %.2f cores, hand-off %.0f us, switch %.0f us), "
                 "bubble ideal %.3f, simulated %.3f, measured %.3f; peak activations held by one device %.1f KiB\n",
                 name.c_str(), row.sim_rate, 100 * (median(a.sim_ratio) - 1.0), a.sim_cores,
                 1e6 * a.sim_latency, 1e6 * a.sim_switch, row.ideal_bubble, row.sim_bubble, row.bubble,
                 row.act / 1024);
    rows.push_back(row);
  }
  if (hw_limit > 0)
    std::fprintf(out,
                 "efficiency: uncontended limit %.1f samples/s = min(slowest device %.1f, %u cores over all devices' "
                 "work %.1f), from the sequential runs' device times (%.2f ms slowest, %.2f ms all, per minibatch)\n",
                 hw_limit, slot_limit, cores(), core_limit, seq_max * 1e3, seq_sum * 1e3);
  // The table docs/RESULTS.md carries.
  std::fprintf(out, "\n| schedule | v | M | samples/s | simulated | bubble ideal | simulated | measured | peak activations per device |\n"
                    "|---|---|---|---|---|---|---|---|---|\n");
  for (const Row& r : rows)
    std::fprintf(out, "| %s | %d | %d | %.0f | %.0f | %.1f%% | %.1f%% | %.1f%% | %.0f KiB |\n", r.name.c_str(), r.v, r.M,
                 r.rate, r.sim_rate, 100 * r.ideal_bubble, 100 * r.sim_bubble, 100 * r.bubble, r.act / 1024);
  std::fprintf(out, "\nefficiency: simulator max_error=%.3f over %zu schedules\n", max_sim_error, rows.size());
  if (acc.count("1f1b-async")) {
    std::fprintf(out, "efficiency: the ratio below is 1f1b-async's measured/bound\n");
    return print_ratio(out, "efficiency", result);
  }
  std::vector<double> ratios;  // without 1f1b-async: the median schedule's measured/bound
  for (const auto& name : schedules)
    if (acc[name].skipped.empty()) ratios.push_back(median(acc[name].ratio));
  return print_ratio(out, "efficiency", ratios.empty() ? 0 : median(ratios));
}

}  // namespace

PairedOptions paired_options(const BenchOptions& opts) {
  PairedOptions p;
  p.min_rounds = opts.repeats;
  p.max_rounds = std::max(opts.repeats, 40);
  p.budget_s = opts.budget_s;
  p.spread = opts.spread;
  return p;
}

// The model scaling measures by default: an mlp whose two halves do the same work (fc1 784x1024 +
// fc2 1024x1024 against fc3 1024x1024 + fc4 1024x784 + the head), so the split does not cap the gain;
// the cnn of presets/default.json, whose best 2-way split is limited to about 1.55, is `--preset
// presets/default.json`.
void use_balanced_mlp(RunConfig& cfg) {
  cfg.model = ModelConfig{};
  cfg.model.name = "mlp";
  cfg.model.hidden = {1024, 1024, 1024, 784};
}

std::string bench_preset_path(const std::string& preset) {
  std::string path = preset;
#ifdef PIPESCOPE_SOURCE_DIR
  if (path.empty()) path = std::string(PIPESCOPE_SOURCE_DIR) + "/presets/default.json";
#endif
  return path;
}

const std::vector<std::string>& benchmark_names() {
  static const std::vector<std::string> names = {"overhead", "scaling", "efficiency", "telemetry", "memory", "simulator",
                                                   "processes"};
  return names;
}

double run_benchmark(const std::string& name, const BenchOptions& opts, std::FILE* out) {
  const auto& known = benchmark_names();
  if (name == "memory" || name == "processes" || std::find(known.begin(), known.end(), name) == known.end())
    throw InputError("command line", "bench",
                     name == "memory" || name == "processes"
                         ? "the " + name + " benchmark runs child processes: pipescope-cli bench " + name
                         : unknown_name_reason("benchmark", name, known));
  if (name == "simulator") return run_simulator_benchmark(opts, out);
  RunConfig base = load_preset(bench_preset_path(opts.preset));
  if (name == "scaling" && opts.preset.empty()) use_balanced_mlp(base);
  const int preset_microbatches = base.microbatches;
  base.steps = opts.steps;
  base.threads_per_stage = 1;
  base.strategy.name = "stash";
  base.strategy.params.clear();
  base.schedule = "1f1b-async";
  base.chunks = 0;  // a preset made for a schedule of several chunks per device
  base.microbatches = 1;
  base.partition.clear();
  if (name == "overhead" || name == "telemetry") return bench_pair(name, base, opts, out);
  // The pipeline's speed, not the lesson's telemetry: measuring divergence from the staleness-free
  // weights (every 8th minibatch by default) holds stage 0's worker for about 120 ms on the balanced mlp
  // with stash, which halves a 2-stage run (issue 18's note).
  if (name == "scaling") base.divergence_every = 0;
  if (name == "scaling") return bench_scaling(base, opts, out);
  return bench_efficiency(base, preset_microbatches, opts, out);
}

}  // namespace ps
