// A weight-staleness strategy decides which weights each forward and backward of a stage reads
// (STRATEGIES.md section 3). The executor owns the weight versions and asks the strategy per op.
// Internal to the engine (LibTorch types).
#pragma once
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/runtime/optimizer.h"

namespace ps {

struct Checkpoint;

// What a strategy may look at when it decides: the stage's live weights and optimizer state.
struct StageView {
  int stage = 0;
  int num_stages = 1;
  const std::vector<at::Tensor>* live = nullptr;  // the live parameters
  std::int64_t live_version = 0;                  // updates applied at this stage so far
  const StageOptimizer* optimizer = nullptr;
  double lr = 0;  // the scheduled learning rate of the next update
  // At a backward, for strategies that ask for it (backward_needs_forward_weights): the weights the
  // same minibatch's forward read at this stage, and their basis version.
  const std::vector<at::Tensor>* forward_weights = nullptr;
  std::int64_t forward_basis = -1;
  // At a forward (vertical sync): the live version stage 0's forward of the same minibatch read; the
  // id travels with the minibatch. -1 at stage 0 and at backwards.
  std::int64_t origin_version = -1;
};

enum class WeightSource {
  Live,           // the live weights as they are when the op runs
  SameAsForward,  // backward only: exactly the weights the forward used (stashing)
  Computed,       // weights the strategy writes (a prediction, an interpolation); see Strategy::fill
  Version,        // an older live version of this stage, basis_version, that the stage still holds (in
                  // use by a graph, or kept because Strategy::keeps_version asked for it)
};

struct WeightChoice {
  WeightSource source = WeightSource::Live;
  std::int64_t basis_version = -1;  // -1: the live version
  double prediction_distance = 0;   // s, for predicting strategies
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual std::string name() const = 0;

  // target_version: the staleness-free version for this minibatch (STRATEGIES.md section 1).
  virtual WeightChoice forward(const StageView& view, int minibatch, std::int64_t target_version) = 0;
  virtual WeightChoice backward(const StageView& view, int minibatch, std::int64_t target_version) = 0;

  // True when every backward reads its forward's weights: the executor then keeps the forward's
  // autograd graph (and the weights it references) instead of recomputing the forward at B time.
  virtual bool backward_reuses_forward() const = 0;
  // True when every backward reads the live weights of its moment (the executor may then reuse the
  // forward's graph when no update of this stage falls between the two).
  virtual bool backward_reads_live() const { return false; }
  // True when the backward's weights are computed from the forward's (I-TiMePReSt's interpolation):
  // the executor then keeps the forward's weights until the backward and shows them in StageView.
  virtual bool backward_needs_forward_weights() const { return false; }

  // For WeightSource::Computed: write the weights into `out` (tensors shaped like the live ones).
  virtual void fill(const StageView& view, const WeightChoice& choice, std::vector<at::Tensor>& out) {}

  // Multiplier on the scheduled learning rate of the next update (PipeMare's rescheduling).
  virtual double lr_scale(const StageView& view) { return 1.0; }
  // Called just before every update of the live weights (view.live still holds the old version).
  virtual void before_update(const StageView& view) {}
  // Called after every update of the live weights.
  virtual void after_update(const StageView& view) {}
  // For WeightSource::Version: whether the stage must keep live version `version` once an update
  // supersedes it, because a later op will read it. Asked at every update and after every op.
  virtual bool keeps_version(std::int64_t version) const { return false; }
  // Weight-sized bytes the strategy holds besides the executor's weight versions (delta buffers...).
  virtual std::int64_t extra_bytes() const { return 0; }

  // Checkpoints: the strategy's own state (what it learnt from the run so far), under `prefix`.
  virtual void save_state(Checkpoint& c, const std::string& prefix) const {}
  virtual void load_state(const Checkpoint& c, const std::string& prefix, const c10::Device& device) {}
};

// Builds a strategy from its catalogue name and resolved parameters (see strategy_info.h).
std::unique_ptr<Strategy> make_strategy(const std::string& name, const std::map<std::string, std::string>& params,
                                        int stage, int num_stages);

}  // namespace ps
