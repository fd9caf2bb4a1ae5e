// resnet: a stem, `depth` residual blocks (one unit each) and a pooled linear head. GroupNorm instead of
// BatchNorm: it keeps no running statistics, so every piece of state is a trainable parameter.
#include <numeric>

#include "engine/models/layers.h"
#include "engine/models/unit_plan.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

constexpr int kMaxDepth = 64;

torch::nn::GroupNorm group_norm(std::int64_t channels) {
  return torch::nn::GroupNorm(std::gcd<std::int64_t>(channels, 8), channels);
}

torch::nn::Conv2d conv_no_bias(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

// conv3x3 - GroupNorm - ReLU.
class StemImpl : public torch::nn::Module {
 public:
  StemImpl(std::int64_t in, std::int64_t out)
      : conv_(register_module("conv", conv_no_bias(in, out, 3, 1))), norm_(register_module("norm", group_norm(out))) {}
  torch::Tensor forward(torch::Tensor x) { return torch::relu(norm_->forward(conv_->forward(x))); }

 private:
  torch::nn::Conv2d conv_;
  torch::nn::GroupNorm norm_;
};
TORCH_MODULE(Stem);

// The basic block of He et al. (2016): two 3x3 convolutions, the first maybe strided; a 1x1 projection
// on the shortcut when the shape changes.
class ResidualBlockImpl : public torch::nn::Module {
 public:
  ResidualBlockImpl(std::int64_t in, std::int64_t out, std::int64_t stride)
      : conv1_(register_module("conv1", conv_no_bias(in, out, 3, stride))),
        norm1_(register_module("norm1", group_norm(out))),
        conv2_(register_module("conv2", conv_no_bias(out, out, 3, 1))),
        norm2_(register_module("norm2", group_norm(out))) {
    if (in != out || stride != 1) {
      shortcut_conv_ = register_module("shortcut_conv", conv_no_bias(in, out, 1, stride));
      shortcut_norm_ = register_module("shortcut_norm", group_norm(out));
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor y = torch::relu(norm1_->forward(conv1_->forward(x)));
    y = norm2_->forward(conv2_->forward(y));
    torch::Tensor shortcut = shortcut_conv_ ? shortcut_norm_->forward(shortcut_conv_->forward(x)) : x;
    return torch::relu(y + shortcut);
  }

 private:
  torch::nn::Conv2d conv1_;
  torch::nn::GroupNorm norm1_;
  torch::nn::Conv2d conv2_;
  torch::nn::GroupNorm norm2_;
  torch::nn::Conv2d shortcut_conv_{nullptr};
  torch::nn::GroupNorm shortcut_norm_{nullptr};
};
TORCH_MODULE(ResidualBlock);

// Global average pooling, then Linear.
class PooledHeadImpl : public torch::nn::Module {
 public:
  PooledHeadImpl(std::int64_t in, std::int64_t classes) : fc_(register_module("fc", torch::nn::Linear(in, classes))) {}
  torch::Tensor forward(torch::Tensor x) { return fc_->forward(x.mean({2, 3})); }

 private:
  torch::nn::Linear fc_;
};
TORCH_MODULE(PooledHead);

std::int64_t block_params(std::int64_t in, std::int64_t out, bool projection) {
  std::int64_t n = conv_params(in, out, 3, false) + 2 * out + conv_params(out, out, 3, false) + 2 * out;
  if (projection) n += conv_params(in, out, 1, false) + 2 * out;
  return n;
}

}  // namespace

// Blocks fall into three stages of (about) depth/3 blocks; each stage after the first doubles the
// channels and halves the image (stride 2 in its first block). Width 16 and depth 4 by default.
std::vector<UnitPlan> plan_resnet(const ModelConfig& cfg, const InputSpec& input) {
  const ImageShape image = require_image_input("resnet", input);
  const int depth = cfg.depth > 0 ? cfg.depth : 4;
  if (depth > kMaxDepth)
    throw InputError("", "model.depth", "resnet takes at most " + std::to_string(kMaxDepth) + " blocks, got " +
                                            std::to_string(depth));
  const std::int64_t width = cfg.width > 0 ? cfg.width : 16;

  std::vector<UnitPlan> units;
  std::int64_t channels = width, h = image.height, w = image.width;
  units.push_back(make_unit("stem", "conv", conv_params(image.channels, width, 3, false) + 2 * width,
                            {width, h, w}, conv_flops(image.channels, width, 3, h, w),
                            [in = image.channels, width] { return torch::nn::AnyModule(Stem(in, width)); }));
  int stage = 0;
  for (int b = 0; b < depth; ++b) {
    const int block_stage = b * 3 / depth;
    const std::int64_t stride = block_stage != stage ? 2 : 1;
    stage = block_stage;
    const std::int64_t in = channels, out = width << stage;
    const bool projection = in != out || stride != 1;
    h = conv_side(h, 3, stride, 1);
    w = conv_side(w, 3, stride, 1);
    double flops = conv_flops(in, out, 3, h, w) + conv_flops(out, out, 3, h, w);
    if (projection) flops += conv_flops(in, out, 1, h, w);
    units.push_back(make_unit("block" + std::to_string(b + 1), "residual", block_params(in, out, projection),
                              {out, h, w}, flops,
                              [=] { return torch::nn::AnyModule(ResidualBlock(in, out, stride)); }));
    channels = out;
  }
  const std::int64_t classes = input.num_classes;
  units.push_back(make_unit("head", "linear", linear_params(channels, classes), {classes},
                            linear_flops(channels, classes),
                            [=] { return torch::nn::AnyModule(PooledHead(channels, classes)); }));
  return units;
}

}  // namespace ps
