// The session's private state, shared by its translation units: session.cpp (build, driver, collector,
// the facade), session_checkpoint.cpp (save and restore) and repartition.cpp (live repartition).
// Internal to the engine.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "engine/data/dataset.h"
#include "engine/dist/rank_context.h"
#include "engine/models/model.h"
#include "engine/partition/partition.h"
#include "engine/runtime/pipeline.h"
#include "engine/session/checkpoint.h"
#include "engine/session/run_stats.h"
#include "engine/session/session.h"
#include "engine/telemetry/outputs.h"
#include "engine/telemetry/ring.h"
#include "engine/telemetry/trace_writer.h"

namespace ps {

using Clock = std::chrono::steady_clock;

// A chunk's running figures (busy time, memory, links), as the summary reports them.
dist::ChunkFigures chunk_figures(const Pipeline& p, int chunk);

struct Session::Impl {
  RunConfig cfg;
  SessionOptions opts;
  DataSplit data;
  std::unique_ptr<ModelBuilder> builder;
  std::vector<int> boundaries;
  std::vector<StageRange> ranges;
  std::vector<std::string> devices;
  std::vector<c10::Device> stage_device;  // per stage position (a repartition keeps them)
  std::vector<int> chunk_device;           // the device (worker) of every chunk, by the schedule's placement
  int chunks_per_device = 1;
  int num_devices() const { return static_cast<int>(chunk_device.size()) / std::max(1, chunks_per_device); }
  std::map<std::string, std::string> strategy_params;
  std::unique_ptr<BatchSource> batches;
  std::unique_ptr<Pipeline> pipeline;
  std::int64_t total_steps = 0;
  // executor "processes": this rank's part of the run (links to other ranks, telemetry to rank 0).
  std::unique_ptr<dist::RankContext> dist;
  bool writes_outputs() const { return !dist || dist->rank() == 0; }
  void join_ranks();  // build: rendezvous and the checks that only processes need
  // Not rank 0: what the collector gathered goes to rank 0 (with the results and the chunks' figures),
  // every kForwardPeriod and once the driver is done; meanwhile the events wait in unsent_* and the
  // results in `results` (where a checkpoint's part takes them).
  void forward_telemetry(std::vector<OpEvent>& ops, std::vector<TransferEvent>& transfers);
  static constexpr std::chrono::milliseconds kForwardPeriod{100};
  std::vector<OpEvent> unsent_ops;  // the collector's
  std::vector<TransferEvent> unsent_transfers;
  Clock::time_point last_forward{};
  dist::TelemetryPacket final_packet();  // the end of this rank's run, for rank 0
  // The final checkpoint of a processes run: every rank's part of the cut meets on rank 0, which then
  // holds the whole run (its replicas of the other ranks' chunks loaded) and writes it as a threaded run
  // would. Returns false (with `why`) when the ranks did not stop at one cut (in different segments).
  bool gather_ranks_state(std::string& why);

  RunControl control;
  std::vector<std::unique_ptr<SpscRing<OpEvent>>> rings;  // one producer each: the stage's worker
  std::vector<std::unique_ptr<SpscRing<TransferEvent>>> transfer_rings;  // likewise, for received messages
  std::mutex results_mu;
  std::vector<MinibatchResult> results;  // from the last stage, in minibatch order
  std::vector<double> result_times;      // wall_now() when each of `results` was complete (same order)
  std::map<std::int64_t, MinibatchResult> partial;  // data parallel: shares so far
  std::map<std::int64_t, double> partial_times;     // ... and when the latest of them was complete
  // Data parallel: `replicas` copies of the pipeline, each of `group` chunks (the data-parallel schedule:
  // replicas of the whole model, group 1), the same chunk of every replica summing its gradients through
  // all_reduces[position].
  bool whole_model = false;  // the data-parallel schedule
  int replicas = 1;
  int group = 1;
  std::vector<std::unique_ptr<AllReduce>> all_reduces;
  std::vector<std::shared_ptr<DeviceBackend>> device_backends;  // per device (worker); its chunks share it
  std::vector<std::unique_ptr<CollectiveGroup>> collectives;     // data parallel over NCCL: one per replica
  std::vector<EvalMetrics> evals;        // from the driver, guarded by results_mu

  std::thread driver, collector;
  std::atomic<bool> started{false}, driver_done{false};
  Clock::time_point origin;
  std::atomic<std::int64_t> steps_done{0};
  std::atomic<std::int64_t> pipeline_ns{0};  // time spent in pipeline segments (not evaluation), segments done
  std::atomic<std::int64_t> segment_since_ns{-1};  // when the running segment started (since origin); -1: none

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
  // Told when driver_done or summary_written turns true: the collector's sleep and Session::wait_for
  // wait on it (no polling: a wake-up every few milliseconds costs a stage thread its core on 2 cores).
  std::mutex done_mu;
  std::condition_variable done_cv;
  void tell_done() {
    std::lock_guard<std::mutex> lock(done_mu);
    done_cv.notify_all();
  }

  // Checkpoints. The cut and the segment are the driver's; the rest is guarded by mu.
  PipelineCut cut;
  std::int64_t seg_base = 0, seg_len = 0;  // the segment the cut belongs to (driver)
  std::int64_t resume_seg_len = 0;         // a resumed run's first segment, as it was saved
  std::vector<StepMetrics> history;        // every step so far (mu)
  std::vector<EvalMetrics> eval_history;   // every evaluation so far (mu)
  std::optional<CheckpointInfo> last_ckpt;  // (mu)
  std::string ckpt_request_path;            // (mu) where the requested cut is saved
  bool ckpt_wanted = false;                 // (mu) a checkpoint was asked for (a cut may be for a repartition)
  Clock::time_point last_ckpt_time;         // (mu)
  double wall_offset = 0;                   // a resumed run's wall time before the resume
  std::atomic<std::uint64_t> collections{0};

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
  double wall_now() const { return wall_offset + std::chrono::duration<double>(Clock::now() - origin).count(); }
  void wait_collected();
  void write_checkpoint(const std::string& path, const char* reason);  // driver, pipeline at rest
  void restore(const Checkpoint& c);
  void checkpoint_timer();  // collector: asks for a periodic checkpoint when one is due

  // Live repartition (Session::repartition).
  struct RepartitionRequest {
    std::vector<int> boundaries;
    std::int64_t at_step = -1;
  };
  std::optional<RepartitionRequest> repart;  // (mu) asked for, not yet in effect
  bool repartitioned = false;                // (mu) the partition is no longer the config's
  std::int64_t drain_to = -1;         // driver: the running segment ends after its first drain_to minibatches
  std::int64_t resume_drain_to = -1;  // a resumed run's, as saved
  std::string deferred_ckpt;          // driver: a checkpoint asked for during a drain, written after it
  std::vector<RunMark> new_marks;     // (mu) for the collector
  void make_device_backends(int D);  // build(): device_backends and collectives
  std::unique_ptr<StageRuntime> make_stage(int k, int S, const StageRange& range);
  // A replica's share of a minibatch (or all of it), complete at `at` (wall_now() when negative).
  void add_result(const MinibatchResult& part, double at = -1.0);
  // One replica's per-device lists, for every replica's devices (chunk ids moved to that replica's).
  std::vector<StageOps> replica_lists(std::vector<StageOps> lists) const;
  std::unique_ptr<Pipeline> make_pipeline(std::vector<std::unique_ptr<StageRuntime>> stages) const;
  std::vector<std::vector<int>> pinned_cores(int devices) const;  // pin_threads
  std::int64_t repartition_step() const;  // the step a pending request waits for (-1: none or any)
  bool repartition_pending() const;
  void apply_repartition(const std::vector<int>& to);  // driver (or before the start), pipeline at rest
};

}  // namespace ps
