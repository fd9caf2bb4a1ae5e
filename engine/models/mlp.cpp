// mlp: flatten, hidden Linear+ReLU layers, a Linear head. Takes any float input (images or points).
#include "engine/models/layers.h"
#include "engine/models/unit_plan.h"
#include "engine/util/errors.h"

namespace ps {

std::vector<UnitPlan> plan_mlp(const ModelConfig& cfg, const InputSpec& input) {
  if (input.tokens)
    throw InputError("", "model.name", "mlp needs float inputs, but the data set gives token sequences " +
                                           shape_text(input.sample_shape) + " (use the transformer)");
  const std::vector<int> hidden = cfg.hidden.empty() ? std::vector<int>{256, 128} : cfg.hidden;
  for (std::size_t i = 0; i < hidden.size(); ++i)
    if (hidden[i] <= 0)
      throw InputError("", "model.hidden[" + std::to_string(i) + "]",
                       "hidden width must be > 0, got " + std::to_string(hidden[i]));

  std::int64_t in = 1;
  for (std::int64_t d : input.sample_shape) in *= d;
  std::vector<UnitPlan> units;
  for (std::size_t i = 0; i < hidden.size(); ++i) {
    const std::int64_t out = hidden[i];
    const bool flatten = i == 0;
    const std::string name = (flatten ? "flatten+fc" : "fc") + std::to_string(i + 1);
    units.push_back(make_unit(name, "linear", linear_params(in, out), {out}, linear_flops(in, out), [=] {
      return torch::nn::AnyModule(LinearUnit(in, out, flatten, Activation::relu));
    }));
    in = out;
  }
  const std::int64_t classes = input.num_classes;
  units.push_back(make_unit("head", "linear", linear_params(in, classes), {classes}, linear_flops(in, classes), [=] {
    return torch::nn::AnyModule(LinearUnit(in, classes, /*flatten=*/false, Activation::none));
  }));
  return units;
}

}  // namespace ps
