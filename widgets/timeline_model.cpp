#include "widgets/timeline_model.h"

#include <algorithm>
#include <cstdlib>

namespace ps::ui {
namespace {

template <class Event>
void insert_sorted(std::vector<Event>& events, const Event& e) {
  // Events of one stage arrive in execution order, so this is an append almost always.
  if (events.empty() || events.back().t_start_ns <= e.t_start_ns) {
    events.push_back(e);
    return;
  }
  auto it = std::upper_bound(events.begin(), events.end(), e.t_start_ns,
                             [](std::int64_t t, const Event& x) { return t < x.t_start_ns; });
  events.insert(it, e);
}

template <class Event>
IndexRange visible(const std::vector<Event>& events, std::int64_t longest, std::int64_t t0, std::int64_t t1) {
  // Anything starting before t0 - longest has ended before t0.
  auto by_start = [](const Event& x, std::int64_t t) { return x.t_start_ns < t; };
  auto first = std::lower_bound(events.begin(), events.end(), t0 - longest, by_start);
  while (first != events.end() && first->t_end_ns <= t0 && first->t_start_ns < t0) ++first;
  auto last = std::lower_bound(first, events.end(), t1, by_start);
  return {static_cast<std::size_t>(first - events.begin()), static_cast<std::size_t>(last - events.begin())};
}

// The op under t, else the nearest within `tolerance_ns`.
std::optional<std::size_t> nearest(const std::vector<OpEvent>& ops, IndexRange r, std::int64_t t, std::int64_t tolerance_ns) {
  std::optional<std::size_t> best;
  std::int64_t best_distance = tolerance_ns + 1;
  for (std::size_t i = r.first; i < r.last; ++i) {
    const OpEvent& e = ops[i];
    const std::int64_t distance = t < e.t_start_ns ? e.t_start_ns - t : (t >= e.t_end_ns ? t - e.t_end_ns + 1 : 0);
    if (distance < best_distance) best_distance = distance, best = i;
  }
  return best;
}

const std::vector<OpEvent> kNoOps;

}  // namespace

void TimelineModel::clear() {
  ops_.clear();
  longest_op_.clear();
  lanes_.clear();
  marks_.clear();
  clearGhost();
  t_min_ = t_max_ = 0;
  dropped_ = 0;
}

void TimelineModel::ensureStages(int stages) {
  if (stages <= stageCount()) return;
  ops_.resize(static_cast<std::size_t>(stages));
  longest_op_.resize(static_cast<std::size_t>(stages), 0);
  lanes_.resize(static_cast<std::size_t>(std::max(0, stages - 1)));
}

void TimelineModel::setStageCount(int stages) { ensureStages(stages); }

void TimelineModel::append(const TelemetryBatch& batch) {
  for (const auto& op : batch.ops) addOp(op);
  for (const auto& t : batch.transfers) addTransfer(t);
  for (const auto& m : batch.marks) addMark(m);
  dropped_ += batch.dropped_ops;
}

void TimelineModel::addMark(const RunMark& mark) {
  auto it = std::upper_bound(marks_.begin(), marks_.end(), mark.t_ns,
                             [](std::int64_t t, const RunMark& m) { return t < m.t_ns; });
  marks_.insert(it, mark);
}

std::optional<std::size_t> TimelineModel::markAt(std::int64_t t, std::int64_t tolerance_ns) const {
  std::optional<std::size_t> best;
  std::int64_t best_distance = tolerance_ns + 1;
  auto it = std::lower_bound(marks_.begin(), marks_.end(), t - tolerance_ns,
                             [](const RunMark& m, std::int64_t x) { return m.t_ns < x; });
  for (; it != marks_.end() && it->t_ns <= t + tolerance_ns; ++it) {
    const std::int64_t d = std::abs(it->t_ns - t);
    if (d < best_distance) best_distance = d, best = static_cast<std::size_t>(it - marks_.begin());
  }
  return best;
}

void TimelineModel::setGhostOps(const std::vector<OpEvent>& ops) {
  clearGhost();
  for (const OpEvent& op : ops) {
    if (op.stage < 0) continue;
    const auto k = static_cast<std::size_t>(op.stage);
    if (ghost_.size() <= k) ghost_.resize(k + 1);
    insert_sorted(ghost_[k].events, op);
    ghost_[k].longest = std::max(ghost_[k].longest, op.t_end_ns - op.t_start_ns);
    ghost_end_ = std::max(ghost_end_, op.t_end_ns);
    ++ghost_count_;
  }
}

void TimelineModel::clearGhost() {
  ghost_.clear();
  ghost_count_ = 0;
  ghost_end_ = 0;
}

const std::vector<OpEvent>& TimelineModel::ghostOps(int stage) const {
  return stage >= 0 && stage < static_cast<int>(ghost_.size()) ? ghost_[static_cast<std::size_t>(stage)].events : kNoOps;
}

IndexRange TimelineModel::visibleGhostOps(int stage, std::int64_t t0, std::int64_t t1) const {
  if (stage < 0 || stage >= static_cast<int>(ghost_.size())) return {};
  const auto& row = ghost_[static_cast<std::size_t>(stage)];
  return visible(row.events, row.longest, t0, t1);
}

std::optional<std::size_t> TimelineModel::ghostOpAt(int stage, std::int64_t t, std::int64_t tolerance_ns) const {
  return nearest(ghostOps(stage), visibleGhostOps(stage, t - tolerance_ns, t + tolerance_ns + 1), t, tolerance_ns);
}

void TimelineModel::addOp(const OpEvent& op) {
  if (op.stage < 0) return;
  ensureStages(op.stage + 1);
  const auto k = static_cast<std::size_t>(op.stage);
  auto& row = ops_[k];
  if (row.size() >= max_ops_per_stage_) {
    const auto drop = std::max<std::size_t>(1, row.size() / 4);
    row.erase(row.begin(), row.begin() + static_cast<std::ptrdiff_t>(drop));
    dropped_ += static_cast<std::int64_t>(drop);
  }
  const bool was_empty = empty();
  insert_sorted(row, op);
  longest_op_[k] = std::max(longest_op_[k], op.t_end_ns - op.t_start_ns);
  t_min_ = was_empty ? op.t_start_ns : std::min(t_min_, op.t_start_ns);
  t_max_ = was_empty ? op.t_end_ns : std::max(t_max_, op.t_end_ns);
}

void TimelineModel::addTransfer(const TransferEvent& transfer) {
  const int lane = std::min(transfer.from_stage, transfer.to_stage);
  if (lane < 0 || std::abs(transfer.from_stage - transfer.to_stage) != 1) return;  // only neighbour links
  ensureStages(lane + 2);
  auto& row = lanes_[static_cast<std::size_t>(lane)];
  if (row.events.size() >= max_ops_per_stage_)
    row.events.erase(row.events.begin(), row.events.begin() + static_cast<std::ptrdiff_t>(row.events.size() / 4));
  insert_sorted(row.events, transfer);
  row.longest = std::max(row.longest, transfer.t_end_ns - transfer.t_start_ns);
}

std::size_t TimelineModel::opCount() const {
  std::size_t n = 0;
  for (const auto& row : ops_) n += row.size();
  return n;
}

IndexRange TimelineModel::visibleOps(int stage, std::int64_t t0, std::int64_t t1) const {
  if (stage < 0 || stage >= stageCount()) return {};
  return visible(ops_[static_cast<std::size_t>(stage)], longest_op_[static_cast<std::size_t>(stage)], t0, t1);
}

IndexRange TimelineModel::visibleTransfers(int lane, std::int64_t t0, std::int64_t t1) const {
  if (lane < 0 || lane >= laneCount()) return {};
  const auto& row = lanes_[static_cast<std::size_t>(lane)];
  return visible(row.events, row.longest, t0, t1);
}

std::optional<std::size_t> TimelineModel::opAt(int stage, std::int64_t t, std::int64_t tolerance_ns) const {
  if (stage < 0 || stage >= stageCount()) return std::nullopt;
  return nearest(ops(stage), visibleOps(stage, t - tolerance_ns, t + tolerance_ns + 1), t, tolerance_ns);
}

}  // namespace ps::ui
