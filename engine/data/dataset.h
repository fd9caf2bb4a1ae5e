// Data sets as in-memory tensors, loaded once. Internal to the engine.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/config/run_config.h"
#include "engine/data/catalog.h"
#include "engine/models/model.h"

namespace ps {

struct TensorDataset {
  at::Tensor inputs;  // [N, ...sample_shape], float32 (int64 for token sets)
  at::Tensor labels;  // [N], int64
  std::int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

struct DataSplit {
  std::string name;
  TensorDataset train;
  TensorDataset test;
  InputSpec input;  // sample shape, classes, token-ness
  std::vector<std::string> class_names;  // may be empty
};

// Loads (or generates) a data set. Synthetic sets are seeded with `seed`.
// Throws DataError (missing, truncated, corrupt file: the message names the file and what is wrong)
// and InputError (unknown name, bad option).
DataSplit load_dataset(const DatasetConfig& cfg, std::uint64_t seed);

// Reads one IDX file (MNIST format), gzipped (.gz, detected by magic bytes) or raw.
// Returns uint8 images [N,H,W] or labels [N] as stored; throws DataError.
at::Tensor read_idx(const std::string& path);

}  // namespace ps
