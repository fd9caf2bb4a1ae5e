#include "engine/util/allocator.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif
#if __has_include(<gperftools/malloc_extension.h>)
#include <gperftools/malloc_extension.h>
#define PIPESCOPE_HAVE_MALLOC_EXTENSION 1
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
    const char* env = std::getenv("PIPESCOPE_MALLOC");
    if (env && std::strcmp(env, "default") == 0) return;
    if (std::strcmp(allocator_name(), "tcmalloc") == 0) {
#if defined(PIPESCOPE_HAVE_MALLOC_EXTENSION)
      // tcmalloc hands free spans back to the kernel bit by bit (its release rate, 1 by default), and the
      // next step faults them in again. A stage as a process packs every message it sends into a frame
      // of its own (256 KiB on the balanced mlp) that goes back to tcmalloc once sent: stage 1 faulted in
      // about 1,000 pages a second, none as a thread; rate 0: none. Alternated 2-process runs of 300 steps
      // (samples/s after step 10): 5394 against 5288 with TCMALLOC_RELEASE_RATE=0 (5 pairs, each won),
      // then this code against PIPESCOPE_MALLOC=default 5259 against 5041 (6 pairs, 4 won); threads
      // unchanged. TCMALLOC_RELEASE_RATE in the environment is left to say otherwise. Found at run time
      // (tcmalloc may be LD_PRELOADed, or absent).
      if (std::getenv("TCMALLOC_RELEASE_RATE")) return;
      using Instance = MallocExtension* (*)();
      if (const auto instance = reinterpret_cast<Instance>(dlsym(RTLD_DEFAULT, "_ZN15MallocExtension8instanceEv"))) {
        instance()->SetMemoryReleaseRate(0);
        changed = instance()->GetMemoryReleaseRate() == 0;
      }
#endif
      return;
    }
#if defined(__GLIBC__)
    if (std::strcmp(allocator_name(), "glibc") != 0) return;
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
