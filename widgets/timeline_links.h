// What a clicked box in the timeline is linked to (issue 16): the update (U op) that produced the weight
// version the pass read, and its partner passes (F <-> B; with a split backward F, I and W of the same
// minibatch, microbatch and chunk). Plain data over the TimelineModel, so tests check which ops are
// linked without looking at pixels; the view draws the links as arrows (timeline_links.cpp).
#pragma once
#include <cstddef>
#include <optional>
#include <vector>

#include "widgets/timeline_model.h"

namespace ps::ui {

// An op of the measured run: ops(row)[index].
struct OpRef {
  int row = 0;
  std::size_t index = 0;
  bool operator==(const OpRef& o) const { return row == o.row && index == o.index; }
};

struct TimelineLink {
  enum class Kind {
    Weights,  // to the update that produced the version the pass read
    Partner,  // to another pass of the same minibatch, microbatch and chunk
  } kind = Kind::Partner;
  OpRef to;
};

// The links of the pass at `from` (none for an update), the update first, then the partners in time
// order. A pass that read the initial weights (version 0) has no update link, nor does one whose update
// is no longer held (a long run drops its oldest ops), nor one whose partner has not run yet.
std::vector<TimelineLink> op_links(const TimelineModel& model, OpRef from);

// The update of chunk `stage` that made version `version` (version v is made by the chunk's v-th update,
// whose live version was v-1 when it ran); rows are searched from `near_row` on (a chunk's device).
std::optional<OpRef> update_making(const TimelineModel& model, int stage, std::int64_t version, int near_row = 0);

// Finds the op with the same chunk, kind, minibatch and microbatch as `like`, starting with `hint`
// (indices move when a row drops its oldest ops or takes an op in the middle).
std::optional<OpRef> find_op(const TimelineModel& model, const OpEvent& like, OpRef hint);

}  // namespace ps::ui
