// One pipeline stage: its live weights and their older versions, optimizer, strategy, and the
// minibatches in flight. Executors call run() with the ops of the stage's list, in order; nothing
// here depends on timing, so any executor that keeps the per-stage order gets the same numbers.
#pragma once
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <torch/nn/modules/container/sequential.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "engine/runtime/all_reduce.h"
#include "engine/runtime/batches.h"
#include "engine/runtime/device_backend.h"
#include "engine/runtime/optimizer.h"
#include "engine/schedule/op.h"
#include "engine/strategy/strategy.h"
#include "engine/telemetry/events.h"

namespace ps {

class WeightGradStore;

struct Checkpoint;

// What travels between neighbouring stages: activations forward, gradients backward.
// A group backward (nf1b) carries one gradient per microbatch.
struct Message {
  int minibatch = 0;  // global id
  int micro = -1;
  std::vector<at::Tensor> tensors;
  std::int64_t origin_version = -1;  // activations: the live version stage 0's forward read (vertical sync)
  std::int64_t sent_ns = 0;          // when the sender finished the op (since the run started)
  // The device copy under way (CUDA: the events that order it), set by the sender's backend; null
  // between CPU stages and for a message restored from a checkpoint.
  std::shared_ptr<DeviceTransfer> transfer = nullptr;
};

// The loss and accuracy of one minibatch, reported by the last stage when its forwards are done.
struct MinibatchResult {
  std::int64_t minibatch = 0;
  double loss = 0;  // mean over the minibatch
  std::int64_t correct = 0;
  std::int64_t count = 0;
};

// Thrown out of an op that was waiting for other stages when the run stopped (not an error).
struct Interrupted {};

// One version of a stage's weights: a module instance whose parameters hold it.
struct WeightSet {
  torch::nn::Sequential module;
  std::vector<at::Tensor> params;
  std::int64_t version = 0;  // the live version these weights are (or were derived from)
  int graphs = 0;            // forward graphs in flight that reference these weights
  bool superseded = false;   // a former live version, kept for graphs or for Strategy::keeps_version
};

struct StageSetup {
  int index = 0;       // the chunk's place in the model, 0..num_stages-1
  int num_stages = 1;  // chunks in the model
  int device_index = -1;        // the device (worker) that runs this chunk; -1: index
  bool split_backward = false;  // the schedule splits backwards into I and W (forwards keep unit outputs)
  c10::Device device = c10::Device(c10::kCPU);
  torch::nn::Sequential module;                         // the live weights (already initialised)
  std::function<torch::nn::Sequential()> make_replica;  // a fresh module of the same shape
  OptimizerConfig optimizer;
  LrScheduleConfig lr_schedule;
  std::int64_t total_steps = 1;
  std::unique_ptr<Strategy> strategy;
  const BatchSource* batches = nullptr;
  int microbatches = 1;
  int divergence_every = 0;  // measure divergence on every N-th minibatch (0: never)
  // Data parallelism: this chunk is in replica `replica` of `replicas` (-1: none) of the pipeline; it
  // takes its replica's share of every minibatch and sums its gradients with the same chunk of the other
  // replicas through `all_reduce` before each update. `group` is the chunks of one replica's pipeline
  // (the chunk's position in it is index % group; 0: every chunk, or 1 with a replica: the data-parallel
  // schedule, whose replicas each hold the whole model).
  int replica = -1;
  int replicas = 1;
  int group = 0;
  AllReduce* all_reduce = nullptr;
  // Replicas on distinct GPUs under the threaded executor: the gradients are summed by this rank's
  // NCCL collective (device_backend.h); `all_reduce` then only makes the replicas meet before it.
  CollectiveGroup* collective = nullptr;
  // Where the stage's tensors live and how its work is ordered and timed (device_backend.h). The
  // chunks of one device share their device's backend (one compute stream per device). Null: the
  // stage makes one for `device`.
  std::shared_ptr<DeviceBackend> backend;
  std::function<void(const OpEvent&)> on_op;                 // telemetry (must not block)
  std::function<void(const TransferEvent&)> on_transfer;     // a message received (must not block)
  std::function<void(const MinibatchResult&)> on_minibatch;  // last stage only
};

class StageRuntime {
 public:
  explicit StageRuntime(StageSetup setup);
  StageRuntime(const StageRuntime&) = delete;
  StageRuntime& operator=(const StageRuntime&) = delete;

  int index() const { return setup_.index; }
  // The chunk's place in its replica's pipeline, of group() chunks.
  int position() const { return setup_.index % setup_.group; }
  int group() const { return setup_.group; }
  bool first() const { return position() == 0; }
  bool last() const { return position() == setup_.group - 1; }
  // Whether `op` can run without waiting (the sequential executor asks; a data-parallel update waits
  // for every replica's gradients).
  bool ready(const Op& op) const;
  // What an op that must wait for other stages asks to know whether the run is stopping.
  void set_interrupt_check(std::function<bool()> check) { interrupted_ = std::move(check); }

  // Prepares a segment of the run: the stage's op list, with local minibatch ids offset by `base`.
  void begin_segment(const StageOps& ops, std::int64_t base, std::chrono::steady_clock::time_point origin);
  // Runs one op. `in`: the activation (F, not first stage) or the gradient(s) (B, not last stage).
  // Returns what goes to the neighbour: the activation (F, not last) or input gradient(s) (B, not first).
  std::optional<Message> run(const Op& op, std::optional<Message> in);

  // Ends a segment: emits the op events still waiting for their target version (divergence unknown),
  // and waits for the stage's device work (its stream, its outgoing copies) to be done.
  void finish_segment();

  // The neighbouring chunks' backends (the pipeline connects them; null: none, or a replica). A
  // message is handed to the sender's backend for its device copy right after the op that made it.
  void connect(DeviceBackend* previous, DeviceBackend* next);
  DeviceBackend& backend() const { return *setup_.backend; }
  // The stage's device memory, peaks over the run so far (CUDA: the caching allocator's statistics of
  // its GPU; CPU: not tracked).
  DeviceMemory device_memory() const { return device_memory_; }

  // Evaluation forward with the live weights (no graph).
  at::Tensor infer(const at::Tensor& x);

  // Checkpoints: everything the stage holds (weight versions, optimizer and strategy state, gradients
  // accumulated so far, the minibatches in flight) under names starting with `prefix`. load() expects
  // a freshly built stage of the same shape; an in-flight forward's graph is rebuilt by recomputing it
  // from the saved input at its weights when its backward runs (the same numbers, bit for bit).
  void save(Checkpoint& c, const std::string& prefix) const;
  void load(const Checkpoint& c, const std::string& prefix);

  const std::vector<at::Tensor>& live_params() const { return live_->params; }
  torch::nn::Sequential live_module() const { return live_->module; }
  std::int64_t live_version() const { return live_->version; }
  std::int64_t param_bytes() const { return param_bytes_; }
  std::int64_t params_count() const { return param_count_; }
  int weight_copies() const;
  int weight_copies_max() const { return copies_max_; }
  std::int64_t weight_bytes_max() const { return bytes_max_; }
  std::int64_t activation_bytes_max() const { return activation_bytes_max_; }
  std::int64_t activation_bytes() const { return activation_bytes_; }  // held now (inputs, outputs, unit gradients)
  std::int64_t busy_ns() const { return busy_ns_; }
  const StageOptimizer& optimizer() const { return optimizer_; }

 private:
  struct InFlight {
    at::Tensor input;   // the stage's input (detached)
    at::Tensor output;  // with its graph when `weights` is set; the loss at the last stage
    std::shared_ptr<WeightSet> weights;  // set when the backward reuses this forward's graph
    std::int64_t basis = 0;
    at::Tensor labels;  // last stage
    double scale = 1;   // this microbatch's share of the minibatch (loss weighting)
    std::shared_ptr<WeightSet> pinned;  // the forward's weights, kept for the backward's strategy
    // Split backward: every unit's output (with the graph), and after I the gradient at each of them.
    std::vector<at::Tensor> unit_outputs;
    std::vector<at::Tensor> unit_grads;
    bool input_grad_done = false;
    // After I: the gradient at every weight op's output (weight_grads.h); W runs from there. Not kept
    // in checkpoints: a record restored between I and W takes its W unit by unit from unit_grads.
    std::shared_ptr<WeightGradStore> weight_grads;
    std::vector<bool> by_unit;  // with weight_grads: the units W takes whole, from unit_grads
    // What this record added to activation_bytes_ (its input, and the forward's output while its graph
    // is kept): the backward takes off exactly that. At the last stage `output` is then the loss, not
    // the logits the forward counted.
    std::int64_t counted_bytes = 0;
  };
  // An op whose divergence waits for its target version: a flat copy of the weights it read
  // (and of the live weights of its moment, for the prediction gain).
  struct PendingDivergence {
    OpEvent event;
    at::Tensor used;
    at::Tensor live;
  };
  using Key = std::pair<std::int64_t, int>;

  std::optional<Message> forward(const Op& op, std::optional<Message> in, OpEvent& ev);
  std::optional<Message> backward(const Op& op, std::optional<Message> in, OpEvent& ev);
  std::optional<Message> input_grad(const Op& op, std::optional<Message> in, OpEvent& ev);
  void weight_grad(const Op& op, OpEvent& ev);
  // Forward through the units one by one, keeping each unit's output (the split backward's handles).
  at::Tensor forward_units(WeightSet& ws, const at::Tensor& x, std::vector<at::Tensor>* outputs);
  void rebuild_graph(InFlight& rec);
  void add_grad(std::size_t i, const at::Tensor& g);
  void update(const Op& op, OpEvent& ev);
  void check_finite(const Op& op) const;
  at::Tensor backward_one(InFlight& rec, const at::Tensor& grad_out, OpEvent& ev, std::int64_t minibatch);
  at::Tensor loss_of(const at::Tensor& logits, const InFlight& rec) const;
  std::shared_ptr<WeightSet> acquire_copy();
  void release(std::shared_ptr<WeightSet> ws);
  std::shared_ptr<WeightSet> version_for(const WeightChoice& choice);
  void drop_unneeded_versions();
  StageView view() const;
  void note_memory();
  void measure_divergence(OpEvent& ev, const WeightSet& used, bool computed);
  void resolve_divergence();
  void emit(const OpEvent& ev);
  // A message for this stage: the backend makes its tensors usable here (waits for the device copy),
  // then the transfer is reported.
  void received(Message& m, bool gradient);
  void send(Message& m, bool gradient);
  void note_device_memory();
  double lr_for_next_update() const;

  StageSetup setup_;
  StageOptimizer optimizer_;
  std::shared_ptr<WeightSet> live_;
  std::vector<std::shared_ptr<WeightSet>> held_;  // older versions still referenced by graphs
  std::vector<std::shared_ptr<WeightSet>> spare_;  // reusable buffers (not counted as held)
  std::vector<at::Tensor> grad_acc_;
  // Data parallel: per minibatch, the microbatches whose weight gradient is in grad_acc_ (deposited for
  // the all-reduce once all of them are).
  std::map<std::int64_t, int> grads_done_;
  void gradient_done(std::int64_t mb, int micros);
  std::vector<std::size_t> unit_param_begin_;  // where each unit's tensors start in the parameter list (+ end)
  std::map<Key, InFlight> in_flight_;
  std::set<std::int64_t> update_between_;  // minibatches whose F and B are separated by a U here
  std::map<std::int64_t, MinibatchResult> results_;
  std::vector<PendingDivergence> pending_;
  std::shared_ptr<WeightSet> last_used_;  // the weights the last F/B read (for divergence)
  bool last_computed_ = false;
  std::function<bool()> interrupted_ = [] { return false; };
  std::int64_t base_ = 0;
  std::chrono::steady_clock::time_point origin_;
  std::int64_t param_bytes_ = 0, param_count_ = 0;
  int copies_max_ = 1;
  std::int64_t bytes_max_ = 0, activation_bytes_ = 0, activation_bytes_max_ = 0, busy_ns_ = 0;
  DeviceBackend* previous_ = nullptr;
  DeviceBackend* next_ = nullptr;
  DeviceMemory device_memory_;
};

}  // namespace ps
