// The session's collector thread: drains the stages' telemetry at a fixed rate into the history and
// the outputs (metrics.csv, ledger.csv, the trace), keeps the periodic checkpoint's clock, and makes the
// run's summary (live and final, with the weights digest). In a processes run, rank 0 collects every
// rank's telemetry here and the other ranks forward theirs (session_ranks.cpp).
#include <algorithm>
#include <filesystem>
#include <map>

#include "engine/schedule/schedule.h"
#include "engine/session/session_impl.h"
#include "engine/session/weights_digest.h"
#include "engine/strategy/strategy_info.h"
#include "engine/util/errors.h"

namespace ps {

void Session::Impl::collect() {
  std::vector<OpEvent> ops;
  for (auto& r : rings) r->pop_all(ops);
  std::vector<TransferEvent> transfers;
  for (auto& r : transfer_rings) r->pop_all(transfers);
  if (!writes_outputs()) {
    forward_telemetry(ops, transfers);
    ++collections;
    return;
  }
  std::vector<MinibatchResult> remote_results;
  std::vector<double> remote_seconds;
  if (dist) dist->take_telemetry(ops, transfers, remote_results, remote_seconds);
  for (std::size_t i = 0; i < remote_results.size(); ++i)  // the other ranks' shares, at the times they were complete
    add_result(remote_results[i], i < remote_seconds.size() && remote_seconds[i] >= 0 ? remote_seconds[i] : -1.0);
  const double now = wall_now();
  // mu, then results_mu: a checkpoint (which takes both) sees every result either in the history or
  // still waiting in `results`, never in between.
  std::lock_guard<std::mutex> lock(mu);
  std::vector<RunMark> marks;
  marks.swap(new_marks);
  std::vector<MinibatchResult> res;
  std::vector<double> times;
  std::vector<EvalMetrics> ev;
  {
    std::lock_guard<std::mutex> results_lock(results_mu);
    res.swap(results);
    times.swap(result_times);
    ev.swap(evals);
  }
  std::vector<StepMetrics> steps;
  for (std::size_t i = 0; i < res.size(); ++i) {
    const MinibatchResult& r = res[i];
    const double t = i < times.size() ? times[i] : now;
    StepMetrics m;
    m.step = r.minibatch + 1;
    m.epoch = static_cast<int>(r.minibatch / batches->steps_per_epoch());
    m.samples = m.step * cfg.batch_size;
    m.train_loss = r.loss;
    m.train_acc = r.count ? double(r.correct) / r.count : 0;
    m.lr = scheduled_lr(cfg.optimizer, cfg.lr_schedule, r.minibatch, total_steps);
    m.wall_seconds = t;
    rate_window.emplace_back(t, m.samples);
    while (rate_window.size() > 2 && rate_window.front().first < t - 2.0) rate_window.pop_front();
    const double dt = rate_window.back().first - rate_window.front().first;
    m.samples_per_second = dt > 0 ? (rate_window.back().second - rate_window.front().second) / dt
                                  : (t > 0 ? m.samples / t : 0);
    steps.push_back(m);
    last_step = m;
  }
  history.insert(history.end(), steps.begin(), steps.end());
  eval_history.insert(eval_history.end(), ev.begin(), ev.end());
  for (const auto& op : ops) stats.add(op);
  if (!ev.empty()) last_eval = ev.back();
  try {
    if (ledger_csv && !ops.empty()) ledger_csv->append(ops);
    if (metrics_csv && (!steps.empty() || !ev.empty())) metrics_csv->append(steps, ev);
    if (trace && (!ops.empty() || !transfers.empty() || !marks.empty())) {
      TelemetryBatch b;
      b.ops = ops;
      b.transfers = transfers;
      b.marks = marks;
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
  pending.transfers.insert(pending.transfers.end(), transfers.begin(), transfers.end());
  if (pending.transfers.size() > opts.ui_buffer_ops) {
    const std::size_t drop = pending.transfers.size() - opts.ui_buffer_ops;
    pending.transfers.erase(pending.transfers.begin(), pending.transfers.begin() + static_cast<std::ptrdiff_t>(drop));
  }
  pending.steps.insert(pending.steps.end(), steps.begin(), steps.end());
  pending.evals.insert(pending.evals.end(), ev.begin(), ev.end());
  pending.marks.insert(pending.marks.end(), marks.begin(), marks.end());
  ++collections;
}

void Session::Impl::checkpoint_timer() {
  if (opts.checkpoint_path.empty() || opts.checkpoint_every_minutes <= 0) return;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (status != RunStatus::Running && status != RunStatus::Paused) return;
    if (Clock::now() - last_ckpt_time < std::chrono::duration<double>(60.0 * opts.checkpoint_every_minutes)) return;
    last_ckpt_time = Clock::now();  // not again before the next period, even if this one is slow
    ckpt_wanted = true;
  }
  control.request_cut();
}

// Waits until the collector has gone through two full rounds: every event and result of the ops that
// ran before this call is then in the history, the ledger and the statistics.
void Session::Impl::wait_collected() {
  if (!started || summary_written) return;  // no collector running: nothing in flight
  const std::uint64_t start = collections;
  const auto until = Clock::now() + std::chrono::seconds(5);
  while (collections < start + 2 && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void Session::Impl::collect_loop() {
  while (!driver_done) {
    collect();
    checkpoint_timer();
    std::unique_lock<std::mutex> lock(done_mu);
    done_cv.wait_for(lock, std::chrono::milliseconds(10), [&] { return driver_done.load(); });
  }
  if (dist) dist->wait_ends();  // rank 0: every rank's last telemetry first
  collect();
  write_outputs_final();
  if (dist) dist->finish(final_packet());
  summary_written = true;
  tell_done();
}

RunSummary Session::Impl::make_summary() const {
  RunSummary s;
  s.status = status;
  s.error = error;
  s.model = cfg.model.name;
  s.dataset = cfg.dataset.name;
  s.schedule = cfg.schedule;
  s.strategy = cfg.strategy.name;
  s.stages = pipeline ? pipeline->num_devices() : 0;
  s.chunks = chunks_per_device;
  s.microbatches = cfg.microbatches;
  s.steps = last_step.step;
  s.planned_steps = total_steps;
  s.samples = last_step.samples;
  s.final_train_loss = last_step.train_loss;
  if (last_eval) {
    s.test_accuracy = last_eval->test_accuracy;
    s.test_loss = last_eval->test_loss;
  }
  s.wall_seconds = started ? wall_now() : wall_offset;
  // Pipeline time so far: the segments done and, while one runs, its time up to now (live figures).
  std::int64_t pipe_ns = pipeline_ns;
  const std::int64_t since = segment_since_ns;
  if (started && since >= 0)
    pipe_ns += std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - origin).count() - since);
  const double pipe_s = pipe_ns * 1e-9;
  s.samples_per_second = pipe_s > 0 ? s.samples / pipe_s : last_step.samples_per_second;
  if (!whole_model) s.replicas = replicas;
  // The ideal bubble is one replica's pipeline's (the data-parallel schedule's lists are per replica).
  s.bubble_fraction_ideal = ideal_bubble_fraction(cfg.schedule, whole_model ? s.stages : s.stages / replicas,
                                                  cfg.microbatches, chunks_per_device);
  std::vector<double> device_util(static_cast<std::size_t>(s.stages), 0.0);
  for (int k = 0; pipeline && k < pipeline->num_stages(); ++k) {
    const StageRuntime& st = pipeline->stage(k);
    StageSummary ss;
    ss.stage = k;
    ss.device = devices[k];
    ss.first_layer = ranges[k].first;
    ss.last_layer = ranges[k].last;
    ss.params = st.params_count();
    dist::ChunkFigures f = chunk_figures(*pipeline, k);
    if (dist && !dist->here(k)) f = dist->figures(k).value_or(dist::ChunkFigures{k});  // from its rank
    if (dist) ss.process = dist->describe_rank(pipeline->device_of(k));
    if (replicas > 1 && !whole_model) ss.replica = k / group;
    ss.utilization = pipe_ns > 0 ? std::min(1.0, double(f.busy_ns) / double(pipe_ns)) : 0;
    ss.weight_copies_max = f.copies_max;
    ss.weight_bytes_max = f.bytes_max;
    ss.activation_bytes_max = f.activation_bytes_max;
    ss.device_activation_bytes_max = f.device_activation_bytes_max;
    ss.link_wait_seconds = f.link_wait_ns * 1e-9;
    ss.bytes_sent = f.bytes_sent;
    ss.messages_sent = f.messages_sent;
    const DeviceMemory gpu = st.device_memory();
    if (gpu.tracked) {
      ss.gpu_allocated_max = gpu.allocated_peak;
      ss.gpu_reserved_max = gpu.reserved_peak;
      ss.gpu_shared_by = gpu.stages_on_device;
    }
    device_util[static_cast<std::size_t>(pipeline->device_of(k))] += ss.utilization;
    s.per_stage.push_back(ss);
  }
  stats.fill(s.per_stage);
  double util_sum = 0;
  for (double u : device_util) util_sum += std::min(1.0, u);  // a device's chunks share its time
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
  // Replicas hold identical weights: the digest is the model's, the first replica's chunks.
  const int holders = group;
  for (int k = 0; k < holders; ++k) weights.push_back(pipeline->stage(k).live_params());
  s.weights_digest = weights_digest(weights);
  if (dist && !dist->weights_complete()) s.weights_digest.clear();  // rank 0 does not hold the whole model
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

}  // namespace ps
