// Schedules are pure functions: (name, stages, microbatches, minibatches) -> per-stage op lists.
// No timing, no threads: the executors only follow these lists, so versions never depend on timing.
#pragma once
#include <string>
#include <vector>

#include "engine/schedule/op.h"

namespace ps {

struct ScheduleInfo {
  std::string name;
  std::string summary;
  bool synchronous = false;         // every pass of minibatch i reads weight version i
  bool takes_microbatches = false;  // M > 1 allowed
  bool replicas = false;            // data-parallel: "stages" are whole-model replicas
};

const std::vector<ScheduleInfo>& schedule_catalog();
const ScheduleInfo& schedule_info(const std::string& name);  // throws InputError for unknown names
bool is_schedule(const std::string& name);

// Throws InputError when the combination is invalid (unknown name, S < 1, M < 1, M > 1 where not allowed).
std::vector<StageOps> make_schedule(const std::string& name, int stages, int microbatches, int minibatches);

// Bubble fraction of the ideal schedule with equal stage times (0 for the asynchronous ones in steady state).
double ideal_bubble_fraction(const std::string& name, int stages, int microbatches);

// Number of minibatches stage k forwards before its first backward in an asynchronous schedule.
int warmup_minibatches(const std::string& name, int stages, int stage, int microbatches);

}  // namespace ps
