#include "engine/util/allocator.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ps {

const char* allocator_name() {
  // gperftools exports tc_version() beside its malloc; found in the global scope, it serves malloc.
  static const bool tcmalloc = dlsym(RTLD_DEFAULT, "tc_version") != nullptr;
  return tcmalloc ? "tcmalloc" : "glibc";
}

bool keep_freed_memory() {
  static std::once_flag once;
  static bool changed = false;
  std::call_once(once, [] {
#if defined(__GLIBC__)
    if (std::strcmp(allocator_name(), "glibc") != 0) return;
    const char* env = std::getenv("PIPESCOPE_MALLOC");
    if (env && std::strcmp(env, "default") == 0) return;
    // Blocks up to 32 MiB (glibc's largest mmap threshold) come from the heap, not from their own
    // mmap; and a free never trims the heap unless 1 GiB sits unused at its top. glibc's own dynamic
    // thresholds adapt only to blocks freed after mmap, and still trim at twice that size.
    changed = mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024) == 1;
    changed = mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024) == 1 && changed;
    // One arena for every thread. A worker thread's own arena grows in heaps of at most 64 MiB, and a
    // stage's large buffers kept coming from freshly mapped pages there: the cnn on 1 stage faulted in
    // about 4,700 pages (19 MB) per step and ran at 622 samples/s; in the main arena 1,286 samples/s,
    // with no page faults after start-up. The stages' threads share its lock; on the 2-stage mlp
    // (threads) 6582 against 6610 samples/s, the same (README, Benchmarks).
    changed = mallopt(M_ARENA_MAX, 1) == 1 && changed;
#endif
  });
  return changed;
}

}  // namespace ps
