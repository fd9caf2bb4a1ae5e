#include "engine/session/pinning.h"

#include <algorithm>

namespace ps {

std::vector<std::vector<int>> pinned_cores(const RunConfig& cfg, const DistOptions& dist, int rank, int devices,
                                           const std::vector<int>& allowed) {
  std::vector<std::vector<int>> out(static_cast<std::size_t>(std::max(0, devices)));
  const int n = static_cast<int>(allowed.size());
  if (cfg.pin_threads == "off" || cfg.executor == "sequential" || n == 0) return out;
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
    // One host (the launcher): all the world is here; torchrun: at least the ranks below this one.
    const int on_host = dist.launched ? dist.world : slot + 1;
    if (cfg.pin_threads == "auto" && on_host * t > n) return out;  // they would share cores
    out[static_cast<std::size_t>(rank)] = block(slot);
    return out;
  }
  if (cfg.pin_threads == "auto") return out;  // threads: measured no gain (run_config.h)
  for (int d = 0; d < devices; ++d) out[static_cast<std::size_t>(d)] = block(d);
  return out;
}

}  // namespace ps
