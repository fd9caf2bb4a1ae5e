// Minibatches of a run: seeded shuffling per epoch, split into microbatches. Internal.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <mutex>

#include "engine/data/dataset.h"

namespace ps {

struct Batch {
  at::Tensor inputs;
  at::Tensor labels;
};

class BatchSource {
 public:
  BatchSource(const TensorDataset& train, int batch_size, std::uint64_t seed);
  std::int64_t steps_per_epoch() const { return steps_per_epoch_; }
  int batch_size() const { return batch_size_; }

  // Global minibatch i (epoch i / steps_per_epoch); microbatch j of M (j = -1: the whole minibatch).
  // With replicas (pipeline x data parallel): replica r of R takes its share of the minibatch first,
  // and microbatch j is then the j-th of M parts of that share.
  Batch get(std::int64_t minibatch, int micro, int microbatches, int replica = 0, int replicas = 1) const;
  // Rows of microbatch j of M in a minibatch of n rows: [begin, end).
  static std::pair<std::int64_t, std::int64_t> micro_rows(std::int64_t n, int micro, int microbatches);
  // Rows of replica r's share (of R) of a minibatch of n rows, then of its microbatch j of M.
  static std::pair<std::int64_t, std::int64_t> share_rows(std::int64_t n, int replica, int replicas, int micro,
                                                          int microbatches);

 private:
  at::Tensor permutation(std::int64_t epoch) const;

  const TensorDataset& data_;
  int batch_size_;
  std::uint64_t seed_;
  std::int64_t steps_per_epoch_;
  mutable std::mutex mu_;
  mutable std::map<std::int64_t, at::Tensor> perms_;
};

}  // namespace ps
