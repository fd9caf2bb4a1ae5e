// The profiler (per layer unit forward, backward and update time, activation and parameter bytes,
// measured with LibTorch and cached as JSON) and the simulator benchmark, which needs both the profiler
// and a real Session: one LibTorch translation unit for the planner.
#include "engine/planner/profiler.h"

#include <torch/cuda.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <thread>
#include <tuple>

#include "engine/bench/paired.h"
#include "engine/data/dataset.h"
#include "engine/dist/link_probe.h"
#include "engine/models/model.h"
#include "engine/partition/partition.h"
#include "engine/planner/simulator.h"
#include "engine/planner/simulator_bench.h"
#include "engine/runtime/pipeline.h"
#include "engine/session/session.h"
#include "engine/telemetry/text_file.h"
#include "engine/util/errors.h"
#include "engine/util/initial_weights.h"

namespace ps {
namespace {

using Clock = std::chrono::steady_clock;

// The data set's sample shape and classes. Loads the set (file-backed sets are read once; the limits
// keep what stays in memory small): there is no other source of the shape that every loader agrees on.
InputSpec input_spec_for(const RunConfig& cfg) {
  DatasetConfig d = cfg.dataset;
  d.train_limit = 1;
  d.test_limit = 1;
  if (d.synthetic_size > 256) d.synthetic_size = 256;
  return load_dataset(d, cfg.seed).input;
}

std::string profile_key(const RunConfig& cfg) {
  std::ostringstream k;
  k << cfg.model.name << "-h";
  for (std::size_t i = 0; i < cfg.model.hidden.size(); ++i) k << (i ? "." : "") << cfg.model.hidden[i];
  k << "-w" << cfg.model.width << "-d" << cfg.model.depth << "_" << cfg.dataset.name << "_" << cfg.device << "_b"
    << cfg.batch_size << "_m" << cfg.microbatches << "_t" << cfg.threads_per_stage << "_" << cfg.optimizer.name;
  std::string s = k.str();
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '-';
  return s;
}

void synchronize(const c10::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

// Timing inputs come from a generator of their own: the default one belongs to seeded builds.
at::Generator profile_generator(std::uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed + 0x9f07ULL); }

at::Tensor random_inputs(const InputSpec& spec, int samples, const c10::Device& device, at::Generator& gen) {
  std::vector<std::int64_t> shape{samples};
  shape.insert(shape.end(), spec.sample_shape.begin(), spec.sample_shape.end());
  if (spec.tokens) return torch::randint(0, std::max(1, spec.vocab), shape, gen, torch::kLong).to(device);
  return torch::randn(shape, gen).to(device);
}

struct Timing {
  double forward_s = 0, backward_s = 0, update_s = 0;
  std::int64_t activation_bytes = 0;
};

// Times one unit at `samples` per pass: forward (with the loss on the last unit), backward from a
// random output gradient (or the loss), and the optimizer step over its parameters.
Timing time_unit(torch::nn::Sequential& unit, const at::Tensor& input, const at::Tensor& labels, bool last,
                 const RunConfig& cfg, const ProfileOptions& opts, const c10::Device& device) {
  Timing out;
  std::vector<double> fwd, bwd, upd;
  auto params = unit->parameters();
  std::unique_ptr<torch::optim::Optimizer> opt;
  if (!params.empty()) {
    if (cfg.optimizer.name == "adam")
      opt = std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(cfg.optimizer.lr));
    else
      opt = std::make_unique<torch::optim::SGD>(
          params, torch::optim::SGDOptions(cfg.optimizer.lr).momentum(cfg.optimizer.momentum));
  }
  at::Tensor grad_out;
  for (int it = 0; it < opts.warmup + opts.iterations; ++it) {
    at::Tensor x = input.detach();
    if (x.is_floating_point()) x.requires_grad_(true);
    const auto t0 = Clock::now();
    at::Tensor y = unit->forward(x);
    at::Tensor loss;
    if (last) loss = torch::nn::functional::cross_entropy(y, labels);
    synchronize(device);
    const auto t1 = Clock::now();
    if (last) {
      loss.backward();
    } else {
      if (!grad_out.defined()) {
        at::Generator gen = profile_generator(cfg.seed);
        grad_out = torch::randn(y.sizes(), gen, y.options());
      }
      y.backward(grad_out);
    }
    synchronize(device);
    const auto t2 = Clock::now();
    if (opt) opt->step();
    synchronize(device);
    const auto t3 = Clock::now();
    if (opt) opt->zero_grad();
    out.activation_bytes = y.numel() * y.element_size();
    if (it < opts.warmup) continue;
    fwd.push_back(std::chrono::duration<double>(t1 - t0).count());
    bwd.push_back(std::chrono::duration<double>(t2 - t1).count());
    upd.push_back(std::chrono::duration<double>(t3 - t2).count());
  }
  out.forward_s = median_of(fwd);
  out.backward_s = median_of(bwd);
  out.update_s = opt ? median_of(upd) : 0;
  return out;
}

// hw x wall(1) / wall(hw) (wall(n): the seconds n threads take for their work), between 1 and hw: the
// median of 3 pairs, each alone and then together side by side. The VM's speed moves by 10-35% for
// seconds at a time, and 3 of one and then 3 of the other put a slow spell on one side only (the
// model's cores ranged 1.46-2.00 over 5 rounds of `bench efficiency` that way).
double paired_speedup(int hw, const std::function<double(int)>& wall) {
  std::vector<double> speedups;
  for (int r = 0; r < 3; ++r) {
    const double alone = wall(1), together = wall(hw);
    speedups.push_back(hw * alone / std::max(together, 1e-9));
  }
  return std::clamp(median_of(speedups), 1.0, double(hw));
}

// The model's parallel speed-up on this machine: `hw` threads (each with its own copy of the model and
// cfg.threads_per_stage intra-op threads) run forward and backward at the microbatch size at once,
// against one thread alone (paired_speedup).
double measure_cores(const ModelBuilder& builder, const InputSpec& spec, const RunConfig& cfg, int microbatch,
                     const c10::Device& device) {
  const int hw = std::max(1u, std::thread::hardware_concurrency());
  if (hw == 1 || device.is_cuda()) return hw;
  const int n = builder.num_units();
  std::vector<torch::nn::Sequential> models;
  std::vector<at::Tensor> inputs;
  at::Generator gen = profile_generator(cfg.seed);
  for (int t = 0; t < hw; ++t) {
    {
      auto weights_lock = lock_initial_weights();
      models.push_back(builder.build_units(0, n));
    }
    inputs.push_back(random_inputs(spec, microbatch, device, gen));
  }
  auto pass = [&](int t) {
    at::Tensor y = models[t]->forward(inputs[t]);
    y.sum().backward();
    for (auto& p : models[t]->parameters()) p.mutable_grad() = at::Tensor();
  };
  // Enough passes for about 0.2 s alone.
  set_intra_op_threads(std::max(1, cfg.threads_per_stage));
  pass(0);
  const auto t0 = Clock::now();
  pass(0);
  const double one = std::max(1e-6, std::chrono::duration<double>(Clock::now() - t0).count());
  const int iterations = std::clamp(static_cast<int>(0.2 / one), 2, 200);
  auto wall = [&](int threads) {
    const auto start = Clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        set_intra_op_threads(std::max(1, cfg.threads_per_stage));
        for (int i = 0; i < iterations; ++i) pass(t);
      });
    for (auto& th : pool) th.join();
    return std::chrono::duration<double>(Clock::now() - start).count();
  };
  return paired_speedup(hw, wall);
}

ModelProfile measure(const RunConfig& cfg, const ProfileOptions& opts) {
  const InputSpec spec = input_spec_for(cfg);
  const ModelBuilder builder(cfg.model, spec);
  const c10::Device device(cfg.device == "cuda" ? c10::kCUDA : c10::kCPU);
  if (device.is_cuda() && !torch::cuda::is_available())
    throw InputError(cfg.source, "device", "CUDA was asked for, but this LibTorch has no CUDA device available");
  set_intra_op_threads(std::max(1, cfg.threads_per_stage));
  const int n = builder.num_units();
  std::vector<torch::nn::Sequential> units;
  {
    auto weights_lock = lock_initial_weights();
    torch::manual_seed(cfg.seed);
    for (int u = 0; u < n; ++u) {
      units.push_back(builder.build_units(u, u + 1));
      units.back()->to(device);
    }
  }
  at::Generator gen = profile_generator(cfg.seed);
  ModelProfile p;
  p.key = profile_key(cfg);
  p.model = cfg.model.name;
  p.device = cfg.device;
  p.batch_size = cfg.batch_size;
  p.microbatches = std::max(1, cfg.microbatches);
  p.threads = std::max(1, cfg.threads_per_stage);
  p.measured = true;
  p.units.resize(n);
  for (int u = 0; u < n; ++u) {
    p.units[u].name = builder.info().units[u].name;
    for (const auto& t : units[u]->parameters()) p.units[u].param_bytes += t.numel() * t.element_size();
  }
  const int sizes[2] = {p.microbatch_size(), p.batch_size};
  for (int which = 0; which < 2; ++which) {
    if (which == 1 && sizes[1] == sizes[0]) {
      for (auto& u : p.units) u.forward_batch_s = u.forward_micro_s, u.backward_batch_s = u.backward_micro_s;
      break;
    }
    at::Tensor x = random_inputs(spec, sizes[which], device, gen);
    const at::Tensor labels = torch::randint(0, std::max(1, spec.num_classes), {sizes[which]}, gen, torch::kLong).to(device);
    for (int u = 0; u < n; ++u) {
      const Timing t = time_unit(units[u], x, labels, u == n - 1, cfg, opts, device);
      UnitProfile& up = p.units[u];
      if (which == 0) {
        up.forward_micro_s = t.forward_s;
        up.backward_micro_s = t.backward_s;
        up.activation_bytes = t.activation_bytes;
        up.update_s = t.update_s;
      } else {
        up.forward_batch_s = t.forward_s;
        up.backward_batch_s = t.backward_s;
        up.update_s = 0.5 * (up.update_s + t.update_s);  // independent of the size: two samples of it
      }
      torch::NoGradGuard no_grad;
      x = units[u]->forward(x);
    }
  }
  p.cores = measure_cores(builder, spec, cfg, p.microbatch_size(), device);
  return p;
}

// A short calibration run of the engine on cfg's model and data: the synchronous weights, no evaluation,
// no divergence telemetry, op events kept. The caller sets the schedule, executor, stages and steps.
// Returns the run's op events (and its partition); throws naming `what` when the run does not complete.
std::vector<OpEvent> calibration_run(RunConfig c, const std::string& what, std::vector<int>* partition = nullptr) {
  c.strategy = StrategyConfig{};
  c.strategy.name = "latest";
  c.eval_every_epochs = 1000000;
  c.dataset.test_limit = 1;
  c.divergence_every = 0;
  c.telemetry = true;
  Session session(c);
  if (partition) *partition = session.partition();
  session.start();
  session.wait();
  const RunSummary sum = session.summary();
  if (sum.status != RunStatus::Completed)
    throw std::runtime_error("profile: the " + what + " run of " + c.model.name + " (" + c.schedule + ", " + c.executor +
                             ") " + to_string(sum.status) + ": " + sum.error);
  return session.drain().ops;
}

// The engine's own op times per unit: short runs with one unit per stage on the sequential executor
// (one op at a time, so no op shares the cores with another), no evaluation: a synchronous schedule
// (1f1b-flush) for F, B and U, and zb-h1 for the I and W of a split backward.
// Replaces each unit's microbatch-size times by its ops' typical cost (typical_op_cost), scales its
// minibatch-size times by the same factor, takes its update time from its U ops and its I and W times
// from zb-h1's.
void measure_in_engine(const RunConfig& cfg, const ProfileOptions& opts, ModelProfile& p) {
  const int n = static_cast<int>(p.units.size());
  const int warm = 2;
  // Per unit, per op kind: the seconds of the ops after the warm-up minibatches.
  using Times = std::map<OpKind, std::vector<std::vector<double>>>;
  auto run = [&](const std::string& schedule) {
    RunConfig c = cfg;
    c.stages = n;
    c.chunks = 0;
    c.partition.clear();
    for (int u = 1; u < n; ++u) c.partition.push_back(u);
    c.stage_devices.clear();
    c.executor = "sequential";
    c.schedule = schedule;
    c.steps = warm + opts.engine_minibatches;
    Times t;
    for (const OpEvent& ev : calibration_run(c, "in-engine")) {
      if (ev.minibatch < warm || ev.stage < 0 || ev.stage >= n) continue;
      auto& per_unit = t[ev.kind];
      per_unit.resize(static_cast<std::size_t>(n));
      per_unit[static_cast<std::size_t>(ev.stage)].push_back(1e-9 * double(ev.t_end_ns - ev.t_start_ns));
    }
    return t;
  };
  auto cost_of = [](const Times& t, OpKind kind, int u) {
    const auto it = t.find(kind);
    if (it == t.end() || it->second[static_cast<std::size_t>(u)].empty()) return 0.0;
    return typical_op_cost(it->second[static_cast<std::size_t>(u)]);
  };
  Times sync = run("1f1b-flush");
  Times split = run("zb-h1");
  for (int u = 0; u < n; ++u) {
    UnitProfile& up = p.units[u];
    if (const double t = cost_of(sync, OpKind::Forward, u); t > 0 && up.forward_micro_s > 0) {
      up.forward_batch_s *= t / up.forward_micro_s;
      up.forward_micro_s = t;
    }
    if (const double t = cost_of(sync, OpKind::Backward, u); t > 0 && up.backward_micro_s > 0) {
      up.backward_batch_s *= t / up.backward_micro_s;
      up.backward_micro_s = t;
    }
    if (const double t = cost_of(sync, OpKind::Update, u); t > 0) up.update_s = t;
    up.input_grad_micro_s = cost_of(split, OpKind::InputGrad, u);
    up.weight_grad_micro_s = cost_of(split, OpKind::WeightGrad, u);
  }
  p.in_engine = true;
}

// Steady-state throughput of a run's op events: the minibatches from `warm` on, over the time from the
// first op of minibatch `warm` to the end of the last op (the first minibatches pay for cold caches and
// allocations, which the simulator does not model). The same measure for measured and simulated events.
double steady_samples_per_second(const std::vector<OpEvent>& ops, int warm, int batch_size) {
  std::int64_t t0 = std::numeric_limits<std::int64_t>::max(), t1 = 0;
  int last = -1;
  for (const OpEvent& ev : ops) {
    if (ev.minibatch < warm) continue;
    t0 = std::min(t0, ev.t_start_ns);
    t1 = std::max(t1, ev.t_end_ns);
    last = std::max(last, ev.minibatch);
  }
  if (last < warm || t1 <= t0) return 0;
  return double(last + 1 - warm) * batch_size / (1e-9 * double(t1 - t0));
}

// Minibatches of `microbatch` samples that keep a calibration run busy for about `seconds` on one
// thread (from the profile's own op times), at least `least`: this VM's speed moves within a second,
// and a run of a few milliseconds measures one moment of it.
int minibatches_for(const ModelProfile& p, double seconds, int least) {
  double step = 0;
  for (const auto& u : p.units) step += u.forward_micro_s + u.backward_micro_s + u.update_s;
  return step > 0 ? std::clamp(static_cast<int>(seconds / step), least, 4000) : least;
}

// ModelProfile::link_latency_s: the sequential schedule (one op at a time, every receiver idle when its
// input is sent) on 2 stages split at the middle unit, one microbatch per minibatch, on the threaded
// executor and on the sequential one. Per hand-off: the receiver's wait (its op's start minus the
// sender's op's end, threaded), plus how much longer the receiving op took threaded than sequential.
// Medians over the minibatches after the warm-up, the forward and the backward hand-off averaged;
// 0 where there is nothing to measure (one unit, CUDA).
double measure_link_latency(const RunConfig& cfg, const ProfileOptions& opts, const ModelProfile& p) {
  const int units = static_cast<int>(p.units.size());
  if (units < 2 || cfg.device == "cuda") return 0;  // no hand-off between CPU stage threads to measure
  const int warm = 2, minibatches = minibatches_for(p, 0.25, std::max(12, 2 * opts.engine_minibatches));
  using Pass = std::tuple<int, OpKind, std::int64_t>;  // stage, F or B, minibatch
  auto run = [&](const std::string& executor) {
    RunConfig c = cfg;
    c.stages = 2;
    c.chunks = 0;
    c.partition = {units / 2};
    c.stage_devices.clear();
    c.executor = executor;
    c.schedule = "sequential";
    c.microbatches = 1;
    c.batch_size = p.microbatch_size();
    c.steps = warm + minibatches;
    std::map<Pass, OpEvent> ops;
    for (const OpEvent& ev : calibration_run(c, "link-latency"))
      if (ev.minibatch >= warm && (ev.kind == OpKind::Forward || ev.kind == OpKind::Backward))
        ops[{ev.stage, ev.kind, ev.minibatch}] = ev;
    return ops;
  };
  const auto threaded = run("threaded");
  const auto sequential = run("sequential");
  // The hand-off of pass `kind` from stage `from` to stage `to` (F: 0 -> 1, B: 1 -> 0), in seconds.
  auto handoff = [&](OpKind kind, int from, int to) {
    std::vector<double> wait, dur_threaded, dur_sequential;
    auto secs = [](std::int64_t ns) { return 1e-9 * double(ns); };
    for (std::int64_t m = warm; m < warm + minibatches; ++m) {
      const auto s = threaded.find({from, kind, m}), r = threaded.find({to, kind, m}), q = sequential.find({to, kind, m});
      if (s == threaded.end() || r == threaded.end() || q == sequential.end()) continue;
      wait.push_back(secs(r->second.t_start_ns - s->second.t_end_ns));
      dur_threaded.push_back(secs(r->second.t_end_ns - r->second.t_start_ns));
      dur_sequential.push_back(secs(q->second.t_end_ns - q->second.t_start_ns));
    }
    return wait.empty() ? 0.0 : median_of(wait) + median_of(dur_threaded) - median_of(dur_sequential);
  };
  return std::max(0.0, 0.5 * (handoff(OpKind::Forward, 0, 1) + handoff(OpKind::Backward, 1, 0)));
}

// ModelProfile::processes_latency_s: the processes link's hand-off (dist::probe_processes_hand_off) for a
// frame of the activation measure_link_latency hands over (the middle unit's, one microbatch), each rank
// working between frames for about one stage's forward of a 2-stage split (0.2 to 2 ms), about 0.15 s in
// all; the mean of the frames' one-way times.
// 0 where there is nothing to measure (one unit, CUDA: its processes talk over NCCL).
double measure_processes_latency(const RunConfig& cfg, const ModelProfile& p) {
  const int units = static_cast<int>(p.units.size());
  if (units < 2 || cfg.device == "cuda") return 0;
  double forward = 0;
  for (const auto& u : p.units) forward += u.forward_micro_s;
  const double gap_s = std::clamp(0.5 * forward, 2e-4, 2e-3);
  const int rounds = std::clamp(static_cast<int>(0.15 / (gap_s + 3e-4)), 20, 200);
  const std::int64_t bytes = std::max<std::int64_t>(1, p.activation_bytes(units / 2 - 1, p.microbatch_size()));
  return dist::probe_processes_hand_off(bytes, std::chrono::microseconds(static_cast<std::int64_t>(gap_s * 1e6)), rounds)
      .mean_s;
}

// ModelProfile::switch_s: 1f1b-async on twice the hardware threads' stages (the session's own split),
// whole minibatches of the microbatch size, threaded; then the switch cost at which the simulator, on
// this profile's op times, cores and hand-off, reaches the measured steady throughput (bisection: the
// simulated throughput falls as the cost grows). Needs as many layer units as stages; CPU only.
void measure_switch_cost(const RunConfig& cfg, const ProfileOptions& opts, ModelProfile& p) {
  const int hw = std::max(1u, std::thread::hardware_concurrency());
  const int stages = 2 * hw;
  const int n = static_cast<int>(p.units.size());
  p.switch_s = 0;
  if (hw < 2 || stages > n || cfg.device == "cuda" || p.cores <= 0) return;
  constexpr int kWarm = 2;
  // About 0.5 s of work, over the cores: long enough to average this VM's moments.
  const int minibatches = minibatches_for(p, 0.5 * hw, std::max(24, 4 * opts.engine_minibatches));
  RunConfig c = cfg;
  c.stages = stages;
  c.chunks = 0;
  c.partition.clear();
  c.stage_devices.clear();
  c.executor = "threaded";
  c.schedule = "1f1b-async";
  c.microbatches = 1;
  c.batch_size = p.microbatch_size();
  c.steps = kWarm + minibatches;
  std::vector<int> partition;
  const double measured = steady_samples_per_second(calibration_run(c, "switch-cost", &partition), kWarm, c.batch_size);
  if (measured <= 0) return;
  // The profile at the run's size: every op of a minibatch of microbatch_size() samples.
  ModelProfile q = p;
  q.batch_size = p.microbatch_size();
  q.microbatches = 1;
  for (auto& u : q.units) u.forward_batch_s = u.forward_micro_s, u.backward_batch_s = u.backward_micro_s;
  auto simulated = [&](double switch_s) {
    SimOptions so;
    so.schedule = c.schedule;
    so.minibatches = static_cast<int>(c.steps);
    so.boundaries = partition;
    q.apply_machine(so, hw);
    so.switch_s = switch_s;
    return steady_samples_per_second(simulate(q, so).ops, kWarm, q.batch_size);
  };
  // The cost lies between nothing and the mean op's work several times over.
  double op = 0;
  for (const auto& u : q.units) op += u.forward_micro_s + u.backward_micro_s;
  op /= double(stages);
  double lo = 0, hi = 4 * op;
  if (simulated(lo) <= measured) {
    hi = lo;
  } else if (simulated(hi) >= measured) {
    lo = hi;
  } else {
    for (int i = 0; i < 30 && hi - lo > 1e-7; ++i) {
      const double mid = 0.5 * (lo + hi);
      (simulated(mid) > measured ? lo : hi) = mid;
    }
  }
  p.switch_s = 0.5 * (lo + hi);
}

}  // namespace

ModelInfo model_info_for(const RunConfig& cfg) { return ModelBuilder(cfg.model, input_spec_for(cfg)).info(); }

ModelProfile profile_model(const RunConfig& cfg, const ProfileOptions& opts) {
  if (cfg.batch_size < 1) throw InputError(cfg.source, "batch_size", "must be at least 1");
  if (opts.warmup < 0 || opts.iterations < 1)
    throw InputError("", "profile", "needs warmup >= 0 and at least one timed iteration");
  const std::string dir = opts.cache_dir.empty() ? profile_cache_dir() : opts.cache_dir;
  const std::string path = dir + "/" + profile_key(cfg) + ".json";
  // "(the median of N kept)" where the profile is one (keep_profile).
  const auto kept_note = [](const ModelProfile& p) {
    return p.profiles > 1 ? " (the median of " + std::to_string(p.profiles) + " kept)" : std::string();
  };
  const std::optional<std::string> cached =
      opts.use_cache && !opts.refresh && !opts.again ? read_text_file(path) : std::nullopt;
  if (cached) {
    try {
      ModelProfile p = profile_from_json(*cached, path);
      if (p.key == profile_key(cfg) && p.cores > 0 &&
          ((p.in_engine && p.split_measured() && p.link_latency_s >= 0 && p.switch_s >= 0 && p.processes_latency_s >= 0) ||
           opts.engine_minibatches <= 0)) {
        if (opts.verbose) std::fprintf(stderr, "profile: cached %s%s\n", path.c_str(), kept_note(p).c_str());
        return p;
      }
    } catch (const InputError& e) {
      std::fprintf(stderr, "profile: ignoring unreadable cache (%s)\n", e.what());
    }
  }
  if (opts.verbose) std::fprintf(stderr, "profile: measuring %s on %s ...\n", cfg.model.name.c_str(), cfg.device.c_str());
  ModelProfile p = measure(cfg, opts);
  if (opts.engine_minibatches > 0) {
    measure_in_engine(cfg, opts, p);
    p.link_latency_s = measure_link_latency(cfg, opts, p);
    p.processes_latency_s = measure_processes_latency(cfg, p);
    measure_switch_cost(cfg, opts, p);
  }
  if (opts.use_cache) {
    try {
      p = keep_profile(dir, p, opts.keep, opts.refresh);
      if (opts.verbose) std::fprintf(stderr, "profile: saved %s%s\n", path.c_str(), kept_note(p).c_str());
    } catch (const InputError& e) {
      std::fprintf(stderr, "profile: could not save it (%s)\n", e.what());
    }
  }
  return p;
}

// ---- bench simulator ----------------------------------------------------------------------------------
namespace {

// The cores this process can use right now: `hw` threads spin on the same fixed work at once, and the
// speed-up over one thread doing it alone says how many cores they really got (fewer than `hw` on a
// machine shared with other jobs). The median of 3 side-by-side pairs (paired_speedup).
double effective_cores(int hw) {
  auto work = [] {
    volatile double x = 0;
    for (int i = 0; i < 20000000; ++i) x = x + i * 1e-9;
  };
  return paired_speedup(hw, [&](int threads) {
    const auto t0 = Clock::now();
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) pool.emplace_back(work);
    for (auto& th : pool) th.join();
    return std::chrono::duration<double>(Clock::now() - t0).count();
  });
}

}  // namespace


double run_simulator_benchmark(const BenchOptions& opts, std::FILE* out) {
  constexpr int kWarm = 2;
  if (opts.steps < kWarm + 2) throw InputError("command line", "--steps", "bench simulator needs at least 4 steps");
  std::string path = opts.preset;
#ifdef PIPESCOPE_SOURCE_DIR
  if (path.empty()) path = std::string(PIPESCOPE_SOURCE_DIR) + "/presets/default.json";
#endif
  RunConfig base = load_preset(path);
  base.steps = opts.steps;
  base.threads_per_stage = 1;
  base.eval_every_epochs = 1000000;
  base.dataset.test_limit = 1;
  base.partition.clear();
  // The device model: one virtual device per stage (each stage is a worker thread), but the threads
  // share this machine's cores. With `cores` set, the simulator lets at most that many ops progress at
  // full speed and slows all running ops evenly beyond it (processor sharing, as the OS time-slices).
  // `cores` is what this process gets now (effective_cores), which on a shared machine is below the count.
  const int hw = std::max(1u, std::thread::hardware_concurrency());
  // The model's own parallel speed-up (profile.cores) says how the stage threads share the cores; a
  // spinning scalar loop (effective_cores) would say 2 on two hyperthreads that give DNN work far less.
  const double spin = effective_cores(hw);
  const int n_units = static_cast<int>(model_info_for(base).units.size());
  std::vector<int> stage_counts;
  for (int S : {1, 2, 4})
    if (S <= n_units) stage_counts.push_back(S);
  // Rounds: every round profiles afresh (not the cache: this VM's speed moves by 10-20% within
  // minutes) and runs every stage count; then every run is simulated on the median of the rounds'
  // profiles (median_profile: one profile moves by 10-35% in a slow spell, more than the runs). The result
  // per stage count is the median round's predicted/measured.
  struct Acc {
    std::vector<double> measured, predicted, ratio, bubble_meas, bubble_pred;
    std::vector<int> partition;
  };
  std::map<int, Acc> acc;
  std::vector<ModelProfile> profiles;
  std::vector<double> cores_used, latency, switch_cost, model_cores;
  for (int r = 0; r < opts.repeats; ++r) {
    ProfileOptions popts;
    popts.use_cache = false;  // the round's own, and the cache's kept profiles stay the user's
    profiles.push_back(profile_model(base, popts));
    for (int S : stage_counts) {
      RunConfig cfg = base;
      cfg.stages = S;
      Acc& a = acc[S];
      Session session(cfg);
      a.partition = session.partition();
      session.start();
      session.wait();
      const RunSummary sum = session.summary();
      if (sum.status != RunStatus::Completed) throw std::runtime_error("benchmark run failed: " + sum.error);
      a.measured.push_back(steady_samples_per_second(session.drain().ops, kWarm, base.batch_size));
      a.bubble_meas.push_back(sum.bubble_fraction_measured);
    }
  }
  const ModelProfile profile = median_profile(profiles);
  for (const ModelProfile& p : profiles) {
    model_cores.push_back(p.cores);
    cores_used.push_back(p.cores > 0 ? std::min(p.cores, spin) : spin);
    latency.push_back(std::max(0.0, p.link_latency_s));
    switch_cost.push_back(std::max(0.0, p.switch_s));
  }
  const double cores = profile.cores > 0 ? std::min(profile.cores, spin) : spin;
  for (int S : stage_counts) {
    Acc& a = acc[S];
    SimOptions so;
    so.schedule = base.schedule;
    so.microbatches = base.microbatches;
    so.minibatches = int(base.steps);
    so.boundaries = a.partition;
    so.replicas = S;
    profile.apply_machine(so, hw);
    so.cores = cores;  // what this process gets now, the model's parallel speed-up at most
    const SimResult sim = simulate(profile, so);
    const double predicted = steady_samples_per_second(sim.ops, kWarm, base.batch_size);
    for (double measured : a.measured) {
      a.predicted.push_back(predicted);
      a.ratio.push_back(measured > 0 ? predicted / measured : 0);
      a.bubble_pred.push_back(sim.bubble_fraction);
    }
  }
  std::fprintf(out,
               "simulator: %s, model %s, schedule %s, M=%d, batch %d, %d steps, %d cores (%.2f free now; the model's "
               "passes run %.2fx in parallel: simulated as %.2f cores; a hand-off between stage threads costs %.0f us, "
               "a switch %.0f us; medians over the rounds), %d rounds, each profiled afresh, every run simulated on the "
               "median profile; throughput in steady state "
               "(minibatches %d..%d)\n",
               path.c_str(), base.model.name.c_str(), base.schedule.c_str(), base.microbatches, base.batch_size,
               opts.steps, hw, spin, median_of(model_cores), median_of(cores_used), 1e6 * median_of(latency),
               1e6 * median_of(switch_cost), opts.repeats, kWarm, opts.steps - 1);
  std::fprintf(out, "%-7s %-12s %14s %14s %9s %12s %12s   %s\n", "stages", "partition", "predicted/s", "measured/s",
               "error", "bubble pred", "bubble meas", "predicted/measured per round");
  double max_error = 0;
  for (int S : stage_counts) {
    const Acc& a = acc[S];
    const double error = std::abs(median_of(a.ratio) - 1.0);
    max_error = std::max(max_error, error);
    std::string parts;
    for (int b : a.partition) parts += (parts.empty() ? "" : ",") + std::to_string(b);
    const std::string rounds = join_fixed(a.ratio, 3);
    std::fprintf(out, "%-7d %-12s %14.1f %14.1f %+8.1f%% %12.3f %12.3f   %s\n", S, parts.empty() ? "-" : parts.c_str(),
                 median_of(a.predicted), median_of(a.measured), 100 * (median_of(a.ratio) - 1.0), median_of(a.bubble_pred),
                 median_of(a.bubble_meas), rounds.c_str());
  }
  std::fprintf(out, "simulator: max_error=%.3f\n", max_error);
  return max_error;
}

}  // namespace ps
