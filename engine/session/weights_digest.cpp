#include "engine/session/weights_digest.h"

#include <cstdio>

namespace ps {

std::string weights_digest(const std::vector<std::vector<at::Tensor>>& stages) {
  std::uint64_t h = 1469598103934665603ULL;
  for (const auto& params : stages)
    for (const auto& p : params) {
      at::Tensor t = p.detach().to(torch::kCPU).contiguous();
      const auto* bytes = static_cast<const unsigned char*>(t.data_ptr());
      const std::size_t n = static_cast<std::size_t>(t.numel()) * t.element_size();
      for (std::size_t i = 0; i < n; ++i) {
        h ^= bytes[i];
        h *= 1099511628211ULL;
      }
    }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace ps
