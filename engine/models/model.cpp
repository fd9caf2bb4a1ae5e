// ModelBuilder: the model's plan gives ModelInfo at construction and the modules on demand.
#include "engine/models/model.h"

#include <stdexcept>

#include "engine/models/unit_plan.h"
#include "engine/util/errors.h"

namespace ps {

UnitPlan make_unit(std::string name, std::string kind, std::int64_t params, std::vector<std::int64_t> output_shape,
                   double forward_flops, std::function<torch::nn::AnyModule()> make) {
  UnitPlan unit;
  unit.info.name = std::move(name);
  unit.info.kind = std::move(kind);
  unit.info.params = params;
  std::int64_t numel = 1;
  for (std::int64_t d : output_shape) numel *= d;
  unit.info.output_shape = std::move(output_shape);
  unit.info.forward_flops = forward_flops;
  unit.info.activation_bytes = 4 * numel;
  unit.make = std::move(make);
  return unit;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

ImageShape require_image_input(const std::string& model, const InputSpec& input) {
  if (input.tokens || input.sample_shape.size() != 3)
    throw InputError("", "model.name",
                     model + " needs image inputs [C,H,W], but the data set gives " +
                         (input.tokens ? "token sequences " : "samples ") + shape_text(input.sample_shape));
  return {input.sample_shape[0], input.sample_shape[1], input.sample_shape[2]};
}

std::vector<UnitPlan> plan_model(const ModelConfig& cfg, const InputSpec& input) {
  if (cfg.width < 0) throw InputError("", "model.width", "must be >= 0 (0 = the model's default), got " +
                                                            std::to_string(cfg.width));
  if (cfg.depth < 0) throw InputError("", "model.depth", "must be >= 0 (0 = the model's default), got " +
                                                            std::to_string(cfg.depth));
  if (input.sample_shape.empty())
    throw InputError("", "model.name", "the data set gives samples without a shape");
  for (std::int64_t d : input.sample_shape)
    if (d <= 0) throw InputError("", "model.name", "the data set gives samples of shape " + shape_text(input.sample_shape));
  if (input.num_classes < 1)
    throw InputError("", "model.name", "the data set has " + std::to_string(input.num_classes) + " classes");

  if (cfg.name == "mlp") return plan_mlp(cfg, input);
  if (cfg.name == "lenet5") return plan_lenet5(cfg, input);
  if (cfg.name == "cnn") return plan_cnn(cfg, input);
  if (cfg.name == "vgg") return plan_vgg(cfg, input);
  if (cfg.name == "resnet") return plan_resnet(cfg, input);
  if (cfg.name == "transformer") return plan_transformer(cfg, input);
  std::string known;
  for (const auto& e : model_catalog()) known += (known.empty() ? "" : ", ") + e.name;
  throw InputError("", "model.name", "unknown model '" + cfg.name + "'; known: " + known);
}

ModelBuilder::ModelBuilder(const ModelConfig& cfg, const InputSpec& input) : cfg_(cfg), input_(input) {
  info_.name = cfg.name;
  info_.input_shape = input.sample_shape;
  info_.num_classes = input.num_classes;
  for (UnitPlan& unit : plan_model(cfg, input)) info_.units.push_back(std::move(unit.info));
}

torch::nn::Sequential ModelBuilder::build_units(int first, int last) const {
  if (first < 0 || last > num_units() || first > last)
    throw std::out_of_range("units [" + std::to_string(first) + ", " + std::to_string(last) + ") of model " +
                            cfg_.name + " with " + std::to_string(num_units()) + " units");
  // Planning again is cheap (no modules are built) and keeps the builder a plain value.
  std::vector<UnitPlan> plan = plan_model(cfg_, input_);
  torch::nn::Sequential units;
  for (int i = first; i < last; ++i) units->push_back(plan[i].info.name, plan[i].make());
  return units;
}

}  // namespace ps
