// Synthetic data sets, generated from the seed alone (a local generator: the global one is left alone).
#include <cmath>
#include <random>

#include "engine/data/loaders.h"

namespace ps {
namespace {

// mt19937_64's output is fixed by the standard; the distributions of <random> are not, so the
// conversions to uniform and normal numbers are done here to give the same sets on every platform.
class Rng {
 public:
  Rng(std::uint64_t seed, std::uint64_t salt) : gen_(seed * 0x9E3779B97F4A7C15ULL ^ salt) {}
  double uniform() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }  // [0, 1)
  double normal() {                                                            // Box-Muller
    const double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }
  std::int64_t below(std::int64_t n) { return static_cast<std::int64_t>(gen_() % static_cast<std::uint64_t>(n)); }

 private:
  std::mt19937_64 gen_;
};

DataSplit split_rows(const at::Tensor& inputs, const at::Tensor& labels, std::int64_t train, InputSpec input) {
  DataSplit split;
  split.train = {inputs.slice(0, 0, train).clone(), labels.slice(0, 0, train).clone()};
  split.test = {inputs.slice(0, train).clone(), labels.slice(0, train).clone()};
  split.input = std::move(input);
  return split;
}

InputSpec points_spec(int classes) {
  InputSpec spec;
  spec.sample_shape = {2};
  spec.num_classes = classes;
  return spec;
}

}  // namespace

// Two interleaved spirals of 1.5 turns each, radius 0..1, Gaussian noise 0.04.
DataSplit make_spirals(std::int64_t train, std::int64_t test, std::uint64_t seed) {
  Rng rng(seed, 0x5917A15ULL);
  const std::int64_t n = train + test;
  at::Tensor points = torch::empty({n, 2}, torch::kFloat32);
  at::Tensor labels = torch::empty({n}, torch::kLong);
  auto p = points.accessor<float, 2>();
  auto l = labels.accessor<std::int64_t, 1>();
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t cls = rng.below(2);
    const double t = rng.uniform();
    const double angle = 3.0 * M_PI * t + M_PI * static_cast<double>(cls);
    p[i][0] = static_cast<float>(t * std::cos(angle) + 0.04 * rng.normal());
    p[i][1] = static_cast<float>(t * std::sin(angle) + 0.04 * rng.normal());
    l[i] = cls;
  }
  return split_rows(points, labels, train, points_spec(2));
}

// Four isotropic Gaussian blobs (standard deviation 1) centred at (+-2, +-2).
DataSplit make_blobs(std::int64_t train, std::int64_t test, std::uint64_t seed) {
  static const double centres[4][2] = {{2, 2}, {-2, 2}, {-2, -2}, {2, -2}};
  Rng rng(seed, 0xB10B5ULL);
  const std::int64_t n = train + test;
  at::Tensor points = torch::empty({n, 2}, torch::kFloat32);
  at::Tensor labels = torch::empty({n}, torch::kLong);
  auto p = points.accessor<float, 2>();
  auto l = labels.accessor<std::int64_t, 1>();
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t cls = rng.below(4);
    p[i][0] = static_cast<float>(centres[cls][0] + rng.normal());
    p[i][1] = static_cast<float>(centres[cls][1] + rng.normal());
    l[i] = cls;
  }
  return split_rows(points, labels, train, points_spec(4));
}

// First-of-four sequences: each sequence is a random arrangement of all 16 tokens of the vocabulary, so
// every sequence holds the same bag of tokens and only the order carries information. The class is
// whichever of the tokens 0, 1, 2, 3 comes first (balanced by symmetry): the model has to compare the
// positions of four tokens scattered across the sequence.
DataSplit make_sequence(std::int64_t train, std::int64_t test, std::uint64_t seed) {
  constexpr std::int64_t kLength = 16, kVocab = 16, kClasses = 4;
  static_assert(kLength == kVocab, "a sequence is an arrangement of the whole vocabulary");
  Rng rng(seed, 0x5E9E9CEULL);
  const std::int64_t n = train + test;
  at::Tensor tokens = torch::empty({n, kLength}, torch::kLong);
  at::Tensor labels = torch::empty({n}, torch::kLong);
  auto t = tokens.accessor<std::int64_t, 2>();
  auto l = labels.accessor<std::int64_t, 1>();
  std::vector<std::int64_t> order(kVocab);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t v = 0; v < kVocab; ++v) order[v] = v;
    for (std::int64_t j = kVocab - 1; j > 0; --j) std::swap(order[j], order[rng.below(j + 1)]);  // Fisher-Yates
    l[i] = -1;
    for (std::int64_t j = 0; j < kLength; ++j) {
      t[i][j] = order[j];
      if (l[i] < 0 && order[j] < kClasses) l[i] = order[j];
    }
  }
  InputSpec spec;
  spec.sample_shape = {kLength};
  spec.num_classes = kClasses;
  spec.tokens = true;
  spec.vocab = kVocab;
  return split_rows(tokens, labels, train, spec);
}

}  // namespace ps
