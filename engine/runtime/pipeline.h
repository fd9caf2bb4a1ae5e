// Executors: run the per-stage op lists over the stages. The threaded executor gives every stage a
// worker thread and bounded channels to its neighbours; the sequential reference executor runs the
// same lists on one thread. Both produce the same weights, bit for bit (versions never depend on timing).
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/runtime/run_control.h"
#include "engine/runtime/stage.h"
#include "engine/schedule/op.h"

namespace ps {

enum class ExecutorKind { Threaded, Sequential };

class Pipeline {
 public:
  // replicas: the stages are data-parallel replicas of the whole model (no activations between them).
  Pipeline(std::vector<std::unique_ptr<StageRuntime>> stages, ExecutorKind kind, int threads_per_stage,
           int microbatches, bool replicas = false);
  ~Pipeline();

  int num_stages() const { return static_cast<int>(stages_.size()); }
  StageRuntime& stage(int k) { return *stages_[k]; }
  const StageRuntime& stage(int k) const { return *stages_[k]; }

  // Runs one segment: `ops[k]` for stage k, with local minibatch ids offset by `base`.
  // Returns false when stopped through `control`; throws PipelineError when an op fails
  // (every worker is joined first).
  bool run(const std::vector<StageOps>& ops, std::int64_t base, RunControl& control,
           std::chrono::steady_clock::time_point origin);

  // Forward through all stages with the live weights (evaluation).
  at::Tensor infer(const at::Tensor& x);
  bool replicas() const { return replicas_; }

 private:
  bool run_threaded(const std::vector<StageOps>& ops, RunControl& control);
  bool run_sequential(const std::vector<StageOps>& ops, RunControl& control);

  std::vector<std::unique_ptr<StageRuntime>> stages_;
  ExecutorKind kind_;
  int threads_;
  int microbatches_;
  bool replicas_;
  std::int64_t base_ = 0;
};

// Keeps BLAS and LibTorch's intra-op pools from oversubscribing the cores when S stages run at once.
void set_intra_op_threads(int threads);

}  // namespace ps
