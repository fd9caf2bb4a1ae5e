// The activations a device holds over time: the thin memory lane of SCHEDULES.md section 4. A forward's
// saved input is held from the forward's start until the pass that frees it ends: its B, or with a split
// backward its W (I keeps the graph for W, so I frees nothing). nf1b's group backward (microbatch -1)
// frees every forward of its minibatch on that chunk. Plain data over the TimelineModel, on its current
// clock, so tests check the counts without pixels; the view draws them at the bottom of each device row.
#pragma once
#include <cstdint>
#include <vector>

#include "widgets/timeline_model.h"

namespace ps::ui {

struct HeldStep {
  std::int64_t t = 0;  // from this time on (the model's clock) ...
  int held = 0;        // ... the device holds this many activations
};

// The held count of `row` through ops [range.first, range.last) (laid-out ops only), as steps in time
// order, one per time at which it changes. Forwards before the range are not seen: start the range a few
// minibatches before the part to draw.
std::vector<HeldStep> held_activations(const TimelineModel& model, int row, IndexRange range);

}  // namespace ps::ui
