// pin_threads (run_config.h): which cores each device's worker thread runs on.
#pragma once
#include <vector>

#include "engine/config/run_config.h"
#include "engine/dist/dist_options.h"

namespace ps {

// Per device of the pipeline (`devices` of them; as processes, only this rank's device `rank` is set):
// the cores of `allowed` (this process's) its worker is pinned to, empty for none. Device d of this host
// takes the block of threads_per_stage cores starting at d x threads_per_stage, modulo the cores.
std::vector<std::vector<int>> pinned_cores(const RunConfig& cfg, const DistOptions& dist, int rank, int devices,
                                           const std::vector<int>& allowed);

}  // namespace ps
