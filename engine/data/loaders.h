// The loaders behind load_dataset(), one per family of data sets. Internal to engine/data.
#pragma once
#include <cstdint>
#include <string>

#include "engine/data/dataset.h"

namespace ps {

// A directory in MNIST IDX format (train-images-idx3-ubyte, ... each raw or .gz). Images come back as
// float32 [N,1,H,W] in [0,1]. `fixed_classes` > 0 refuses labels outside [0, fixed_classes); 0 infers
// the class count from the largest label.
DataSplit load_idx_directory(const std::string& dir, int fixed_classes);

// CIFAR-10 binary version under `dir` (or dir/cifar-10-batches-bin): float32 [N,3,32,32] in [0,1].
DataSplit load_cifar10(const std::string& dir);

// Synthetic sets, generated from `seed` alone: `train` + `test` samples, train first.
DataSplit make_spirals(std::int64_t train, std::int64_t test, std::uint64_t seed);
DataSplit make_blobs(std::int64_t train, std::int64_t test, std::uint64_t seed);
DataSplit make_sequence(std::int64_t train, std::int64_t test, std::uint64_t seed);

// Throws DataError(dir, "no such directory") unless `dir` is a directory.
void require_directory(const std::string& dir, const std::string& hint);

}  // namespace ps
