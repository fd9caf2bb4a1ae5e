#include "engine/session/session.h"

#include <filesystem>

#include "engine/data/dataset.h"
#include "engine/models/model.h"
#include "engine/partition/partition.h"
#include "engine/runtime/pipeline.h"
#include "engine/schedule/schedule.h"
#include "engine/session/run_stats.h"
#include "engine/session/weights_digest.h"
#include "engine/strategy/strategy_info.h"
#include "engine/telemetry/outputs.h"
#include "engine/telemetry/ring.h"
#include "engine/telemetry/trace_writer.h"
#include "engine/util/errors.h"

namespace ps {

using Clock = std::chrono::steady_clock;

struct Session::Impl {
  RunConfig cfg;
  SessionOptions opts;
  DataSplit data;
  std::unique_ptr<ModelBuilder> builder;
  std::vector<int> boundaries;
  std::vector<StageRange> ranges;
  std::vector<std::string> devices;
  std::unique_ptr<BatchSource> batches;
  std::unique_ptr<Pipeline> pipeline;
  std::int64_t total_steps = 0;

  RunControl control;
  std::vector<std::unique_ptr<SpscRing<OpEvent>>> rings;  // one producer each: the stage's worker
  std::mutex results_mu;
  std::vector<MinibatchResult> results;  // from the last stage, in minibatch order
  std::map<std::int64_t, MinibatchResult> partial;  // data parallel: shares so far
  bool replicas = false;
  std::unique_ptr<AllReduce> all_reduce;
  std::vector<EvalMetrics> evals;        // from the driver, guarded by results_mu

  std::thread driver, collector;
  std::atomic<bool> started{false}, driver_done{false};
  Clock::time_point origin;
  std::atomic<std::int64_t> steps_done{0};
  std::int64_t pipeline_ns = 0;  // time spent in pipeline segments (not evaluation)

  mutable std::mutex mu;  // guards what follows
  RunStatus status = RunStatus::Idle;
  std::string error;
  TelemetryBatch pending;
  RunStats stats{1};
  StepMetrics last_step;
  std::optional<EvalMetrics> last_eval;
  std::deque<std::pair<double, std::int64_t>> rate_window;  // (wall seconds, samples)

  std::string final_digest;
  std::atomic<bool> summary_written{false};

  std::unique_ptr<MetricsCsvWriter> metrics_csv;
  std::unique_ptr<LedgerCsvWriter> ledger_csv;
  std::unique_ptr<TraceWriter> trace;

  void build();
  void drive();
  void collect_loop();
  void collect();
  EvalMetrics evaluate(int epoch);
  RunSummary make_summary() const;  // mu held
  void write_outputs_final();
};

void Session::Impl::build() {
  validate(cfg);
  const ScheduleInfo& sched = schedule_info(cfg.schedule);
  replicas = sched.replicas;
  resolve_strategy_params(cfg.strategy, cfg.schedule, cfg.source);
  if (cfg.device == "cuda" && !torch::cuda::is_available())
    throw InputError(cfg.source, "device", "CUDA was asked for, but this LibTorch has no CUDA device available");

  data = load_dataset(cfg.dataset, cfg.seed);
  if (data.train.size() < cfg.batch_size)
    throw InputError(cfg.source, "batch_size",
                     "batch size " + std::to_string(cfg.batch_size) + " is larger than the training set (" +
                         std::to_string(data.train.size()) + " samples)");
  builder = std::make_unique<ModelBuilder>(cfg.model, data.input);
  const int units = builder->num_units();
  if (replicas) {
    ranges.assign(static_cast<std::size_t>(cfg.stages), StageRange{0, units - 1});  // whole model each
  } else {
    if (!cfg.partition.empty()) {
      validate_partition(cfg.partition, units, cfg.source);
      boundaries = cfg.partition;
    } else {
      boundaries = balanced_partition(builder->info(), cfg.stages, cfg.source);
    }
    ranges = stage_ranges(boundaries, units);
  }
  const int S = static_cast<int>(ranges.size());
  if (replicas) all_reduce = std::make_unique<AllReduce>(S);
  schedule_info(cfg.schedule);
  make_schedule(cfg.schedule, S, cfg.microbatches, 1);  // refuses bad combinations up front

  batches = std::make_unique<BatchSource>(data.train, cfg.batch_size, cfg.seed);
  total_steps = cfg.steps > 0 ? cfg.steps : cfg.epochs * batches->steps_per_epoch();
  const auto strategy_params = resolve_strategy_params(cfg.strategy, cfg.schedule, cfg.source);

  torch::manual_seed(cfg.seed);  // stages built in unit order: the same initial weights for any partition
  std::vector<std::unique_ptr<StageRuntime>> stages;
  stats = RunStats(S);
  for (int k = 0; k < S; ++k) {
    rings.push_back(std::make_unique<SpscRing<OpEvent>>(1 << 16));
    c10::Device device(c10::kCPU);
    if (k < static_cast<int>(cfg.stage_devices.size())) device = c10::Device(cfg.stage_devices[k]);
    else if (cfg.device == "cuda") device = c10::Device(c10::kCUDA, k % std::max<int>(1, torch::cuda::device_count()));
    devices.push_back(device.is_cpu() ? "cpu:" + std::to_string(k) : device.str());
    StageSetup s;
    s.index = k;
    s.num_stages = S;
    s.device = device;
    const int first = ranges[k].first, last = ranges[k].last;
    if (replicas) {
      torch::manual_seed(cfg.seed);  // every replica starts from the same weights
      s.replica = k;
      s.replicas = S;
      s.all_reduce = all_reduce.get();
    }
    s.module = builder->build_units(first, last + 1);
    const ModelBuilder* b = builder.get();
    s.make_replica = [b, first, last] { return b->build_units(first, last + 1); };
    s.optimizer = cfg.optimizer;
    s.lr_schedule = cfg.lr_schedule;
    s.total_steps = total_steps;
    s.strategy = make_strategy(cfg.strategy.name, strategy_params, k, S);
    s.batches = batches.get();
    s.microbatches = cfg.microbatches;
    s.divergence_every = cfg.divergence_every;
    SpscRing<OpEvent>* ring = rings.back().get();
    if (cfg.telemetry) s.on_op = [ring](const OpEvent& ev) { ring->try_push(ev); };
    if (k == S - 1 || replicas)
      s.on_minibatch = [this](const MinibatchResult& part) {
        // Data-parallel replicas each report their share; a minibatch is done when all shares are in.
        std::lock_guard<std::mutex> lock(results_mu);
        MinibatchResult& r = partial[part.minibatch];
        r.minibatch = part.minibatch;
        r.loss += part.loss;
        r.correct += part.correct;
        r.count += part.count;
        if (r.count < cfg.batch_size) return;
        results.push_back(r);
        partial.erase(part.minibatch);
        steps_done = r.minibatch + 1;
      };
    stages.push_back(std::make_unique<StageRuntime>(std::move(s)));
  }
  pipeline = std::make_unique<Pipeline>(std::move(stages),
                                        cfg.executor == "sequential" ? ExecutorKind::Sequential : ExecutorKind::Threaded,
                                        cfg.threads_per_stage, cfg.microbatches, replicas);

  if (!opts.out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(opts.out_dir, ec);
    if (ec) throw InputError(opts.out_dir, "", "cannot create the output directory: " + ec.message());
    metrics_csv = std::make_unique<MetricsCsvWriter>(opts.out_dir + "/metrics.csv");
    ledger_csv = std::make_unique<LedgerCsvWriter>(opts.out_dir + "/ledger.csv");
  }
  if (!opts.trace_path.empty()) trace = std::make_unique<TraceWriter>(opts.trace_path, devices);
}

EvalMetrics Session::Impl::evaluate(int epoch) {
  EvalMetrics m;
  m.step = steps_done;
  m.epoch = epoch;
  torch::NoGradGuard no_grad;
  set_intra_op_threads(std::max(1, cfg.threads_per_stage * pipeline->num_stages()));
  const std::int64_t n = data.test.size();
  double loss_sum = 0;
  std::int64_t correct = 0;
  for (std::int64_t i = 0; i < n; i += 1000) {
    const std::int64_t e = std::min(n, i + 1000);
    at::Tensor logits = pipeline->infer(data.test.inputs.slice(0, i, e)).to(torch::kCPU);
    at::Tensor y = data.test.labels.slice(0, i, e);
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    correct += (logits.argmax(1) == y).sum().item<std::int64_t>();
  }
  m.test_loss = n ? loss_sum / n : 0;
  m.test_accuracy = n ? double(correct) / n : 0;
  m.wall_seconds = std::chrono::duration<double>(Clock::now() - origin).count();
  return m;
}

void Session::Impl::drive() {
  RunStatus final_status = RunStatus::Completed;
  std::string final_error;
  try {
    const int S = pipeline->num_stages();
    const std::int64_t per_epoch = batches->steps_per_epoch();
    std::int64_t done = 0;
    int epoch = 0;
    bool evaluated_last = false;
    while (done < total_steps) {
      const std::int64_t n = std::min(per_epoch - done % per_epoch, total_steps - done);
      auto ops = make_schedule(cfg.schedule, S, cfg.microbatches, static_cast<int>(n));
      const auto t0 = Clock::now();
      const bool ok = pipeline->run(ops, done, control, origin);
      pipeline_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
      if (!ok) {
        final_status = RunStatus::Stopped;
        break;
      }
      done += n;
      epoch = static_cast<int>(done / per_epoch);
      const bool epoch_end = done % per_epoch == 0;
      evaluated_last = false;
      if ((epoch_end && epoch % std::max(1, cfg.eval_every_epochs) == 0) || done >= total_steps) {
        EvalMetrics m = evaluate(std::max(0, epoch - (epoch_end ? 1 : 0)));
        std::lock_guard<std::mutex> lock(results_mu);
        evals.push_back(m);
        evaluated_last = true;
      }
    }
    (void)evaluated_last;
  } catch (const PipelineError& e) {
    final_status = e.reason().find("not finite") != std::string::npos ? RunStatus::Diverged : RunStatus::Failed;
    final_error = e.what();
  } catch (const std::exception& e) {
    final_status = RunStatus::Failed;
    final_error = e.what();
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    status = final_status;
    error = final_error;
  }
  driver_done = true;
}

void Session::Impl::collect() {
  std::vector<OpEvent> ops;
  for (auto& r : rings) r->pop_all(ops);
  std::vector<MinibatchResult> res;
  std::vector<EvalMetrics> ev;
  {
    std::lock_guard<std::mutex> lock(results_mu);
    res.swap(results);
    ev.swap(evals);
  }
  std::vector<StepMetrics> steps;
  const double now = std::chrono::duration<double>(Clock::now() - origin).count();
  std::lock_guard<std::mutex> lock(mu);
  for (const auto& r : res) {
    StepMetrics m;
    m.step = r.minibatch + 1;
    m.epoch = static_cast<int>(r.minibatch / batches->steps_per_epoch());
    m.samples = m.step * cfg.batch_size;
    m.train_loss = r.loss;
    m.train_acc = r.count ? double(r.correct) / r.count : 0;
    m.lr = scheduled_lr(cfg.optimizer, cfg.lr_schedule, r.minibatch, total_steps);
    m.wall_seconds = now;
    rate_window.emplace_back(now, m.samples);
    while (rate_window.size() > 2 && rate_window.front().first < now - 2.0) rate_window.pop_front();
    const double dt = rate_window.back().first - rate_window.front().first;
    m.samples_per_second = dt > 0 ? (rate_window.back().second - rate_window.front().second) / dt
                                  : (now > 0 ? m.samples / now : 0);
    steps.push_back(m);
    last_step = m;
  }
  for (const auto& op : ops) stats.add(op);
  if (!ev.empty()) last_eval = ev.back();
  try {
    if (ledger_csv && !ops.empty()) ledger_csv->append(ops);
    if (metrics_csv && (!steps.empty() || !ev.empty())) metrics_csv->append(steps, ev);
    if (trace && !ops.empty()) {
      TelemetryBatch b;
      b.ops = ops;
      trace->add(b);
    }
  } catch (const std::exception& e) {
    if (error.empty()) error = e.what();
  }
  pending.ops.insert(pending.ops.end(), ops.begin(), ops.end());
  if (pending.ops.size() > opts.ui_buffer_ops) {
    const std::size_t drop = pending.ops.size() - opts.ui_buffer_ops;
    pending.ops.erase(pending.ops.begin(), pending.ops.begin() + static_cast<std::ptrdiff_t>(drop));
    pending.dropped_ops += static_cast<std::int64_t>(drop);
  }
  pending.steps.insert(pending.steps.end(), steps.begin(), steps.end());
  pending.evals.insert(pending.evals.end(), ev.begin(), ev.end());
}

void Session::Impl::collect_loop() {
  while (!driver_done) {
    collect();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  collect();
  write_outputs_final();
  summary_written = true;
}

RunSummary Session::Impl::make_summary() const {
  RunSummary s;
  s.status = status;
  s.error = error;
  s.model = cfg.model.name;
  s.dataset = cfg.dataset.name;
  s.schedule = cfg.schedule;
  s.strategy = cfg.strategy.name;
  s.stages = pipeline ? pipeline->num_stages() : 0;
  s.microbatches = cfg.microbatches;
  s.steps = last_step.step;
  s.samples = last_step.samples;
  s.final_train_loss = last_step.train_loss;
  if (last_eval) {
    s.test_accuracy = last_eval->test_accuracy;
    s.test_loss = last_eval->test_loss;
  }
  s.wall_seconds = started ? std::chrono::duration<double>(Clock::now() - origin).count() : 0;
  const double pipe_s = pipeline_ns * 1e-9;
  s.samples_per_second = pipe_s > 0 ? s.samples / pipe_s : last_step.samples_per_second;
  s.bubble_fraction_ideal = ideal_bubble_fraction(cfg.schedule, s.stages, cfg.microbatches);
  double util_sum = 0;
  for (int k = 0; k < s.stages; ++k) {
    const StageRuntime& st = pipeline->stage(k);
    StageSummary ss;
    ss.stage = k;
    ss.device = devices[k];
    ss.first_layer = ranges[k].first;
    ss.last_layer = ranges[k].last;
    ss.params = st.params_count();
    ss.utilization = pipeline_ns > 0 ? std::min(1.0, double(st.busy_ns()) / double(pipeline_ns)) : 0;
    ss.weight_copies_max = st.weight_copies_max();
    ss.weight_bytes_max = st.weight_bytes_max();
    ss.activation_bytes_max = st.activation_bytes_max();
    util_sum += ss.utilization;
    s.per_stage.push_back(ss);
  }
  stats.fill(s.per_stage);
  s.bubble_fraction_measured = s.stages ? 1.0 - util_sum / s.stages : 0;
  return s;
}

void Session::Impl::write_outputs_final() {
  RunSummary s;
  {
    std::lock_guard<std::mutex> lock(mu);
    s = make_summary();
  }
  std::vector<std::vector<at::Tensor>> weights;
  // Data-parallel replicas hold identical weights: the digest is the model's, as for one device.
  const int holders = replicas ? 1 : pipeline->num_stages();
  for (int k = 0; k < holders; ++k) weights.push_back(pipeline->stage(k).live_params());
  s.weights_digest = weights_digest(weights);
  {
    std::lock_guard<std::mutex> lock(mu);
    final_digest = s.weights_digest;
  }
  try {
    if (trace) trace->finish();
    if (!opts.out_dir.empty()) write_summary_json(opts.out_dir + "/summary.json", s);
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lock(mu);
    if (error.empty()) error = e.what();
  }
}

Session::Session(RunConfig cfg, SessionOptions opts) : impl_(std::make_unique<Impl>()) {
  impl_->cfg = std::move(cfg);
  impl_->opts = std::move(opts);
  impl_->build();
}

Session::~Session() {
  stop();
  if (impl_->driver.joinable()) impl_->driver.join();
  if (impl_->collector.joinable()) impl_->collector.join();
}

const RunConfig& Session::config() const { return impl_->cfg; }
const ModelInfo& Session::model_info() const { return impl_->builder->info(); }
std::vector<int> Session::partition() const { return impl_->boundaries; }

void Session::start() {
  if (impl_->started.exchange(true)) return;
  impl_->origin = Clock::now();
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->status = impl_->control.paused() ? RunStatus::Paused : RunStatus::Running;
  }
  if (!impl_->opts.out_dir.empty()) {
    std::lock_guard<std::mutex> lock(impl_->mu);
    write_summary_json(impl_->opts.out_dir + "/summary.json", impl_->make_summary());
  }
  impl_->driver = std::thread([this] { impl_->drive(); });
  impl_->collector = std::thread([this] { impl_->collect_loop(); });
}

void Session::pause() {
  impl_->control.pause();
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->status == RunStatus::Running) impl_->status = RunStatus::Paused;
}

void Session::resume() {
  impl_->control.resume();
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->status == RunStatus::Paused) impl_->status = RunStatus::Running;
}

void Session::step(int ops) { impl_->control.step(ops); }
void Session::stop() { impl_->control.stop(); }
void Session::set_op_delay(std::chrono::microseconds delay) { impl_->control.set_delay(delay); }

bool Session::wait_for(std::chrono::milliseconds timeout) {
  if (!impl_->started) return false;
  const auto until = Clock::now() + timeout;
  while (!(impl_->driver_done && impl_->summary_written)) {
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (impl_->driver.joinable()) impl_->driver.join();
  if (impl_->collector.joinable()) impl_->collector.join();
  return true;
}

void Session::wait() {
  while (!wait_for(std::chrono::milliseconds(100))) {
    if (!impl_->started) return;
  }
}

RunStatus Session::status() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->status;
}

RunSummary Session::summary() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  RunSummary s = impl_->make_summary();
  s.weights_digest = impl_->final_digest;
  return s;
}

TelemetryBatch Session::drain() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  TelemetryBatch out;
  std::swap(out, impl_->pending);
  return out;
}

double Session::progress() const {
  return impl_->total_steps ? double(impl_->steps_done) / double(impl_->total_steps) : 0;
}

}  // namespace ps
