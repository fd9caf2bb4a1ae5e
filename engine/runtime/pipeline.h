// Executors: run the per-device op lists over the model's chunks. The threaded executor gives every
// device a worker thread and a link to each neighbouring chunk (a bounded channel across devices, a
// plain queue between two chunks of one device); the sequential reference executor runs the same lists
// on one thread. Both produce the same weights, bit for bit (versions never depend on timing).
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "engine/runtime/run_control.h"
#include "engine/runtime/stage.h"
#include "engine/schedule/op.h"

namespace ps {

enum class ExecutorKind { Threaded, Sequential, Processes };

class Link;

// The processes executor: this process (rank) runs one device's list; the links between its chunks and
// chunks on other ranks come from `remote_link` (c10d, engine/dist).
struct RankPlacement {
  int device = 0;
  std::function<std::unique_ptr<Link>(int from, int to, RunControl& control)> remote_link;
};

// Where a stopped segment stands: each device's next op in its list, and the messages sent but not yet
// received by each chunk. Any stop of either executor leaves a consistent cut (it was reached by
// running), and a segment run from a cut, by either executor, goes on exactly as if it had never stopped.
struct PipelineCut {
  std::vector<std::size_t> next;           // per device: index of its next op
  std::vector<std::deque<Message>> acts;   // per chunk: activations waiting for it, oldest first
  std::vector<std::deque<Message>> grads;  // per chunk: gradients waiting for it, oldest first
  bool empty() const { return next.empty(); }
  void clear() { next.clear(), acts.clear(), grads.clear(); }
};

// What crossed the links of one chunk, for the summary's per-stage link figures: the time its worker
// waited for an input (an activation or a gradient from another device or rank), and the bytes and
// messages it sent to another device or rank (between two chunks of one device nothing is sent).
struct LinkFigures {
  std::int64_t wait_ns = 0;
  std::int64_t bytes_sent = 0;
  std::int64_t messages_sent = 0;
};

class Pipeline {
 public:
  // `stages` are the model's chunks in order (one per device unless `device_of` says otherwise:
  // device_of[c] is chunk c's device, devices numbered 0..D-1). `group`: the chunks of one replica's
  // pipeline (pipeline x data parallel: replica r holds chunks r*group .. (r+1)*group-1, and activations
  // flow only inside a replica); 0: all chunks, one pipeline; 1: data-parallel replicas of the whole model.
  Pipeline(std::vector<std::unique_ptr<StageRuntime>> stages, ExecutorKind kind, int threads_per_stage,
           int microbatches, int group = 0, std::vector<int> device_of = {});
  ~Pipeline();

  int num_stages() const { return static_cast<int>(stages_.size()); }  // chunks
  int num_devices() const { return devices_; }
  int device_of(int chunk) const { return device_of_[static_cast<std::size_t>(chunk)]; }
  const std::vector<int>& chunk_devices() const { return device_of_; }
  StageRuntime& stage(int k) { return *stages_[k]; }
  const StageRuntime& stage(int k) const { return *stages_[k]; }

  // Runs one segment: `ops[d]` for device d, with local minibatch ids offset by `base`.
  // Returns false when stopped through `control`; throws PipelineError when an op fails
  // (every worker is joined first). With `cut`: starts from it when it is not empty, and on a stop
  // leaves in it where the segment stands (cleared when the segment completes).
  bool run(const std::vector<StageOps>& ops, std::int64_t base, RunControl& control,
           std::chrono::steady_clock::time_point origin, PipelineCut* cut = nullptr);

  // Forward through all chunks with the live weights (evaluation).
  at::Tensor infer(const at::Tensor& x);
  int group() const { return group_; }                          // chunks per replica
  int replicas() const { return num_stages() / group_; }
  bool first_of_group(int chunk) const { return chunk % group_ == 0; }
  bool last_of_group(int chunk) const { return chunk % group_ == group_ - 1; }
  LinkFigures link_figures(int chunk) const;
  // The peak of the activations held at once by all the chunks of a device (measured after each of its
  // ops), never below a chunk's own peak (a resumed or repartitioned run starts its count again).
  std::int64_t device_activation_bytes_max(int device) const;
  void set_rank(RankPlacement r) { rank_ = std::move(r); }
  // The cores device d's worker thread runs on (empty: wherever the system puts it).
  void set_cores(std::vector<std::vector<int>> cores_of_device) { cores_ = std::move(cores_of_device); }

 private:
  bool run_threaded(const std::vector<StageOps>& ops, RunControl& control, PipelineCut& cut);
  bool run_sequential(const std::vector<StageOps>& ops, RunControl& control, PipelineCut& cut);
  int chunk_of(const Op& op, int device) const { return op.chunk >= 0 ? op.chunk : device; }
  // Runs an Update on every chunk of the device, a pass on its chunk.
  std::optional<Message> run_op(int device, const Op& op, std::optional<Message> in);
  bool needs_activation(const Op& op, int chunk) const;
  bool needs_gradient(const Op& op, int chunk) const;
  // The input of `op` comes from a chunk on another device (a wait worth counting).
  bool from_other_device(const Op& op, int chunk) const {
    return needs_activation(op, chunk) ? device_of(chunk - 1) != device_of(chunk) : device_of(chunk + 1) != device_of(chunk);
  }

  std::vector<std::unique_ptr<StageRuntime>> stages_;
  ExecutorKind kind_;
  int threads_;
  std::vector<std::vector<int>> cores_;  // per device (set_cores)
  int microbatches_;
  int group_;
  std::vector<int> device_of_;
  int devices_ = 0;
  std::vector<std::vector<int>> chunks_on_;  // per device, ascending
  std::int64_t base_ = 0;
  RankPlacement rank_;
  struct LinkCounters {
    std::atomic<std::int64_t> wait_ns{0}, bytes_sent{0}, messages_sent{0};
  };
  std::unique_ptr<LinkCounters[]> link_counters_;  // per chunk; written by the chunk's worker only
  std::unique_ptr<std::atomic<std::int64_t>[]> device_activation_max_;  // per device; written by its worker
  void count_sent(int chunk, const Message& m);
  bool runs_here(int device) const { return kind_ != ExecutorKind::Processes || device == rank_.device; }
};

// Keeps BLAS and LibTorch's intra-op pools from oversubscribing the cores when S stages run at once.
void set_intra_op_threads(int threads);

}  // namespace ps
