// load_dataset(): picks the loader, then applies the limits and the normalisation every set shares.
#include <cmath>

#include "engine/data/loaders.h"
#include "engine/util/errors.h"

#ifndef PIPESCOPE_FASHION_MNIST_DIR
#define PIPESCOPE_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
#endif

namespace ps {
namespace {

std::string known_names() {
  std::string s;
  for (const auto& e : dataset_catalog()) s += (s.empty() ? "" : ", ") + e.name;
  return s;
}

void check_options(const DatasetConfig& cfg) {
  if (!is_dataset(cfg.name))
    throw InputError("", "dataset.name", "unknown data set '" + cfg.name + "'; known: " + known_names());
  if (cfg.train_limit < 0)
    throw InputError("", "dataset.train_limit", "must be >= 0 (0 = all), got " + std::to_string(cfg.train_limit));
  if (cfg.test_limit < 0)
    throw InputError("", "dataset.test_limit", "must be >= 0 (0 = all), got " + std::to_string(cfg.test_limit));
  if (cfg.synthetic_size <= 0)
    throw InputError("", "dataset.synthetic_size", "must be > 0, got " + std::to_string(cfg.synthetic_size));
  if (!(cfg.test_fraction > 0.0 && cfg.test_fraction < 1.0))
    throw InputError("", "dataset.test_fraction", "must lie strictly between 0 and 1, got " +
                                                      std::to_string(cfg.test_fraction));
}

// `synthetic_size` training samples plus as many test samples as make `test_fraction` of the whole.
std::pair<std::int64_t, std::int64_t> synthetic_counts(const DatasetConfig& cfg) {
  const std::int64_t train = cfg.synthetic_size;
  const auto test = std::max<std::int64_t>(
      1, std::llround(static_cast<double>(train) * cfg.test_fraction / (1.0 - cfg.test_fraction)));
  return {train, test};
}

std::string directory_of(const DatasetConfig& cfg) {
  if (!cfg.path.empty()) return cfg.path;
  for (const auto& e : dataset_catalog())
    if (e.name == cfg.name && !e.default_path.empty()) return e.default_path;
  throw InputError("", "dataset.path", "the " + cfg.name + " data set needs a directory (dataset.path)");
}

void keep_first(TensorDataset& set, std::int64_t limit) {
  if (limit <= 0 || limit >= set.size()) return;
  set.inputs = set.inputs.slice(0, 0, limit).clone();  // clone: let the rest be freed
  set.labels = set.labels.slice(0, 0, limit).clone();
}

// Standardises float inputs with the training set's statistics: per channel for images [N,C,H,W],
// per feature for vectors [N,D].
void normalise(DataSplit& split) {
  at::Tensor& train = split.train.inputs;
  if (!train.is_floating_point() || split.train.size() == 0) return;
  std::vector<std::int64_t> reduce_dims{0};
  for (std::int64_t d = 2; d < train.dim(); ++d) reduce_dims.push_back(d);
  at::Tensor mean = train.mean(reduce_dims, /*keepdim=*/true);
  at::Tensor stdev = train.std(reduce_dims, /*unbiased=*/false, /*keepdim=*/true).clamp_min(1e-6);
  train.sub_(mean).div_(stdev);
  if (split.test.size() > 0) split.test.inputs.sub_(mean).div_(stdev);
}

DataSplit load_raw(const DatasetConfig& cfg, std::uint64_t seed) {
  if (cfg.name == "fashion-mnist") {
    const std::string dir = directory_of(cfg);
    require_directory(dir, cfg.path.empty() ? "install Debian's dataset-fashion-mnist or set dataset.path" : "");
    DataSplit split = load_idx_directory(dir, 10);
    split.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    return split;
  }
  if (cfg.name == "mnist-dir") {
    const std::string dir = directory_of(cfg);
    require_directory(dir, "");
    return load_idx_directory(dir, 0);
  }
  if (cfg.name == "cifar10") {
    const std::string dir = directory_of(cfg);
    require_directory(dir, "");
    return load_cifar10(dir);
  }
  const auto [train, test] = synthetic_counts(cfg);
  if (cfg.name == "spirals") return make_spirals(train, test, seed);
  if (cfg.name == "blobs") return make_blobs(train, test, seed);
  if (cfg.name == "sequence") return make_sequence(train, test, seed);
  throw InputError("", "dataset.name", "data set '" + cfg.name + "' is listed but has no loader");
}

}  // namespace

DataSplit load_dataset(const DatasetConfig& cfg, std::uint64_t seed) {
  check_options(cfg);
  DataSplit split = load_raw(cfg, seed);
  split.name = cfg.name;
  keep_first(split.train, cfg.train_limit);
  keep_first(split.test, cfg.test_limit);
  if (cfg.normalize) normalise(split);
  return split;
}

}  // namespace ps
