// IDX reading with an expected rank (3: images, 1: labels), so a swapped file is named as such. Internal.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>

namespace ps {

// As read_idx(path) (engine/data/dataset.h), but the magic number must announce `expected_ndim` dimensions.
at::Tensor read_idx(const std::string& path, int expected_ndim);

}  // namespace ps
