// Building a LibTorch module draws its initial weights from the default CPU generator, of which there is
// one per process. Two builds at once (the dashboard prepares a run while another is being built, a
// profile or a stash replica is built beside it) would interleave their draws, and a seeded run would get
// other weights than the same run alone: every code path that seeds the generator, or builds modules,
// holds this lock for as long as its draws last. Recursive: a build may build a replica inside it.
#pragma once
#include <mutex>

namespace ps {

std::unique_lock<std::recursive_mutex> lock_initial_weights();

}  // namespace ps
