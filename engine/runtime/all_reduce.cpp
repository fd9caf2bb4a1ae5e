#include "engine/runtime/all_reduce.h"

#include "engine/session/checkpoint.h"

namespace ps {

void AllReduce::deposit(std::int64_t minibatch, int replica, std::vector<at::Tensor> grads) {
  if (share_) share_(minibatch, replica, grads);
  store(minibatch, replica, std::move(grads));
}

void AllReduce::receive(std::int64_t minibatch, int replica, std::vector<at::Tensor> grads) {
  store(minibatch, replica, std::move(grads));
}

void AllReduce::store(std::int64_t minibatch, int replica, std::vector<at::Tensor> grads) {
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
  if (++r.consumed >= local_) rounds_.erase(minibatch);  // >=: a resumed round counts the takes before the cut
  return true;
}

bool AllReduce::meet(std::int64_t minibatch, int replica, const std::function<bool()>& stopped) {
  std::unique_lock<std::mutex> lock(mu_);
  Meeting& m = meetings_[minibatch];
  m.arrived.insert(replica);  // again after an interrupted attempt: the same arrival
  if (static_cast<int>(m.arrived.size()) == replicas_) {
    m.met = true;
    cv_.notify_all();
  }
  while (!m.met) {
    if (stopped()) {
      m.arrived.erase(replica);
      if (m.arrived.empty()) meetings_.erase(minibatch);
      return false;
    }
    cv_.wait_for(lock, std::chrono::milliseconds(10));
  }
  if (++m.left == replicas_) meetings_.erase(minibatch);
  return true;
}

void AllReduce::save(Checkpoint& c, const std::string& tag) const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json rounds = nlohmann::json::array();
  for (const auto& [mb, r] : rounds_) {
    rounds.push_back({{"minibatch", mb}, {"deposited", r.deposited}, {"consumed", r.consumed}});
    for (std::size_t k = 0; k < r.grads.size(); ++k)
      c.put_list("allreduce" + tag + "/" + std::to_string(mb) + "/" + std::to_string(k), r.grads[k]);
  }
  c.meta["all_reduce" + tag] = rounds;
}

void AllReduce::load(const Checkpoint& c, const std::string& tag) {
  std::lock_guard<std::mutex> lock(mu_);
  // Replicas as processes: another rank's run may have started first and sent its gradients already
  // (receive() before this load). They join the loaded rounds; they are not the checkpoint's to drop.
  std::map<std::int64_t, Round> early = std::move(rounds_);
  rounds_.clear();
  if (c.meta.contains("all_reduce" + tag))
    for (const auto& j : c.meta["all_reduce" + tag]) {
      const std::int64_t mb = j["minibatch"].get<std::int64_t>();
      Round& r = rounds_[mb];
      r.deposited = j["deposited"].get<int>();
      r.consumed = j["consumed"].get<int>();
      r.grads.resize(static_cast<std::size_t>(replicas_));
      for (int k = 0; k < replicas_; ++k)
        r.grads[static_cast<std::size_t>(k)] = c.get_list("allreduce" + tag + "/" + std::to_string(mb) + "/" + std::to_string(k));
    }
  for (auto& [mb, e] : early) {
    Round& r = rounds_[mb];
    r.grads.resize(static_cast<std::size_t>(replicas_));
    for (std::size_t k = 0; k < e.grads.size() && k < r.grads.size(); ++k)
      if (!e.grads[k].empty() && r.grads[k].empty()) {
        r.grads[k] = std::move(e.grads[k]);
        ++r.deposited;
      }
  }
  cv_.notify_all();
}

void AllReduce::load_merged(const std::vector<const Checkpoint*>& views, const std::string& tag) {
  std::map<std::int64_t, Round> merged;
  std::vector<std::set<std::int64_t>> held(views.size());
  for (std::size_t v = 0; v < views.size(); ++v) {
    const Checkpoint& c = *views[v];
    if (!c.meta.contains("all_reduce" + tag)) continue;
    for (const auto& j : c.meta["all_reduce" + tag]) {
      const std::int64_t mb = j["minibatch"].get<std::int64_t>();
      held[v].insert(mb);
      Round& r = merged[mb];
      r.grads.resize(static_cast<std::size_t>(replicas_));
      for (int k = 0; k < replicas_; ++k)
        if (r.grads[static_cast<std::size_t>(k)].empty())
          r.grads[static_cast<std::size_t>(k)] = c.get_list("allreduce" + tag + "/" + std::to_string(mb) + "/" + std::to_string(k));
    }
  }
  for (auto& [mb, r] : merged) {
    r.deposited = 0;
    r.consumed = 0;
    for (std::size_t k = 0; k < r.grads.size(); ++k) {
      if (r.grads[k].empty()) continue;
      ++r.deposited;
      if (k < held.size() && held[k].count(mb) == 0) ++r.consumed;  // replica k took its sum and let it go
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  rounds_ = std::move(merged);
}

}  // namespace ps
