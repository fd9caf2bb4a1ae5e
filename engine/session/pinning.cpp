#include "engine/session/pinning.h"

#include <algorithm>

namespace ps {

std::vector<std::vector<int>> pinned_cores(const RunConfig& cfg, const DistOptions& dist, int rank, int devices,
                                           const std::vector<int>& allowed) {
  std::vector<std::vector<int>> out(static_cast<std::size_t>(std::max(0, devices)));
  const int n = static_cast<int>(allowed.size());
  // auto pins nothing: measured on 2 cores (README, Benchmarks, pin_threads), pinned processes ran the
  // tiny preset 18% slower (their messages wake a stage on its own core, never the one already awake)
  // and the balanced MLP within the noise; threads, about 1% either way.
  if (cfg.pin_threads != "on" || cfg.executor == "sequential" || n == 0) return out;
  const int t = std::max(1, cfg.threads_per_stage);
  auto block = [&](int slot) {
    std::vector<int> b;
    for (int k = 0; k < std::min(t, n); ++k) b.push_back(allowed[static_cast<std::size_t>((slot * t + k) % n)]);
    std::sort(b.begin(), b.end());
    return b;
  };
  if (cfg.executor == "processes") {
    const int slot = dist.local_rank;  // this rank's place among the ranks of its host
    if (slot < 0 || rank < 0 || rank >= devices) return out;
    out[static_cast<std::size_t>(rank)] = block(slot);
    return out;
  }
  for (int d = 0; d < devices; ++d) out[static_cast<std::size_t>(d)] = block(d);
  return out;
}

}  // namespace ps
