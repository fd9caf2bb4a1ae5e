// Models as ordered lists of layer units. Internal to the engine (includes LibTorch's nn headers).
#pragma once
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/sequential.h>

#include <memory>

#include "engine/config/run_config.h"
#include "engine/models/model_info.h"

namespace ps {

// The shape of one sample as the model sees it.
struct InputSpec {
  std::vector<std::int64_t> sample_shape;  // e.g. {1,28,28} for images, {2} for points, {T} for tokens
  int num_classes = 10;
  bool tokens = false;  // inputs are int64 token ids (the transformer's sequence task)
  int vocab = 0;        // token vocabulary size when tokens
};

// Builds the units of one model. Construction is cheap (it computes ModelInfo by shape inference);
// build_units() creates fresh modules whose initial weights come from LibTorch's global generator,
// so the caller seeds it (torch::manual_seed) and builds units in order 0..n-1 for reproducible runs.
class ModelBuilder {
 public:
  ModelBuilder(const ModelConfig& cfg, const InputSpec& input);  // throws InputError (field "model...")
  const ModelInfo& info() const { return info_; }
  int num_units() const { return static_cast<int>(info_.units.size()); }

  // A Sequential of units [first, last) (last exclusive). Throws std::out_of_range on bad indices.
  torch::nn::Sequential build_units(int first, int last) const;

 private:
  ModelConfig cfg_;
  InputSpec input_;
  ModelInfo info_;
};

}  // namespace ps
