#include "engine/util/allocator.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ps {

bool keep_freed_memory() {
  static std::once_flag once;
  static bool changed = false;
  std::call_once(once, [] {
#if defined(__GLIBC__)
    const char* env = std::getenv("PIPESCOPE_MALLOC");
    if (env && std::strcmp(env, "default") == 0) return;
    // Blocks up to 32 MiB (glibc's largest mmap threshold) come from the heap, not from their own
    // mmap; and a free never trims the heap unless 1 GiB sits unused at its top. glibc's own dynamic
    // thresholds adapt only to blocks freed after mmap, and still trim at twice that size.
    changed = mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024) == 1;
    changed = mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024) == 1 && changed;
#endif
  });
  return changed;
}

}  // namespace ps
