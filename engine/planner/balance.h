// Auto-balance: contiguous splits of the layer units into stages that minimise the slowest stage, by
// dynamic programming over (stages used, units covered) as PipeDream's planner does. Torch-free.
//
// Cost model per minibatch (M microbatches):
//   stage time  = sum over its units of M * (forward + backward of one microbatch) + update
//   link time   = M * activation bytes at the boundary / bandwidth (activations forward, gradients back,
//                 one direction each: links are full duplex, so the two do not add)
//   stage memory = parameter bytes * weight copies + activation bytes of its in-flight microbatches
// The pipeline runs at the pace of its slowest stage or link, so the DP minimises max(stage, link) over
// the split (by time), or the largest stage's parameter bytes (by params) or memory (by memory), each
// subject to the memory limit, and breaks ties by the most even split (least sum of squares).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/planner/profiler.h"

namespace ps {

enum class BalanceBy { Time, Params, Memory };
BalanceBy parse_balance_by(const std::string& text, const std::string& field);  // throws InputError(field)
std::string to_string(BalanceBy by);

struct BalanceOptions {
  BalanceBy by = BalanceBy::Time;
  int stages = 1;
  std::string schedule = "1f1b-flush";  // decides how many microbatches' activations a stage holds
  double bandwidth_bytes_per_s = 0;     // link bandwidth between stages; 0 = infinite (no transfer cost)
  double memory_limit_bytes = 0;        // per device; 0 = no limit
  // Weight-sized copies a stage keeps (live weights, gradient, optimizer state, stashed versions). The
  // strategy catalogue describes its memory in words only, so callers pass the number.
  double weight_copies = 1;
};

struct StagePlan {
  int first = 0, last = 0;     // units, inclusive
  double compute_s = 0;        // per minibatch: M x (forward + backward) + update
  double link_in_s = 0;        // transfer of the activation arriving at this stage (0 for stage 0)
  std::int64_t param_bytes = 0;
  double memory_bytes = 0;
  int in_flight = 0;           // microbatches whose activations the stage holds at the peak
};

struct BalancePlan {
  std::vector<int> boundaries;  // first unit of every stage after the first
  std::vector<StagePlan> stages;
  double bottleneck_s = 0;      // max over stages and links: seconds per minibatch in steady state
  double objective = 0;         // the value minimised (seconds, bytes or bytes)
  double samples_per_second(int batch_size) const { return bottleneck_s > 0 ? batch_size / bottleneck_s : 0; }
};

// Microbatches whose activations stage k of S holds at once under `schedule` with M microbatches.
int in_flight_microbatches(const std::string& schedule, int stages, int stage, int microbatches);

// The best split. Throws InputError(source, "stages" | "memory_limit", reason) when stages exceed the
// units or no split fits the memory limit (the message gives the smallest limit that would fit).
BalancePlan balance_partition(const ModelProfile& profile, const BalanceOptions& opts,
                              const std::string& source = "");

// The figures of a given split (validated; throws InputError naming "partition[i]").
BalancePlan evaluate_partition(const ModelProfile& profile, const std::vector<int>& boundaries,
                               const BalanceOptions& opts);

// Equal numbers of units per stage (the first stages take the remainder).
std::vector<int> even_partition(int units, int stages);

}  // namespace ps
