#include "engine/models/layers.h"

namespace ps {
namespace {

torch::Tensor activate(const torch::Tensor& x, Activation act) {
  switch (act) {
    case Activation::relu: return torch::relu(x);
    case Activation::tanh: return torch::tanh(x);
    case Activation::none: break;
  }
  return x;
}

// He et al. (2015) for layers followed by ReLU; draws from the global generator like the default init.
void he_init(torch::Tensor& weight, torch::Tensor& bias) {
  torch::NoGradGuard no_grad;
  torch::nn::init::kaiming_uniform_(weight, 0.0, torch::kFanIn, torch::kReLU);
  bias.zero_();
}

}  // namespace

LinearUnitImpl::LinearUnitImpl(std::int64_t in, std::int64_t out, bool flatten, Activation act)
    : flatten_(flatten), act_(act) {
  fc_ = register_module("fc", torch::nn::Linear(in, out));
}

torch::Tensor LinearUnitImpl::forward(torch::Tensor x) {
  if (flatten_) x = x.flatten(1);
  return activate(fc_->forward(x), act_);
}

ConvUnitImpl::ConvUnitImpl(const ConvUnitOptions& options) : options_(options) {
  for (int i = 0; i < options.convs; ++i) {
    torch::nn::Conv2d conv(torch::nn::Conv2dOptions(i == 0 ? options.in : options.out, options.out, options.kernel)
                               .padding(options.padding));
    if (options.kaiming_init) he_init(conv->weight, conv->bias);
    convs_->push_back(conv);
  }
  register_module("convs", convs_);
}

torch::Tensor ConvUnitImpl::forward(torch::Tensor x) {
  for (const auto& conv : *convs_) x = activate(conv->as<torch::nn::Conv2d>()->forward(x), options_.act);
  switch (options_.pool) {
    case Pool::max2: return torch::max_pool2d(x, 2);
    case Pool::avg2: return torch::avg_pool2d(x, 2);
    case Pool::none: break;
  }
  return x;
}

std::int64_t conv_side(std::int64_t side, std::int64_t kernel, std::int64_t stride, std::int64_t padding) {
  const std::int64_t span = side + 2 * padding - kernel;
  return span < 0 ? 0 : span / stride + 1;
}

std::int64_t conv_params(std::int64_t in, std::int64_t out, std::int64_t kernel, bool bias) {
  return in * out * kernel * kernel + (bias ? out : 0);
}

double conv_flops(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t out_h, std::int64_t out_w) {
  return 2.0 * static_cast<double>(in * kernel * kernel) * static_cast<double>(out * out_h * out_w);
}

std::int64_t linear_params(std::int64_t in, std::int64_t out) { return in * out + out; }

double linear_flops(std::int64_t in, std::int64_t out) { return 2.0 * static_cast<double>(in) * static_cast<double>(out); }

}  // namespace ps
