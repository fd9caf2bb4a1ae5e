#include "engine/util/initial_weights.h"

namespace ps {

std::unique_lock<std::recursive_mutex> lock_initial_weights() {
  static std::recursive_mutex mu;
  return std::unique_lock<std::recursive_mutex>(mu);
}

}  // namespace ps
