// Executors: run the per-stage op lists over the stages. The threaded executor gives every stage a
// worker thread and bounded channels to its neighbours; the sequential reference executor runs the
// same lists on one thread. Both produce the same weights, bit for bit (versions never depend on timing).
#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "engine/runtime/run_control.h"
#include "engine/runtime/stage.h"
#include "engine/schedule/op.h"

namespace ps {

enum class ExecutorKind { Threaded, Sequential };

// Where a stopped segment stands: each stage's next op in its list, and the messages sent but not yet
// received. Any stop of either executor leaves a consistent cut (it was reached by running), and a
// segment run from a cut, by either executor, goes on exactly as if it had never stopped.
struct PipelineCut {
  std::vector<std::size_t> next;           // per stage: index of its next op
  std::vector<std::deque<Message>> acts;   // per stage: activations waiting for it, oldest first
  std::vector<std::deque<Message>> grads;  // per stage: gradients waiting for it, oldest first
  bool empty() const { return next.empty(); }
  void clear() { next.clear(), acts.clear(), grads.clear(); }
};

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
  // (every worker is joined first). With `cut`: starts from it when it is not empty, and on a stop
  // leaves in it where the segment stands (cleared when the segment completes).
  bool run(const std::vector<StageOps>& ops, std::int64_t base, RunControl& control,
           std::chrono::steady_clock::time_point origin, PipelineCut* cut = nullptr);

  // Forward through all stages with the live weights (evaluation).
  at::Tensor infer(const at::Tensor& x);
  bool replicas() const { return replicas_; }

 private:
  bool run_threaded(const std::vector<StageOps>& ops, RunControl& control, PipelineCut& cut);
  bool run_sequential(const std::vector<StageOps>& ops, RunControl& control, PipelineCut& cut);

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
