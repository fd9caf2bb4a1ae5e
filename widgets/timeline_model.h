// The timeline's data: op events in per-device rows sorted by start time, transfers in per-link lanes,
// run marks (repartitions) in time order, and the "ghost": a predicted run (the simulator's op events)
// kept apart from the measured one. Plain data (no widgets) so visibility queries and hit tests can be
// tested directly.
//
// The schedule clock: besides wall time every op also has a place on two clocks laid out by the
// schedule's dependencies (SCHEDULES.md section 1: F(c) after F(c-1), B/I(c) after B/I(c+1), each device
// in its own list order):
// - compute time: each op lasts what it measured, and starts as soon as its device is free and its
//   dependency has ended; pauses, slow-motion delays and waiting on a busy machine are gone;
// - op slots: the same with every op one unit wide (updates zero wide), like the schedule figures of
//   the papers and torch's schedule visualizer.
// The view draws whichever clock is chosen; positions on it are "clock units" (ns for wall and compute
// time, kSlotUnits per slot).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/telemetry/events.h"

namespace ps::ui {

struct IndexRange {
  std::size_t first = 0;
  std::size_t last = 0;  // one past the end
  std::size_t size() const { return last > first ? last - first : 0; }
};

enum class TimelineClock { Wall, Compute, Slots };
constexpr std::int64_t kSlotUnits = 1'000'000;  // one op slot, in clock units

// Where an op (or a transfer) lies on the chosen clock.
struct ClockSpan {
  std::int64_t t_start_ns = 0;
  std::int64_t t_end_ns = 0;
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

  // The clock the queries below answer in (the measured events keep their wall times).
  void setClock(TimelineClock clock) { clock_ = clock; }
  TimelineClock clock() const { return clock_; }
  // Lays out the ops still waiting for a dependency that has not arrived (at the end of a run).
  void settle();

  // Rows are devices (workers): a device holding several chunks has all of them in its row.
  int stageCount() const { return static_cast<int>(rows_.size()); }
  int laneCount() const { return stageCount() > 0 ? stageCount() - 1 : 0; }  // lane k: devices k <-> k+1
  // The measured ops of a row, wall times, sorted by start. On the compute and slot clocks only the
  // first laidOut(row) of them have a place yet (the rest wait for a dependency).
  const std::vector<OpEvent>& ops(int stage) const { return rows_[static_cast<std::size_t>(stage)].ops; }
  std::size_t laidOut(int stage) const;  // ops of the row placed on the current clock
  ClockSpan span(int stage, std::size_t index) const;  // op `index` of the row on the current clock
  const std::vector<TransferEvent>& transfers(int lane) const { return lanes_[static_cast<std::size_t>(lane)].events; }
  std::size_t opCount() const;
  std::int64_t droppedOps() const { return dropped_; }

  std::int64_t startNs() const;  // earliest start held on the current clock (0 when empty)
  std::int64_t endNs() const;    // latest end held on the current clock
  bool empty() const { return opCount() == 0; }

  // Ops of `stage` that overlap [t0, t1) on the current clock: a binary search on start times, widened
  // by the row's longest op.
  IndexRange visibleOps(int stage, std::int64_t t0, std::int64_t t1) const;
  // Transfers have a place on the wall clock only (an empty range on the others).
  IndexRange visibleTransfers(int lane, std::int64_t t0, std::int64_t t1) const;

  // The op of `stage` under time t, or else the nearest one within `tolerance_ns` (thin boxes stay clickable).
  std::optional<std::size_t> opAt(int stage, std::int64_t t, std::int64_t tolerance_ns = 0) const;

  // The ops appended by the latest append() (or addOp), per row: "the op that just ran".
  IndexRange lastAppended(int stage) const;

  // Run marks (a repartition, ...), sorted by wall time; they stay however far the view scrolls.
  const std::vector<RunMark>& marks() const { return marks_; }
  std::int64_t markTime(std::size_t index) const;  // on the current clock
  // The mark nearest to t (current clock) within `tolerance_ns`, if any.
  std::optional<std::size_t> markAt(std::int64_t t, std::int64_t tolerance_ns) const;

  // Labels: versions are worth showing once some pass read weights other than its minibatch's
  // staleness-free version (an asynchronous strategy); the largest numbers seen size the labels.
  bool versionsVary() const { return versions_vary_; }
  int maxMinibatch() const { return max_minibatch_; }
  int maxMicro() const { return max_micro_; }
  int maxChunk() const { return max_chunk_; }
  std::int64_t maxVersion() const { return max_version_; }
  // The shortest box the compute clock draws (a low quantile of recent pass durations; 0 when none).
  std::int64_t shortComputeOpNs() const;

  // Overlapped pairs (DualPipeV's OVERLAP(F;B)): ops of a device issued together with the next one,
  // given as one minibatch's op list per device (minibatch ignored). Drawn in their own colour.
  void setOverlapOps(const std::vector<std::vector<Op>>& per_device);
  bool isOverlapped(const OpEvent& op) const;

  // The schedule's bubble on this machine's measured op times: the idle fraction of the compute-time
  // layout (each device a core of its own, nothing waits but for a dependency); none before any op.
  std::optional<double> scheduleBubble() const;

  // The ghost: predicted ops (simulated), replaced as a whole. Bounded by whoever simulates it.
  void setGhostOps(const std::vector<OpEvent>& ops);
  void clearGhost();
  bool hasGhost() const { return ghost_count_ > 0; }
  std::size_t ghostOpCount() const { return ghost_count_; }
  const std::vector<OpEvent>& ghostOps(int stage) const;  // empty for a stage the ghost lacks
  ClockSpan ghostSpan(int stage, std::size_t index) const;  // on the current clock
  IndexRange visibleGhostOps(int stage, std::int64_t t0, std::int64_t t1) const;
  std::optional<std::size_t> ghostOpAt(int stage, std::int64_t t, std::int64_t tolerance_ns = 0) const;
  std::int64_t ghostEndNs() const;  // on the current clock

 private:
  struct Spans {  // one row on one clock
    std::vector<ClockSpan> spans;
    std::int64_t longest = 0;
    std::int64_t free_at = 0;  // when the device may start its next op
  };
  struct Row {
    std::vector<OpEvent> ops;
    std::int64_t longest = 0;  // wall
    Spans compute, slots;
    IndexRange last;  // ops of the latest append
  };
  // The dependency layout of a set of rows (the measured run, or the ghost).
  struct Layout {
    std::unordered_map<std::uint64_t, std::pair<std::int64_t, std::int64_t>> done;  // key -> ends (compute, slots)
    std::vector<int> chunk_row;  // chunk -> row, where known
    int max_chunk = -1;
    std::int64_t busy_ns = 0;  // summed compute durations laid out
  };
  template <class Event>
  struct Lane {
    std::vector<Event> events;
    std::int64_t longest = 0;
  };
  void ensureStages(int stages);
  void insertOp(const OpEvent& op);
  static int rowOf(const OpEvent& op) { return op.device >= 0 ? op.device : op.stage; }
  // Places what can be placed; `force` treats a missing dependency as absent.
  static void layOut(std::vector<Row>& rows, Layout& layout, bool force);
  void relayoutAll();  // after an insert in the middle or a drop
  const Spans& clockSpans(const Row& row) const { return clock_ == TimelineClock::Slots ? row.slots : row.compute; }

  std::size_t max_ops_per_stage_;
  TimelineClock clock_ = TimelineClock::Wall;
  std::vector<Row> rows_;
  Layout layout_;
  std::size_t prune_above_ = 100000;
  std::vector<Lane<TransferEvent>> lanes_;
  std::vector<RunMark> marks_;
  std::vector<Row> ghost_;  // per row
  std::size_t ghost_count_ = 0;
  std::int64_t ghost_end_ = 0;
  std::int64_t t_min_ = 0, t_max_ = 0;  // wall
  std::int64_t dropped_ = 0;
  bool versions_vary_ = false;
  int max_minibatch_ = 0, max_micro_ = -1, max_chunk_ = 0;
  std::int64_t max_version_ = 0;
  std::vector<std::int64_t> recent_durations_;  // a ring of pass durations (compute clock's zoom floor)
  std::size_t recent_next_ = 0;
  std::unordered_set<std::uint64_t> overlap_keys_;
};

}  // namespace ps::ui
