// transformer: a pre-LayerNorm encoder for token sequences. Units: "embed" (token embedding + learned
// positions), `depth` blocks (self-attention + MLP, each behind a LayerNorm and a residual), "head"
// (final LayerNorm, mean over positions, Linear). Attention is written out with Linear layers and
// matmul/softmax so every piece of state is a plain parameter.
#include <cmath>

#include "engine/models/layers.h"
#include "engine/models/unit_plan.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

constexpr std::int64_t kHeads = 4;
constexpr std::int64_t kMlpRatio = 4;
constexpr int kMaxDepth = 64;

// Positions start at the token embeddings' scale, N(0,1): at GPT's 0.02 the order signal is so faint
// that plain SGD sat at chance on the sequence task for hundreds of steps.
class EmbedImpl : public torch::nn::Module {
 public:
  EmbedImpl(std::int64_t vocab, std::int64_t length, std::int64_t dim)
      : tokens_(register_module("tokens", torch::nn::Embedding(vocab, dim))),
        positions_(register_parameter("positions", torch::randn({length, dim}))) {}
  torch::Tensor forward(torch::Tensor ids) { return tokens_->forward(ids) + positions_; }

 private:
  torch::nn::Embedding tokens_;
  torch::Tensor positions_;
};
TORCH_MODULE(Embed);

class EncoderBlockImpl : public torch::nn::Module {
 public:
  explicit EncoderBlockImpl(std::int64_t dim)
      : dim_(dim),
        norm1_(register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})))),
        qkv_(register_module("qkv", torch::nn::Linear(dim, 3 * dim))),
        proj_(register_module("proj", torch::nn::Linear(dim, dim))),
        norm2_(register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})))),
        fc1_(register_module("fc1", torch::nn::Linear(dim, kMlpRatio * dim))),
        fc2_(register_module("fc2", torch::nn::Linear(kMlpRatio * dim, dim))) {}

  torch::Tensor forward(torch::Tensor x) {  // x: [B, T, D]
    x = x + attention(norm1_->forward(x));
    return x + fc2_->forward(torch::gelu(fc1_->forward(norm2_->forward(x))));
  }

 private:
  torch::Tensor attention(const torch::Tensor& x) {
    const std::int64_t batch = x.size(0), length = x.size(1), head_dim = dim_ / kHeads;
    // [B, T, 3D] -> three [B, H, T, D/H]
    auto qkv = qkv_->forward(x).view({batch, length, 3, kHeads, head_dim}).permute({2, 0, 3, 1, 4});
    torch::Tensor q = qkv[0], k = qkv[1], v = qkv[2];
    torch::Tensor weights = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(double(head_dim)), -1);
    torch::Tensor mixed = torch::matmul(weights, v).transpose(1, 2).reshape({batch, length, dim_});
    return proj_->forward(mixed);
  }

  std::int64_t dim_;
  torch::nn::LayerNorm norm1_;
  torch::nn::Linear qkv_, proj_;
  torch::nn::LayerNorm norm2_;
  torch::nn::Linear fc1_, fc2_;
};
TORCH_MODULE(EncoderBlock);

class MeanPoolHeadImpl : public torch::nn::Module {
 public:
  MeanPoolHeadImpl(std::int64_t dim, std::int64_t classes)
      : norm_(register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})))),
        fc_(register_module("fc", torch::nn::Linear(dim, classes))) {}
  torch::Tensor forward(torch::Tensor x) { return fc_->forward(norm_->forward(x).mean(1)); }

 private:
  torch::nn::LayerNorm norm_;
  torch::nn::Linear fc_;
};
TORCH_MODULE(MeanPoolHead);

std::int64_t block_params(std::int64_t d) {
  const std::int64_t hidden = kMlpRatio * d;
  return 2 * d + linear_params(d, 3 * d) + linear_params(d, d) + 2 * d + linear_params(d, hidden) +
         linear_params(hidden, d);
}

double block_flops(std::int64_t length, std::int64_t d) {
  const double t = static_cast<double>(length);
  const double projections = t * (linear_flops(d, 3 * d) + linear_flops(d, d) + linear_flops(d, kMlpRatio * d) +
                                  linear_flops(kMlpRatio * d, d));
  const double scores_and_mixing = 2.0 * (2.0 * t * t * static_cast<double>(d));
  return projections + scores_and_mixing;
}

}  // namespace

// Width (the model dimension) 64 by default, 4 heads; depth 2 blocks by default.
std::vector<UnitPlan> plan_transformer(const ModelConfig& cfg, const InputSpec& input) {
  if (!input.tokens || input.sample_shape.size() != 1 || input.vocab <= 0)
    throw InputError("", "model.name", "transformer needs token sequences [T] (the sequence data set), but the "
                                       "data set gives samples " + shape_text(input.sample_shape));
  const std::int64_t dim = cfg.width > 0 ? cfg.width : 64;
  if (dim % kHeads != 0)
    throw InputError("", "model.width", "transformer width must be a multiple of " + std::to_string(kHeads) +
                                            " (the attention heads), got " + std::to_string(dim));
  const int depth = cfg.depth > 0 ? cfg.depth : 2;
  if (depth > kMaxDepth)
    throw InputError("", "model.depth", "transformer takes at most " + std::to_string(kMaxDepth) +
                                            " blocks, got " + std::to_string(depth));
  const std::int64_t length = input.sample_shape[0], vocab = input.vocab, classes = input.num_classes;

  std::vector<UnitPlan> units;
  units.push_back(make_unit("embed", "embedding", (vocab + length) * dim, {length, dim},
                            static_cast<double>(length * dim),  // the position add; the lookup is free
                            [=] { return torch::nn::AnyModule(Embed(vocab, length, dim)); }));
  for (int b = 0; b < depth; ++b)
    units.push_back(make_unit("block" + std::to_string(b + 1), "transformer", block_params(dim), {length, dim},
                              block_flops(length, dim),
                              [=] { return torch::nn::AnyModule(EncoderBlock(dim)); }));
  units.push_back(make_unit("head", "linear", 2 * dim + linear_params(dim, classes), {classes},
                            linear_flops(dim, classes),
                            [=] { return torch::nn::AnyModule(MeanPoolHead(dim, classes)); }));
  return units;
}

}  // namespace ps
