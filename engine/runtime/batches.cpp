#include "engine/runtime/batches.h"

namespace ps {

BatchSource::BatchSource(const TensorDataset& train, int batch_size, std::uint64_t seed)
    : data_(train), batch_size_(batch_size), seed_(seed) {
  steps_per_epoch_ = std::max<std::int64_t>(1, data_.size() / batch_size_);  // drop the ragged tail
}

at::Tensor BatchSource::permutation(std::int64_t epoch) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = perms_.find(epoch);
  if (it != perms_.end()) return it->second;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed_ * 1000003ULL + static_cast<std::uint64_t>(epoch) + 17);
  at::Tensor perm = torch::randperm(data_.size(), gen, torch::kLong);
  while (perms_.size() > 2) perms_.erase(perms_.begin());  // only the current epochs are needed
  return perms_.emplace(epoch, perm).first->second;
}

std::pair<std::int64_t, std::int64_t> BatchSource::micro_rows(std::int64_t n, int micro, int microbatches) {
  if (micro < 0) return {0, n};
  return {n * micro / microbatches, n * (micro + 1) / microbatches};
}

std::pair<std::int64_t, std::int64_t> BatchSource::share_rows(std::int64_t n, int replica, int replicas, int micro,
                                                              int microbatches) {
  auto [sb, se] = micro_rows(n, replicas > 1 ? replica : -1, replicas);
  auto [b, e] = micro_rows(se - sb, micro, microbatches);
  return {sb + b, sb + e};
}

Batch BatchSource::get(std::int64_t minibatch, int micro, int microbatches, int replica, int replicas) const {
  const std::int64_t epoch = minibatch / steps_per_epoch_;
  const std::int64_t first = (minibatch % steps_per_epoch_) * batch_size_;
  auto [b, e] = share_rows(batch_size_, replica, replicas, micro, microbatches);
  at::Tensor idx = permutation(epoch).slice(0, first + b, first + e);
  return {data_.inputs.index_select(0, idx), data_.labels.index_select(0, idx)};
}

}  // namespace ps
