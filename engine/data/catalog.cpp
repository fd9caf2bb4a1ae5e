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
       "Token sequences (length 16, vocabulary 16): the class is the token that follows the marker "
       "token 0, modulo 4; needs attention across positions (synthetic, seeded, for the transformer)",
       false, ""},
  };
  return entries;
}

bool is_dataset(const std::string& name) {
  const auto& all = dataset_catalog();
  return std::any_of(all.begin(), all.end(), [&](const DatasetCatalogEntry& e) { return e.name == name; });
}

}  // namespace ps
