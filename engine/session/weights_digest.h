// A hash of a model's weights: equal weights (bit for bit), equal digest.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace ps {

// FNV-1a (64 bit) over the raw bytes of every tensor, stage by stage, in parameter order; 16 hex digits.
std::string weights_digest(const std::vector<std::vector<at::Tensor>>& stages);

}  // namespace ps
