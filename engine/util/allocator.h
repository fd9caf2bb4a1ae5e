// glibc's malloc, kept from handing a training step's buffers back to the kernel. Torch-free.
#pragma once

namespace ps {

// Raises glibc's mmap and trim thresholds and keeps every thread in one arena, once per process
// (idempotent, thread-safe), so the tens of
// megabytes a training step allocates and frees (fresh gradients, activations) stay in the heap instead
// of being unmapped or trimmed after every step and faulted in, zeroed, again by the next one. Without
// it the engine spent about 2.5x the kernel time of a plain loop on page faults (issue 18). Setting
// PIPESCOPE_MALLOC=default in the environment leaves glibc's settings alone (for comparisons).
// Returns false where nothing was changed (another C library, or PIPESCOPE_MALLOC=default).
bool keep_freed_memory();

}  // namespace ps
