#include "engine/runtime/all_reduce.h"

namespace ps {

void AllReduce::deposit(std::int64_t minibatch, int replica, std::vector<at::Tensor> grads) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    Round& r = rounds_[minibatch];
    if (r.grads.empty()) r.grads.resize(static_cast<std::size_t>(replicas_));
    r.grads[static_cast<std::size_t>(replica)] = std::move(grads);
    ++r.deposited;
  }
  cv_.notify_all();
}

bool AllReduce::complete(std::int64_t minibatch) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = rounds_.find(minibatch);
  return it != rounds_.end() && it->second.deposited == replicas_;
}

bool AllReduce::sum(std::int64_t minibatch, std::vector<at::Tensor>& out, const std::function<bool()>& stopped) {
  std::unique_lock<std::mutex> lock(mu_);
  while (!(rounds_.count(minibatch) && rounds_[minibatch].deposited == replicas_)) {
    if (stopped()) return false;
    cv_.wait_for(lock, std::chrono::milliseconds(10));
  }
  Round& r = rounds_[minibatch];
  const std::size_t n = r.grads[0].size();
  out.assign(n, at::Tensor());
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < n; ++i) {
    for (const auto& replica : r.grads) {
      const at::Tensor& g = replica[i];
      if (!g.defined()) continue;
      if (!out[i].defined()) out[i] = g.to(g.device(), /*non_blocking=*/false, /*copy=*/true);
      else out[i].add_(g.to(out[i].device()));
    }
  }
  if (++r.consumed == replicas_) rounds_.erase(minibatch);
  return true;
}

}  // namespace ps
