// What the dashboard and the partitioner need to know about a model, without LibTorch:
// an ordered list of layer units (partition boundaries fall between units).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ps {

struct UnitInfo {
  std::string name;                        // "conv1", "block3", ...
  std::string kind;                        // "conv", "linear", "residual", "transformer", ...
  std::int64_t params = 0;                 // trainable parameters
  std::vector<std::int64_t> output_shape;  // per sample, without the batch dimension
  double forward_flops = 0;                // per sample, estimated analytically
  std::int64_t activation_bytes = 0;       // per sample: bytes of the unit's output (float32)
};

struct ModelInfo {
  std::string name;
  std::vector<std::int64_t> input_shape;  // per sample
  int num_classes = 0;
  std::vector<UnitInfo> units;

  std::int64_t total_params() const {
    std::int64_t n = 0;
    for (const auto& u : units) n += u.params;
    return n;
  }
};

struct ModelCatalogEntry {
  std::string name;
  std::string summary;
};

const std::vector<ModelCatalogEntry>& model_catalog();
bool is_model(const std::string& name);

}  // namespace ps
