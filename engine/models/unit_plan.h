// A model as a plan: for every unit, what ModelInfo says about it (worked out analytically, without
// building anything) and a factory that builds the unit's module. Internal to engine/models.
#pragma once
#include <torch/nn/modules/container/any.h>

#include <functional>
#include <string>
#include <vector>

#include "engine/config/run_config.h"
#include "engine/models/model.h"

namespace ps {

struct UnitPlan {
  UnitInfo info;
  // Builds the unit with fresh weights drawn from the global generator. It must draw the same numbers
  // whatever was built before it, so that building units in groups equals building them in one go.
  std::function<torch::nn::AnyModule()> make;
};

// Fills activation_bytes from the output shape (float32).
UnitPlan make_unit(std::string name, std::string kind, std::int64_t params, std::vector<std::int64_t> output_shape,
                   double forward_flops, std::function<torch::nn::AnyModule()> make);

// One plan per architecture (mlp.cpp, convnets.cpp, resnet.cpp, transformer.cpp). Each throws
// InputError("", "model...", reason) when the configuration or the input shape does not suit it.
std::vector<UnitPlan> plan_mlp(const ModelConfig& cfg, const InputSpec& input);
std::vector<UnitPlan> plan_lenet5(const ModelConfig& cfg, const InputSpec& input);
std::vector<UnitPlan> plan_cnn(const ModelConfig& cfg, const InputSpec& input);
std::vector<UnitPlan> plan_vgg(const ModelConfig& cfg, const InputSpec& input);
std::vector<UnitPlan> plan_resnet(const ModelConfig& cfg, const InputSpec& input);
std::vector<UnitPlan> plan_transformer(const ModelConfig& cfg, const InputSpec& input);

// The dispatch: checks the fields every model shares, then asks the named architecture.
std::vector<UnitPlan> plan_model(const ModelConfig& cfg, const InputSpec& input);

// Shape checks shared by the plans.
struct ImageShape {
  std::int64_t channels, height, width;
};
ImageShape require_image_input(const std::string& model, const InputSpec& input);  // [C,H,W] floats
std::string shape_text(const std::vector<std::int64_t>& shape);                      // "[1,28,28]"

}  // namespace ps
