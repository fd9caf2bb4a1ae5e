// Plain value types that flow out of the engine: per-op events (one per F/B/U, also the ledger rows),
// per-step metrics, evaluations and the run summary. No LibTorch, no Qt: the CLI, the dashboard and
// the exporters all consume these.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/schedule/op.h"

namespace ps {

// One executed op. For F and B this is also a ledger row (STRATEGIES.md section 1).
struct OpEvent {
  int stage = 0;   // the model chunk (virtual stage) the op ran on; one per device unless chunks > 1
  int device = -1;  // the device (worker) that ran it; -1: the same as stage
  OpKind kind = OpKind::Forward;
  int minibatch = 0;
  int micro = -1;
  std::int64_t t_start_ns = 0;  // since the run started
  std::int64_t t_end_ns = 0;
  std::int64_t live_version = 0;    // updates applied at this stage when the op ran
  std::int64_t basis_version = 0;   // live version the weights used were derived from
  std::int64_t target_version = 0;  // staleness-free version for this minibatch
  double prediction_distance = 0;   // s used by a predicting strategy (target - live unless a paper mode)
  double divergence = -1;           // ||W_used - W_target|| / ||W_target||; < 0 until known
  double prediction_gain = -1;      // ||W_live - W_target|| / ||W_used - W_target||; < 0 when n/a
  std::int64_t weight_bytes = 0;    // weight-sized bytes the stage's strategy holds after the op
  int weight_copies = 0;            // weight-sized copies held after the op (live included)
  double loss = -1;                 // last stage's forward: the microbatch loss; otherwise < 0

  std::int64_t staleness() const { return target_version - basis_version; }
};

// Activation/gradient copies between stages (their own track in timelines and traces).
struct TransferEvent {
  int from_stage = 0;
  int to_stage = 0;
  bool gradient = false;  // false: activation forward, true: gradient backward
  int minibatch = 0;
  int micro = -1;
  std::int64_t t_start_ns = 0;
  std::int64_t t_end_ns = 0;
  std::int64_t bytes = 0;
};

// A moment of the run worth marking on timelines and traces (an instant, not an op).
struct RunMark {
  std::int64_t t_ns = 0;  // since the run started
  std::int64_t step = 0;  // minibatches completed at that moment
  std::string kind;       // "repartition"
  std::string text;       // for people: "partition 2,4,6 -> 3,5,7 at step 120"
  std::vector<int> before, after;  // repartition: the boundaries before and after
};

// One optimizer step of the whole model (one minibatch).
struct StepMetrics {
  std::int64_t step = 0;  // 1-based count of completed minibatches
  int epoch = 0;          // 0-based
  std::int64_t samples = 0;
  double train_loss = 0;
  double train_acc = 0;
  double lr = 0;
  double samples_per_second = 0;  // smoothed over the recent window
  double wall_seconds = 0;
};

struct EvalMetrics {
  std::int64_t step = 0;
  int epoch = 0;
  double test_loss = 0;
  double test_accuracy = 0;
  double wall_seconds = 0;
};

struct StageSummary {
  int stage = 0;
  std::string device;
  int first_layer = 0;
  int last_layer = 0;  // inclusive
  std::int64_t params = 0;
  double utilization = 0;  // busy time / wall time of the pipeline phases
  int weight_copies_max = 0;
  std::int64_t weight_bytes_max = 0;
  std::int64_t activation_bytes_max = 0;
  // The chunk's device: the peak of the activations all its chunks held at once (= activation_bytes_max
  // with one chunk per device).
  std::int64_t device_activation_bytes_max = 0;
  // The links to other devices (or ranks): time this chunk's worker waited for an input, what it sent.
  double link_wait_seconds = 0;
  std::int64_t bytes_sent = 0;
  std::int64_t messages_sent = 0;
  std::string process;  // processes executor: "rank R, pid P on HOST"; empty in one process
  int replica = -1;     // pipeline x data parallel: the replica the chunk belongs to (-1: no replicas)
  // A CUDA stage: the peaks of its GPU's caching allocator (bytes in live tensors, bytes held from the
  // driver); -1 on the CPU. The figures are the GPU's, shared by gpu_shared_by stages' devices.
  std::int64_t gpu_allocated_max = -1;
  std::int64_t gpu_reserved_max = -1;
  int gpu_shared_by = 0;
  std::optional<double> staleness_forward_mean;
  std::optional<double> staleness_backward_mean;
  std::optional<double> inconsistency_mean;
  std::optional<double> divergence_mean;
  std::optional<double> prediction_gain_mean;
};

enum class RunStatus { Idle, Running, Paused, Completed, Stopped, Diverged, Failed };
std::string to_string(RunStatus s);

struct RunSummary {
  RunStatus status = RunStatus::Idle;
  std::string error;  // for failed/diverged runs
  std::string model, dataset, schedule, strategy;
  int stages = 0;  // devices (workers)
  int chunks = 1;  // model chunks per device; per_stage lists every chunk
  int replicas = 1;  // pipeline x data parallel: copies of the pipeline (stages counts all their devices)
  int microbatches = 1;
  std::int64_t steps = 0;
  std::int64_t planned_steps = 0;  // the minibatches the run is to do (its steps, or its epochs' worth); not in summary.json
  std::int64_t samples = 0;
  double final_train_loss = 0;
  std::optional<double> test_accuracy;
  std::optional<double> test_loss;
  double samples_per_second = 0;
  double wall_seconds = 0;
  double bubble_fraction_measured = 0;
  double bubble_fraction_ideal = 0;
  std::string weights_digest;
  std::vector<StageSummary> per_stage;
};

// What one drain of the session returns: everything new since the previous drain.
struct TelemetryBatch {
  std::vector<OpEvent> ops;
  std::vector<TransferEvent> transfers;
  std::vector<StepMetrics> steps;
  std::vector<EvalMetrics> evals;
  std::int64_t dropped_ops = 0;  // events the bounded buffers had to drop (the on-disk ledger keeps them)
  std::vector<RunMark> marks;
  bool empty() const { return ops.empty() && transfers.empty() && steps.empty() && evals.empty() && marks.empty(); }
};

}  // namespace ps
