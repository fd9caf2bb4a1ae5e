// The data sets PipeScope knows. Torch-free: the dashboard lists them without LibTorch.
#include "engine/data/catalog.h"

#include <algorithm>

#ifndef PIPESCOPE_FASHION_MNIST_DIR
#define PIPESCOPE_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
#endif

namespace ps {

const std::vector<DatasetCatalogEntry>& dataset_catalog() {
  static const std::vector<DatasetCatalogEntry> entries = {
      {"fashion-mnist",
       "Fashion-MNIST: 60000/10000 grey 28x28 images of clothes, 10 classes (Debian's dataset-fashion-mnist)",
       true, PIPESCOPE_FASHION_MNIST_DIR},
      {"mnist-dir",
       "Any directory in MNIST IDX format: train-images-idx3-ubyte, train-labels-idx1-ubyte, "
       "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each raw or .gz)",
       true, ""},
      {"cifar10",
       "CIFAR-10, binary version: data_batch_1..5.bin and test_batch.bin, 32x32 colour images, 10 classes",
       true, ""},
      {"spirals", "Two interleaved noisy spirals: 2-d points, 2 classes (synthetic, seeded)", false, ""},
      {"blobs", "Four Gaussian blobs: 2-d points, 4 classes (synthetic, seeded)", false, ""},
      {"sequence",
       "Token sequences for the transformer: each an arrangement of all 16 tokens; the class is which of "
       "the tokens 0-3 comes first, so only the order across positions tells it (synthetic, seeded)",
       false, ""},
  };
  return entries;
}

bool is_dataset(const std::string& name) {
  const auto& all = dataset_catalog();
  return std::any_of(all.begin(), all.end(), [&](const DatasetCatalogEntry& e) { return e.name == name; });
}

}  // namespace ps
