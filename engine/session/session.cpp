// The session: builds the run (build), drives its segments through the pipeline (drive), and the public
// facade. The collector thread (telemetry, summaries, outputs) is in session_outputs.cpp, checkpoints in
// session_checkpoint.cpp, live repartition in repartition.cpp, the processes executor's side in
// session_ranks.cpp; the state they share is session_impl.h.
#include "engine/session/session.h"

#include "engine/session/pinning.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "engine/schedule/schedule.h"
#include "engine/session/repartition.h"
#include "engine/session/session_impl.h"
#include "engine/session/weights_digest.h"
#include "engine/strategy/strategy_info.h"
#include "engine/util/errors.h"
#include "engine/util/initial_weights.h"
#include "engine/util/this_thread.h"

namespace ps {

void Session::Impl::build() {
  validate(cfg);
  const ScheduleInfo& sched = schedule_info(cfg.schedule);
  whole_model = sched.replicas;
  replicas = whole_model ? cfg.stages : cfg.replicas;
  resolve_strategy_params(cfg.strategy, cfg.schedule, cfg.source);
  if (cfg.device == "cuda" && !torch::cuda::is_available())
    throw InputError(cfg.source, "device", "CUDA was asked for, but this LibTorch has no CUDA device available");
  for (std::size_t k = 0; k < cfg.stage_devices.size(); ++k)
    if (cfg.stage_devices[k].rfind("cuda", 0) == 0 && !torch::cuda::is_available())
      throw InputError(cfg.source, "stage_devices[" + std::to_string(k) + "]",
                       "'" + cfg.stage_devices[k] + "' asks for CUDA, but this LibTorch has no CUDA device available");
  if (cfg.executor == "processes") join_ranks();  // before the data: a mismatch between ranks fails fast

  // Errors of the data loaders and the model builder name the field; the preset is the file they are in.
  auto in_preset = [&](auto&& make) {
    try {
      return make();
    } catch (const DataError&) {
      throw;  // names the data file itself
    } catch (const InputError& e) {
      if (!e.file().empty()) throw;
      throw InputError(cfg.source, e.field(), e.reason());
    }
  };
  data = in_preset([&] { return load_dataset(cfg.dataset, cfg.seed); });
  if (data.train.size() < cfg.batch_size)
    throw InputError(cfg.source, "batch_size",
                     "batch size " + std::to_string(cfg.batch_size) + " is larger than the training set (" +
                         std::to_string(data.train.size()) + " samples)");
  builder = in_preset([&] { return std::make_unique<ModelBuilder>(cfg.model, data.input); });
  const int units = builder->num_units();
  chunks_per_device = whole_model ? 1 : cfg.chunks_per_device();
  if (whole_model) {
    ranges.assign(1, StageRange{0, units - 1});  // one chunk: the whole model
  } else {
    if (!cfg.partition.empty()) {
      validate_partition(cfg.partition, units, cfg.source);
      boundaries = cfg.partition;
    } else {
      boundaries = balanced_partition(builder->info(), cfg.stages * chunks_per_device, cfg.source);
    }
    ranges = stage_ranges(boundaries, units);
  }
  group = static_cast<int>(ranges.size());  // chunks of one replica's pipeline
  const int P = group / chunks_per_device;  // its devices (stages)
  try {
    // The data-parallel schedule's lists are per replica; the others' per stage of one replica's pipeline.
    check_schedule(cfg.schedule, whole_model ? replicas : P, cfg.microbatches, chunks_per_device);
  } catch (const InputError& e) {
    throw InputError(cfg.source, e.field(), e.reason());
  }
  // Replica r holds chunks r*group .. (r+1)*group-1 on devices r*P .. (r+1)*P-1, laid out as replica 0.
  const std::vector<int> placement = whole_model ? std::vector<int>{0} : chunk_devices(cfg.schedule, P, chunks_per_device);
  chunk_device.clear();
  for (int r = 0; r < replicas; ++r)
    for (int c = 0; c < group; ++c) chunk_device.push_back(r * P + placement[static_cast<std::size_t>(c)]);
  const std::vector<StageRange> one = ranges;
  for (int r = 1; r < replicas; ++r) ranges.insert(ranges.end(), one.begin(), one.end());
  const int S = static_cast<int>(ranges.size());  // chunks of all replicas
  const int D = P * replicas;
  all_reduces.clear();
  const bool local = !dist;  // as processes, each replica of a chunk is in its own rank
  if (replicas > 1 || whole_model)
    for (int c = 0; c < group; ++c) all_reduces.push_back(std::make_unique<AllReduce>(replicas, local ? 0 : 1));
  if (dist) {
    if (dist->world() != D)
      throw InputError(cfg.source, "stages",
                       "the run has " + std::to_string(D) + " devices (" + std::to_string(P) + " stages x " +
                           std::to_string(replicas) + (replicas == 1 ? " replica" : " replicas") + "), but " +
                           std::to_string(dist->world()) + " ranks joined: one rank per device");
    dist->set_placement(chunk_device);
    if (!all_reduces.empty()) dist->share_gradients(all_reduces, group);
  }

  batches = std::make_unique<BatchSource>(data.train, cfg.batch_size, cfg.seed);
  total_steps = cfg.steps > 0 ? cfg.steps : cfg.epochs * batches->steps_per_epoch();

  make_device_backends(D);

  // Stages built in unit order from the seed: the same initial weights for any partition, whatever else
  // this process builds meanwhile.
  auto weights_lock = lock_initial_weights();
  torch::manual_seed(cfg.seed);
  strategy_params = resolve_strategy_params(cfg.strategy, cfg.schedule, cfg.source);
  std::vector<std::unique_ptr<StageRuntime>> stages;
  stats = RunStats(S);
  for (int k = 0; k < S; ++k) {
    rings.push_back(std::make_unique<SpscRing<OpEvent>>(1 << 16));
    transfer_rings.push_back(std::make_unique<SpscRing<TransferEvent>>(1 << 14));
    const int d = chunk_device[static_cast<std::size_t>(k)];  // chunks of one device share its device
    const DeviceBackend& backend = *device_backends[static_cast<std::size_t>(d)];
    const c10::Device device = backend.device();
    devices.push_back(device.is_cpu() ? "cpu:" + std::to_string(d) : backend.describe());  // "cuda:0 (NVIDIA H200)"
    stage_device.push_back(device);
    if (k % group == 0) torch::manual_seed(cfg.seed);  // every replica starts from the same weights
    stages.push_back(make_stage(k, S, ranges[k]));
  }
  weights_lock.unlock();
  pipeline = make_pipeline(std::move(stages));

  std::optional<Checkpoint> resumed;
  if (!opts.resume_path.empty()) {
    resumed = load_checkpoint(opts.resume_path);
    restore(*resumed);
  }

  bool created_out = false;
  if (!opts.out_dir.empty()) {
    std::error_code ec;
    created_out = !std::filesystem::exists(opts.out_dir, ec);
    std::filesystem::create_directories(opts.out_dir, ec);
    if (ec) throw InputError(opts.out_dir, "", "cannot create the output directory: " + ec.message());
  }
  // The trace before the CSV files (it may live in the output directory): a trace that cannot be
  // written leaves nothing behind, not even the directory this run made for its outputs.
  if (!opts.trace_path.empty()) {
    try {
      // A processes run: each stage's trace process says which rank (pid, host) ran it.
      std::vector<std::string> names = devices;
      for (std::size_t k = 0; dist && k < names.size(); ++k) names[k] += ", " + dist->describe_rank(chunk_device[k]);
      trace = std::make_unique<TraceWriter>(opts.trace_path, names);
    } catch (...) {
      std::error_code ec;
      if (created_out) std::filesystem::remove_all(opts.out_dir, ec);
      throw;
    }
  }
  if (!opts.out_dir.empty()) {
    metrics_csv = std::make_unique<MetricsCsvWriter>(opts.out_dir + "/metrics.csv");
    ledger_csv = std::make_unique<LedgerCsvWriter>(opts.out_dir + "/ledger.csv");
  }
  if (resumed && metrics_csv) metrics_csv->append(history, eval_history);  // the curves so far
}

// One backend per device (worker), on the device the config gives it; data parallel over NCCL where the
// replicas sit on distinct GPUs under the threaded executor (one rank per GPU), else the in-process sum.
void Session::Impl::make_device_backends(int D) {
  set_deterministic(cfg.deterministic);  // before any CUDA work (cuBLAS reads its workspace setting once)
  std::vector<c10::Device> placed;
  std::vector<std::string> fields;
  for (int d = 0; d < D; ++d) {
    c10::Device device(c10::kCPU);
    std::string field = "device";
    if (d < static_cast<int>(cfg.stage_devices.size())) {
      device = c10::Device(cfg.stage_devices[d]);
      field = "stage_devices[" + std::to_string(d) + "]";
    } else if (cfg.device == "cuda") {
      device = c10::Device(c10::kCUDA, d % std::max<int>(1, torch::cuda::device_count()));
    }
    if (device.is_cuda() && !device.has_index()) device = c10::Device(c10::kCUDA, 0);
    placed.push_back(device);
    fields.push_back(field);
  }
  std::map<int, int> per_gpu;  // GPU index -> devices (workers) sharing it
  for (const auto& device : placed)
    if (device.is_cuda()) ++per_gpu[device.index()];
  device_backends.clear();
  for (int d = 0; d < D; ++d) {
    const c10::Device& device = placed[static_cast<std::size_t>(d)];
    try {
      device_backends.push_back(make_device_backend(device, device.is_cuda() ? per_gpu[device.index()] : 1));
    } catch (const std::invalid_argument& e) {
      throw InputError(cfg.source, fields[static_cast<std::size_t>(d)], e.what());
    }
  }
  collectives.clear();
  const bool distinct_gpus = D >= 2 && static_cast<int>(per_gpu.size()) == D &&
                             std::all_of(placed.begin(), placed.end(), [](const c10::Device& x) { return x.is_cuda(); });
  if (whole_model && distinct_gpus && cfg.executor != "sequential") collectives = make_nccl_group_in_process(placed);
}

std::unique_ptr<StageRuntime> Session::Impl::make_stage(int k, int S, const StageRange& range) {
  StageSetup s;
  s.index = k;
  s.num_stages = S;
  s.device = stage_device[static_cast<std::size_t>(k)];
  s.device_index = chunks_per_device > 1 ? chunk_device[static_cast<std::size_t>(k)] : -1;  // -1: the stage is its device
  s.split_backward = schedule_info(cfg.schedule).split_backward;
  const int first = range.first, last = range.last;
  s.group = group;
  const int position = k % group, replica = k / group;
  if (!all_reduces.empty()) {
    s.replica = replica;
    s.replicas = replicas;
    s.all_reduce = all_reduces[static_cast<std::size_t>(position)].get();
    if (!collectives.empty()) s.collective = collectives[static_cast<std::size_t>(k)].get();
  }
  s.backend = device_backends[static_cast<std::size_t>(chunk_device[static_cast<std::size_t>(k)])];
  s.module = builder->build_units(first, last + 1);
  const ModelBuilder* b = builder.get();
  s.make_replica = [b, first, last] {  // its draws must not reach a seeded build elsewhere
    auto lock = lock_initial_weights();
    return b->build_units(first, last + 1);
  };
  s.optimizer = cfg.optimizer;
  s.lr_schedule = cfg.lr_schedule;
  s.total_steps = total_steps;
  s.strategy = make_strategy(cfg.strategy.name, strategy_params, position, group);  // its place in its pipeline
  s.batches = batches.get();
  s.microbatches = cfg.microbatches;
  s.divergence_every = cfg.divergence_every;
  SpscRing<OpEvent>* ring = rings[static_cast<std::size_t>(k)].get();
  if (cfg.telemetry) s.on_op = [ring](const OpEvent& ev) { ring->try_push(ev); };
  SpscRing<TransferEvent>* transfer_ring = transfer_rings[static_cast<std::size_t>(k)].get();
  if (cfg.telemetry) s.on_transfer = [transfer_ring](const TransferEvent& t) { transfer_ring->try_push(t); };
  if (position == group - 1) s.on_minibatch = [this](const MinibatchResult& part) { add_result(part); };
  return std::make_unique<StageRuntime>(std::move(s));
}

// The last chunk of each replica reports its share of a minibatch; a minibatch is done when all shares
// are in. As processes, a rank other than 0 sends its shares on (rank 0 puts them together).
void Session::Impl::add_result(const MinibatchResult& part, double at) {
  std::lock_guard<std::mutex> lock(results_mu);
  if (at < 0) at = wall_now();
  if (dist && dist->rank() != 0) {
    results.push_back(part);
    result_times.push_back(at);
    return;
  }
  double& done_at = partial_times[part.minibatch];  // complete when its last share is
  done_at = std::max(done_at, at);
  MinibatchResult& r = partial[part.minibatch];
  r.minibatch = part.minibatch;
  r.loss += part.loss;
  r.correct += part.correct;
  r.count += part.count;
  if (r.count < cfg.batch_size) return;
  results.push_back(r);
  result_times.push_back(done_at);  // the step's own time: the collector runs only every 10 ms
  partial.erase(part.minibatch);
  partial_times.erase(part.minibatch);
  steps_done = r.minibatch + 1;
}

std::vector<StageOps> Session::Impl::replica_lists(std::vector<StageOps> lists) const {
  if (whole_model || replicas == 1) return lists;  // the data-parallel schedule lists every replica already
  const std::size_t P = lists.size();
  for (int r = 1; r < replicas; ++r)
    for (std::size_t d = 0; d < P; ++d) {
      StageOps ops = lists[d];
      for (Op& op : ops)
        if (op.chunk >= 0) op.chunk += r * group;
      lists.push_back(std::move(ops));
    }
  return lists;
}

std::unique_ptr<Pipeline> Session::Impl::make_pipeline(std::vector<std::unique_ptr<StageRuntime>> stages) const {
  const ExecutorKind kind = cfg.executor == "sequential"  ? ExecutorKind::Sequential
                            : cfg.executor == "processes" ? ExecutorKind::Processes
                                                          : ExecutorKind::Threaded;
  auto p = std::make_unique<Pipeline>(std::move(stages), kind, cfg.threads_per_stage, cfg.microbatches, group, chunk_device);
  if (dist) {
    dist::RankContext* ctx = dist.get();
    p->set_rank({ctx->rank(), [ctx](int from, int to, RunControl& c) { return ctx->link(from, to, c); }});
  }
  p->set_cores(pinned_cores(p->num_devices()));
  return p;
}

std::vector<std::vector<int>> Session::Impl::pinned_cores(int devices) const {
  return ps::pinned_cores(cfg, opts.dist, dist ? dist->rank() : 0, devices, allowed_cores());
}

EvalMetrics Session::Impl::evaluate(int epoch) {
  EvalMetrics m;
  m.step = steps_done;
  m.epoch = epoch;
  torch::NoGradGuard no_grad;
  set_intra_op_threads(std::max(1, cfg.threads_per_stage * pipeline->num_devices()));
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
  m.wall_seconds = wall_now();
  return m;
}

std::int64_t Session::Impl::repartition_step() const {
  std::lock_guard<std::mutex> lock(mu);
  return repart ? repart->at_step : -1;
}

bool Session::Impl::repartition_pending() const {
  std::lock_guard<std::mutex> lock(mu);
  return repart.has_value();
}

void Session::Impl::drive() {
  RunStatus final_status = RunStatus::Completed;
  std::string final_error;
  try {
    const int D = pipeline->num_devices();
    const std::int64_t per_epoch = batches->steps_per_epoch();
    std::int64_t done = seg_base;
    // A repartition takes effect between segments, when it is due (its step reached, or any step).
    auto repartition_if_due = [&] {
      std::vector<int> to;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (!repart || repart->at_step > done) return;
        to = repart->boundaries;
      }
      apply_repartition(to);
    };
    while (done < total_steps) {
      if (cut.empty()) repartition_if_due();
      // A resumed run first finishes the segment it was saved in, as it was planned.
      const std::int64_t n = resume_seg_len > 0 ? resume_seg_len : std::min(per_epoch - done % per_epoch, total_steps - done);
      resume_seg_len = 0;
      seg_base = done;
      seg_len = n;
      drain_to = resume_drain_to;
      resume_drain_to = -1;
      // A repartition asked for at a step inside this segment: the segment ends there with a flush.
      const std::int64_t due = repartition_step();
      if (drain_to < 0 && due > done && due < done + n) drain_to = due - done;
      auto ops = replica_lists(make_schedule(cfg.schedule, whole_model ? replicas : D / replicas, cfg.microbatches,
                                             static_cast<int>(n), chunks_per_device));
      if (drain_to >= 0) ops = first_minibatches(ops, drain_to);
      bool ok = false;
      for (;;) {
        const auto t0 = Clock::now();
        segment_since_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t0 - origin).count();
        ok = pipeline->run(ops, done, control, origin, &cut);
        pipeline_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
        segment_since_ns = -1;
        if (ok || !control.cut_requested()) break;
        // A cut was asked for: a repartition, a checkpoint, or both.
        if (drain_to < 0 && repartition_pending()) {
          // Start no new minibatch: the segment ends after those already started (or at the asked step).
          const std::int64_t k = std::max(started_minibatches(ops, cut), repartition_step() - done);
          if (k < n) {
            drain_to = k;
            ops = first_minibatches(ops, k);
          }
        }
        std::string path;
        {
          std::lock_guard<std::mutex> lock(mu);
          if (ckpt_wanted) path = ckpt_request_path.empty() ? opts.checkpoint_path : ckpt_request_path;
          ckpt_wanted = false;
          ckpt_request_path.clear();
        }
        if (!path.empty() && drain_to >= 0) {
          deferred_ckpt = path;  // flushing for a repartition: saved once it is in effect
        } else if (!path.empty()) {
          try {
            write_checkpoint(path, "requested");
          } catch (const std::exception& e) {
            std::lock_guard<std::mutex> lock(mu);
            if (error.empty()) error = e.what();
          }
        }
        if (!control.continue_after_cut()) break;
      }
      if (!ok) {
        if (dist && !dist->error().empty()) throw std::runtime_error(dist->error());  // another rank failed
        final_status = RunStatus::Stopped;
        break;
      }
      done += drain_to >= 0 ? drain_to : n;
      seg_base = done;
      seg_len = 0;
      drain_to = -1;
      repartition_if_due();  // the pipeline is empty here
      if (!deferred_ckpt.empty()) {
        const std::string path = std::exchange(deferred_ckpt, std::string());
        try {
          write_checkpoint(path, "requested");
        } catch (const std::exception& e) {
          std::lock_guard<std::mutex> lock(mu);
          if (error.empty()) error = e.what();
        }
      }
      const int epoch = static_cast<int>(done / per_epoch);
      const bool epoch_end = done % per_epoch == 0;
      if ((epoch_end && epoch % std::max(1, cfg.eval_every_epochs) == 0) || done >= total_steps) {
        if (dist) dist->share_weights(*pipeline);  // rank 0 evaluates the whole model
        if (writes_outputs()) {
          EvalMetrics m = evaluate(std::max(0, epoch - (epoch_end ? 1 : 0)));
          if (dist) m.step = done;  // the last stage's results may still be on their way
          std::lock_guard<std::mutex> lock(results_mu);
          evals.push_back(m);
        }
      }
    }
  } catch (const PipelineError& e) {
    final_status = e.reason().find("not finite") != std::string::npos ? RunStatus::Diverged : RunStatus::Failed;
    final_error = e.what();
  } catch (const std::exception& e) {
    final_status = RunStatus::Failed;
    final_error = e.what();
  }
  if (dist && final_status != RunStatus::Completed) dist->stop_all(final_status == RunStatus::Stopped ? "" : final_error);
  // The final checkpoint: of a completed or stopped run (a failed or diverged one keeps its last good one).
  bool cut_whole = true;
  if (dist && !opts.checkpoint_path.empty() && (final_status == RunStatus::Completed || final_status == RunStatus::Stopped)) {
    std::string why;
    try {
      cut_whole = gather_ranks_state(why);
    } catch (const std::exception& e) {
      cut_whole = false;
      why = e.what();
    }
    if (!cut_whole && final_error.empty()) final_error = "no checkpoint written: " + why;
  }
  if (!opts.checkpoint_path.empty() && cut_whole && writes_outputs() &&
      (final_status == RunStatus::Completed || final_status == RunStatus::Stopped)) {
    try {
      write_checkpoint(opts.checkpoint_path, final_status == RunStatus::Completed ? "completed" : "stopped");
    } catch (const std::exception& e) {
      if (final_error.empty()) final_error = e.what();
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    status = final_status;
    if (!final_error.empty()) error = final_error;  // else keep a writer's or a checkpoint's error
  }
  driver_done = true;
  tell_done();
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
std::vector<int> Session::partition() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->boundaries;
}

std::optional<std::vector<int>> Session::pending_partition() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (!impl_->repart) return std::nullopt;
  return impl_->repart->boundaries;
}

void Session::repartition(const std::vector<int>& boundaries, std::int64_t at_step) {
  Impl& d = *impl_;
  if (d.whole_model)
    throw InputError("", "partition", "the data-parallel replicas each hold the whole model: there is nothing to repartition");
  if (d.replicas > 1)
    throw InputError("", "partition", "a run with replicas keeps its partition (live repartition runs one pipeline)");
  const int S = static_cast<int>(d.devices.size());
  if (static_cast<int>(boundaries.size()) != S - 1)
    throw InputError("", "partition", std::to_string(boundaries.size()) + " boundaries for " + std::to_string(S) +
                                          " stages (a run keeps its stage count; it needs " + std::to_string(S - 1) + ")");
  validate_partition(boundaries, d.builder->num_units(), "");
  if (d.driver_done) throw InputError("", "partition", "the run has ended: start a new one with this partition");
  if (d.dist) throw InputError("", "partition", "a multi-process run keeps its partition (live repartition runs in one process)");
  if (!d.started && at_step <= 0) {
    d.apply_repartition(boundaries);  // nothing runs yet: at once
    return;
  }
  {
    std::lock_guard<std::mutex> lock(d.mu);
    d.repart = Impl::RepartitionRequest{boundaries, at_step};
  }
  if (d.started) d.control.request_cut();
}

void Session::start() {
  if (impl_->started.exchange(true)) return;
  impl_->origin = Clock::now();
  if (impl_->dist) impl_->dist->set_origin(impl_->origin);
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->last_ckpt_time = impl_->origin;
  }
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->status = impl_->control.paused() ? RunStatus::Paused : RunStatus::Running;
  }
  if (!impl_->opts.out_dir.empty()) {
    std::lock_guard<std::mutex> lock(impl_->mu);
    write_summary_json(impl_->opts.out_dir + "/summary.json", impl_->make_summary());
  }
  impl_->driver = std::thread([this] {
    name_this_thread("ps-driver");
    impl_->drive();
  });
  impl_->collector = std::thread([this] {
    name_this_thread("ps-telemetry");
    impl_->collect_loop();
  });
}

// As processes, rank 0 (the dashboard's) pauses, steps and slows down every rank.
void Session::pause() {
  impl_->control.pause();
  if (impl_->dist) impl_->dist->broadcast_control("pause", 0);
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->status == RunStatus::Running) impl_->status = RunStatus::Paused;
}

void Session::resume() {
  impl_->control.resume();
  if (impl_->dist) impl_->dist->broadcast_control("resume", 0);
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->status == RunStatus::Paused) impl_->status = RunStatus::Running;
}

void Session::step(int ops) {
  if (!impl_->dist) return impl_->control.step(ops);
  impl_->dist->apply_control("step", ops);  // this rank's share of the ops
  impl_->dist->broadcast_control("step", ops);
}
bool Session::wait_stepped(std::chrono::milliseconds timeout) { return impl_->control.wait_stepped(timeout); }
void Session::stop() {
  impl_->control.stop();
  if (impl_->dist && impl_->started && !impl_->driver_done) impl_->dist->stop_all("");  // every rank stops
}
void Session::set_op_delay(std::chrono::microseconds delay) {
  impl_->control.set_delay(delay);
  if (impl_->dist) impl_->dist->broadcast_control("delay", delay.count());
}

bool Session::wait_for(std::chrono::milliseconds timeout) {
  if (!impl_->started) return false;
  {
    std::unique_lock<std::mutex> lock(impl_->done_mu);
    if (!impl_->done_cv.wait_for(lock, timeout, [&] { return impl_->driver_done && impl_->summary_written; }))
      return false;
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

void Session::save_checkpoint(const std::string& path) {
  const std::string target = path.empty() ? impl_->opts.checkpoint_path : path;
  if (target.empty()) throw InputError("checkpoint", "path", "no checkpoint file was given");
  if (impl_->dist) throw InputError(target, "", "checkpoints of a multi-process run are not supported yet");
  const RunStatus st = status();
  if (st == RunStatus::Failed || st == RunStatus::Diverged)
    throw InputError(target, "", "the run " + to_string(st) + ": its state is not saved (resume from its last checkpoint)");
  if (!impl_->started || impl_->driver_done) {
    // Not running: the state is at rest (before the start, or the final cut).
    if (impl_->started) wait();
    impl_->write_checkpoint(target, impl_->started ? "final" : "initial");
    return;
  }
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->ckpt_request_path = target;
    impl_->ckpt_wanted = true;
  }
  impl_->control.request_cut();
}

std::optional<CheckpointInfo> Session::last_checkpoint() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->last_ckpt;
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
