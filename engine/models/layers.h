// The plain building blocks that several models share, each a whole unit. Internal to engine/models.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace ps {

enum class Activation { none, relu, tanh };
enum class Pool { none, max2, avg2 };

// Optional flatten, Linear, optional activation.
class LinearUnitImpl : public torch::nn::Module {
 public:
  LinearUnitImpl(std::int64_t in, std::int64_t out, bool flatten, Activation act);
  torch::Tensor forward(torch::Tensor x);

 private:
  torch::nn::Linear fc_{nullptr};
  bool flatten_;
  Activation act_;
};
TORCH_MODULE(LinearUnit);

// `convs` square convolutions (stride 1), each followed by the activation, then an optional 2x2 pooling.
// kaiming_init replaces LibTorch's default initialisation by He's for ReLU (deeper plain stacks need it).
struct ConvUnitOptions {
  std::int64_t in = 1, out = 1, kernel = 3, padding = 1;
  int convs = 1;
  Activation act = Activation::relu;
  Pool pool = Pool::none;
  bool kaiming_init = false;
};

class ConvUnitImpl : public torch::nn::Module {
 public:
  explicit ConvUnitImpl(const ConvUnitOptions& options);
  torch::Tensor forward(torch::Tensor x);

 private:
  torch::nn::ModuleList convs_;
  ConvUnitOptions options_;
};
TORCH_MODULE(ConvUnit);

// Analytic sizes: a convolution's output side, and its parameters and 2*MACs per sample.
std::int64_t conv_side(std::int64_t side, std::int64_t kernel, std::int64_t stride, std::int64_t padding);
std::int64_t conv_params(std::int64_t in, std::int64_t out, std::int64_t kernel, bool bias);
double conv_flops(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t out_h, std::int64_t out_w);
std::int64_t linear_params(std::int64_t in, std::int64_t out);
double linear_flops(std::int64_t in, std::int64_t out);

}  // namespace ps
