// Plain convolutional nets for images: lenet5, cnn (the Fashion-MNIST baseline) and a small vgg.
// Each adapts to the image it is given: channels, height and width come from the input shape.
#include "engine/models/layers.h"
#include "engine/models/unit_plan.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

int base_width(const ModelConfig& cfg, int fallback) { return cfg.width > 0 ? cfg.width : fallback; }

// Appends a ConvUnit and advances `shape` (channels, height, width) past it.
void add_conv_unit(std::vector<UnitPlan>& units, const std::string& name, const ConvUnitOptions& options,
                   ImageShape& shape) {
  std::int64_t params = 0;
  double flops = 0;
  std::int64_t in = options.in, h = shape.height, w = shape.width;
  for (int i = 0; i < options.convs; ++i) {
    h = conv_side(h, options.kernel, 1, options.padding);
    w = conv_side(w, options.kernel, 1, options.padding);
    params += conv_params(in, options.out, options.kernel, /*bias=*/true);
    flops += conv_flops(in, options.out, options.kernel, h, w);
    in = options.out;
  }
  if (options.pool != Pool::none) h /= 2, w /= 2;
  shape = {options.out, h, w};
  units.push_back(make_unit(name, "conv", params, {shape.channels, shape.height, shape.width}, flops,
                            [options] { return torch::nn::AnyModule(ConvUnit(options)); }));
}

void add_linear_unit(std::vector<UnitPlan>& units, const std::string& name, std::int64_t in, std::int64_t out,
                     bool flatten, Activation act) {
  units.push_back(make_unit(name, "linear", linear_params(in, out), {out}, linear_flops(in, out),
                            [=] { return torch::nn::AnyModule(LinearUnit(in, out, flatten, act)); }));
}

std::int64_t flat_size(const ImageShape& s) { return s.channels * s.height * s.width; }

std::string side_text(const ImageShape& s) { return std::to_string(s.height) + "x" + std::to_string(s.width); }

}  // namespace

// LeNet-5 (LeCun et al. 1998) with tanh and average pooling. It was drawn for 32x32 inputs, so smaller
// images get up to 2 pixels of padding in the first convolution (28x28 MNIST-style images see 32x32).
std::vector<UnitPlan> plan_lenet5(const ModelConfig& cfg, const InputSpec& input) {
  const ImageShape image = require_image_input("lenet5", input);
  const std::int64_t pad = std::clamp<std::int64_t>((32 - std::min(image.height, image.width)) / 2, 0, 2);
  if (std::min(image.height, image.width) + 2 * pad < 16)
    throw InputError("", "model.name", "lenet5 needs images of at least 12x12 pixels, got " + side_text(image));
  ImageShape shape = image;
  std::vector<UnitPlan> units;
  add_conv_unit(units, "conv1", {image.channels, 6, 5, pad, 1, Activation::tanh, Pool::avg2, false}, shape);
  add_conv_unit(units, "conv2", {6, 16, 5, 0, 1, Activation::tanh, Pool::avg2, false}, shape);
  add_linear_unit(units, "fc1", flat_size(shape), 120, /*flatten=*/true, Activation::tanh);
  add_linear_unit(units, "fc2", 120, 84, false, Activation::tanh);
  add_linear_unit(units, "head", 84, input.num_classes, false, Activation::none);
  return units;
}

// Two 5x5 conv+ReLU+maxpool units (width, 2*width channels; width 32 by default), fc 1024, head.
std::vector<UnitPlan> plan_cnn(const ModelConfig& cfg, const InputSpec& input) {
  const ImageShape image = require_image_input("cnn", input);
  if (std::min(image.height, image.width) < 4)
    throw InputError("", "model.name", "cnn needs images of at least 4x4 pixels, got " + side_text(image));
  const std::int64_t width = base_width(cfg, 32);
  ImageShape shape = image;
  std::vector<UnitPlan> units;
  add_conv_unit(units, "conv1", {image.channels, width, 5, 2, 1, Activation::relu, Pool::max2, false}, shape);
  add_conv_unit(units, "conv2", {width, 2 * width, 5, 2, 1, Activation::relu, Pool::max2, false}, shape);
  add_linear_unit(units, "fc1", flat_size(shape), 1024, /*flatten=*/true, Activation::relu);
  add_linear_unit(units, "head", 1024, input.num_classes, false, Activation::none);
  return units;
}

// Four blocks of two 3x3 convs + ReLU (width, 2w, 4w, 8w channels; width 16 by default), each followed by
// a 2x2 max pool while the image is at least 2x2; then fc (16*width) and the head. He initialisation,
// since eight plain convolutions in a row starve with LibTorch's default one.
std::vector<UnitPlan> plan_vgg(const ModelConfig& cfg, const InputSpec& input) {
  const ImageShape image = require_image_input("vgg", input);
  const std::int64_t width = base_width(cfg, 16);
  ImageShape shape = image;
  std::vector<UnitPlan> units;
  for (int block = 0; block < 4; ++block) {
    const bool can_pool = shape.height >= 2 && shape.width >= 2;
    const ConvUnitOptions options{shape.channels, width << block, 3, 1, 2, Activation::relu,
                                  can_pool ? Pool::max2 : Pool::none, /*kaiming_init=*/true};
    add_conv_unit(units, "block" + std::to_string(block + 1), options, shape);
  }
  add_linear_unit(units, "fc1", flat_size(shape), 16 * width, /*flatten=*/true, Activation::relu);
  add_linear_unit(units, "head", 16 * width, input.num_classes, false, Activation::none);
  return units;
}

}  // namespace ps
