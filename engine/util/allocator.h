// The process's memory allocator: which one serves malloc, and glibc's kept from handing a training
// step's buffers back to the kernel. Torch-free.
#pragma once

namespace ps {

// "tcmalloc" when gperftools' tcmalloc serves malloc (the applications link it: CMake's
// PIPESCOPE_TCMALLOC, or LD_PRELOAD), else "glibc".
const char* allocator_name();

// Keeps freed memory in the process, so that the tens of megabytes a training step allocates and frees
// (fresh gradients, activations, the processes' message frames) are not handed back to the kernel and
// faulted in, zeroed, again by the next step. Once per process (idempotent, thread-safe).
// With glibc's malloc: raises its mmap and trim thresholds and keeps every thread in one arena. Without
// it the engine spent about 2.5x the kernel time of a plain loop on page faults (issue 18). The one
// arena costs the stage threads its lock: microbatched schedules on 2 stages run about 20% slower than
// with tcmalloc, which keeps a cache per thread.
// With tcmalloc: its release rate to 0 (it otherwise returns free spans to the kernel bit by bit),
// unless TCMALLOC_RELEASE_RATE is set.
// PIPESCOPE_MALLOC=default in the environment leaves either allocator alone (for comparisons). Returns
// false where nothing was changed (another C library, or PIPESCOPE_MALLOC=default).
bool keep_freed_memory();

}  // namespace ps
