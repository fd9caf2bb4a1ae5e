// The timeline's data: op events in per-stage vectors sorted by start time, transfers in per-link
// lanes, run marks (repartitions) in time order, and the "ghost": a predicted run (the simulator's op
// events) kept apart from the measured one. Plain data (no widgets) so visibility queries and hit tests
// can be tested directly.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "engine/telemetry/events.h"

namespace ps::ui {

struct IndexRange {
  std::size_t first = 0;
  std::size_t last = 0;  // one past the end
  std::size_t size() const { return last > first ? last - first : 0; }
};

class TimelineModel {
 public:
  // Memory stays bounded on long runs: past `max_ops_per_stage` the oldest quarter of a row is dropped.
  explicit TimelineModel(std::size_t max_ops_per_stage = 500000) : max_ops_per_stage_(max_ops_per_stage) {}

  void clear();  // measured events, marks and the ghost
  void setStageCount(int stages);  // rows shown even before any event arrives
  void append(const TelemetryBatch& batch);  // ops, transfers and marks
  void addOp(const OpEvent& op);
  void addTransfer(const TransferEvent& transfer);
  void addMark(const RunMark& mark);

  int stageCount() const { return static_cast<int>(ops_.size()); }
  int laneCount() const { return stageCount() > 0 ? stageCount() - 1 : 0; }  // lane k: stages k <-> k+1
  const std::vector<OpEvent>& ops(int stage) const { return ops_[static_cast<std::size_t>(stage)]; }
  const std::vector<TransferEvent>& transfers(int lane) const { return lanes_[static_cast<std::size_t>(lane)].events; }
  std::size_t opCount() const;
  std::int64_t droppedOps() const { return dropped_; }

  std::int64_t startNs() const { return t_min_; }  // earliest start held (0 when empty)
  std::int64_t endNs() const { return t_max_; }    // latest end held
  bool empty() const { return opCount() == 0; }

  // Ops of `stage` that overlap [t0, t1): a binary search on start times, widened by the row's longest op.
  IndexRange visibleOps(int stage, std::int64_t t0, std::int64_t t1) const;
  IndexRange visibleTransfers(int lane, std::int64_t t0, std::int64_t t1) const;

  // The op of `stage` under time t, or else the nearest one within `tolerance_ns` (thin boxes stay clickable).
  std::optional<std::size_t> opAt(int stage, std::int64_t t, std::int64_t tolerance_ns = 0) const;

  // Run marks (a repartition, ...), sorted by time; they stay however far the view scrolls.
  const std::vector<RunMark>& marks() const { return marks_; }
  // The mark nearest to t within `tolerance_ns`, if any.
  std::optional<std::size_t> markAt(std::int64_t t, std::int64_t tolerance_ns) const;

  // The ghost: predicted ops (simulated), replaced as a whole. Bounded by whoever simulates it.
  void setGhostOps(const std::vector<OpEvent>& ops);
  void clearGhost();
  bool hasGhost() const { return ghost_count_ > 0; }
  std::size_t ghostOpCount() const { return ghost_count_; }
  const std::vector<OpEvent>& ghostOps(int stage) const;  // empty for a stage the ghost lacks
  IndexRange visibleGhostOps(int stage, std::int64_t t0, std::int64_t t1) const;
  std::optional<std::size_t> ghostOpAt(int stage, std::int64_t t, std::int64_t tolerance_ns = 0) const;
  std::int64_t ghostEndNs() const { return ghost_end_; }

 private:
  template <class Event>
  struct Row {
    std::vector<Event> events;
    std::int64_t longest = 0;
  };
  void ensureStages(int stages);

  std::size_t max_ops_per_stage_;
  std::vector<std::vector<OpEvent>> ops_;
  std::vector<std::int64_t> longest_op_;
  std::vector<Row<TransferEvent>> lanes_;
  std::vector<RunMark> marks_;
  std::vector<Row<OpEvent>> ghost_;  // per stage
  std::size_t ghost_count_ = 0;
  std::int64_t ghost_end_ = 0;
  std::int64_t t_min_ = 0, t_max_ = 0;
  std::int64_t dropped_ = 0;
};

}  // namespace ps::ui
