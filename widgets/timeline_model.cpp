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
template <class Event>
std::optional<std::size_t> nearest(const std::vector<Event>& ops, IndexRange r, std::int64_t t, std::int64_t tolerance_ns) {
  std::optional<std::size_t> best;
  std::int64_t best_distance = tolerance_ns + 1;
  for (std::size_t i = r.first; i < r.last; ++i) {
    const Event& e = ops[i];
    const std::int64_t distance = t < e.t_start_ns ? e.t_start_ns - t : (t >= e.t_end_ns ? t - e.t_end_ns + 1 : 0);
    if (distance < best_distance) best_distance = distance, best = i;
  }
  return best;
}

const std::vector<OpEvent> kNoOps;

// A pass's place in the dependency graph: forwards (class 0) and gradient passes B/I (class 1) of one
// chunk, minibatch and microbatch.
std::uint64_t dep_key(int cls, int chunk, int minibatch, int micro) {
  return (static_cast<std::uint64_t>(cls & 3) << 62) | (static_cast<std::uint64_t>(chunk & 0x3fff) << 48) |
         (static_cast<std::uint64_t>((micro + 1) & 0xffff) << 32) | static_cast<std::uint32_t>(minibatch);
}

std::uint64_t overlap_key(int row, OpKind kind, int micro, int chunk) {
  return (static_cast<std::uint64_t>(row & 0xffff) << 48) | (static_cast<std::uint64_t>(kind) << 40) |
         (static_cast<std::uint64_t>((micro + 1) & 0xffff) << 24) | static_cast<std::uint64_t>(chunk & 0xffffff);
}

constexpr std::size_t kRecentDurations = 256;

}  // namespace

void TimelineModel::clear() {
  rows_.clear();
  layout_ = {};
  lanes_.clear();
  marks_.clear();
  clearGhost();
  t_min_ = t_max_ = 0;
  dropped_ = 0;
  versions_vary_ = false;
  max_minibatch_ = 0, max_micro_ = -1, max_chunk_ = 0;
  max_version_ = 0;
  recent_durations_.clear();
  recent_next_ = 0;
  prune_above_ = 100000;
}

void TimelineModel::ensureStages(int stages) {
  if (stages <= stageCount()) return;
  rows_.resize(static_cast<std::size_t>(stages));
  lanes_.resize(static_cast<std::size_t>(std::max(0, stages - 1)));
}

void TimelineModel::setStageCount(int stages) { ensureStages(stages); }

void TimelineModel::append(const TelemetryBatch& batch) {
  std::vector<std::size_t> before(rows_.size());
  for (std::size_t k = 0; k < rows_.size(); ++k) before[k] = rows_[k].ops.size();
  const std::int64_t dropped_before = dropped_;
  bool in_order = true;
  for (const auto& op : batch.ops) {
    const int row = rowOf(op);
    if (row >= 0 && row < stageCount() && !rows_[static_cast<std::size_t>(row)].ops.empty() &&
        rows_[static_cast<std::size_t>(row)].ops.back().t_start_ns > op.t_start_ns)
      in_order = false;
    insertOp(op);
  }
  const bool shifted = !in_order || dropped_ != dropped_before;
  before.resize(rows_.size(), 0);
  if (!batch.ops.empty())  // a batch of transfers alone leaves "what just ran" as it was
    for (std::size_t k = 0; k < rows_.size(); ++k)
      rows_[k].last = shifted ? IndexRange{} : IndexRange{before[k], rows_[k].ops.size()};
  if (shifted) relayoutAll();
  else layOut(rows_, layout_, false);
  // The dependency ends of old minibatches are not needed any more (a long run keeps this bounded).
  if (layout_.done.size() > prune_above_) {
    const std::int64_t keep_from = static_cast<std::int64_t>(max_minibatch_) - 64;
    for (auto it = layout_.done.begin(); it != layout_.done.end();)
      it = static_cast<std::int32_t>(it->first & 0xffffffffu) < keep_from ? layout_.done.erase(it) : std::next(it);
    prune_above_ = std::max<std::size_t>(100000, 2 * layout_.done.size());
  }
  for (const auto& t : batch.transfers) addTransfer(t);
  for (const auto& m : batch.marks) addMark(m);
  dropped_ += batch.dropped_ops;
}

void TimelineModel::addOp(const OpEvent& op) {
  TelemetryBatch batch;
  batch.ops.push_back(op);
  append(batch);
}

void TimelineModel::insertOp(const OpEvent& op) {
  const int r = rowOf(op);
  if (r < 0 || op.stage < 0) return;
  ensureStages(r + 1);
  Row& row = rows_[static_cast<std::size_t>(r)];
  if (row.ops.size() >= max_ops_per_stage_) {
    const auto drop = std::max<std::size_t>(1, row.ops.size() / 4);
    row.ops.erase(row.ops.begin(), row.ops.begin() + static_cast<std::ptrdiff_t>(drop));
    dropped_ += static_cast<std::int64_t>(drop);
  }
  const bool was_empty = empty();
  insert_sorted(row.ops, op);
  row.longest = std::max(row.longest, op.t_end_ns - op.t_start_ns);
  t_min_ = was_empty ? op.t_start_ns : std::min(t_min_, op.t_start_ns);
  t_max_ = was_empty ? op.t_end_ns : std::max(t_max_, op.t_end_ns);
  // What the layout and the labels need to know.
  const auto chunk = static_cast<std::size_t>(op.stage);
  if (layout_.chunk_row.size() <= chunk) layout_.chunk_row.resize(chunk + 1, -1);
  layout_.chunk_row[chunk] = r;
  layout_.max_chunk = std::max(layout_.max_chunk, op.stage);
  max_chunk_ = std::max(max_chunk_, op.stage);
  max_minibatch_ = std::max(max_minibatch_, op.minibatch);
  max_micro_ = std::max(max_micro_, op.micro);
  if (op.kind != OpKind::Update) {
    max_version_ = std::max({max_version_, op.basis_version, op.live_version});
    if (op.basis_version != op.target_version) versions_vary_ = true;
    if (recent_durations_.size() < kRecentDurations) recent_durations_.push_back(op.t_end_ns - op.t_start_ns);
    else recent_durations_[recent_next_++ % kRecentDurations] = op.t_end_ns - op.t_start_ns;
  }
}

void TimelineModel::layOut(std::vector<Row>& rows, Layout& layout, bool force) {
  for (bool progress = true; progress;) {
    progress = false;
    for (std::size_t r = 0; r < rows.size(); ++r) {
      Row& row = rows[r];
      while (row.compute.spans.size() < row.ops.size()) {
        const OpEvent& e = row.ops[row.compute.spans.size()];
        int dep_chunk = -1, cls = 0;
        if (e.kind == OpKind::Forward && e.stage > 0) dep_chunk = e.stage - 1;
        else if (sends_gradient(e.kind) && e.stage < layout.max_chunk) dep_chunk = e.stage + 1, cls = 1;
        std::int64_t after_c = 0, after_s = 0;
        if (dep_chunk >= 0) {
          const auto it = layout.done.find(dep_key(cls, dep_chunk, e.minibatch, e.micro));
          if (it != layout.done.end()) {
            after_c = it->second.first;
            after_s = it->second.second;
          } else if (!force) {
            // Not placed yet. The dependency started before this op (it ended before this one began), so
            // it never ran (dropped, a resumed run) only when its device has delivered an op that started
            // after this one (a device's events arrive in order) and has placed all that started before.
            const int dep_row = static_cast<std::size_t>(dep_chunk) < layout.chunk_row.size()
                                    ? layout.chunk_row[static_cast<std::size_t>(dep_chunk)] : -1;
            if (dep_row < 0) break;  // its chunk has not shown up at all yet: wait for it
            if (dep_row != static_cast<int>(r)) {
              const Row& other = rows[static_cast<std::size_t>(dep_row)];
              const std::size_t placed = other.compute.spans.size();
              const bool delivered_past = !other.ops.empty() && other.ops.back().t_start_ns >= e.t_start_ns;
              const bool placed_past = placed == other.ops.size() || other.ops[placed].t_start_ns >= e.t_start_ns;
              if (!delivered_past || !placed_past) break;  // wait for it
            }
          }
        }
        const std::int64_t duration = std::max<std::int64_t>(0, e.t_end_ns - e.t_start_ns);
        const ClockSpan c{std::max(row.compute.free_at, after_c), std::max(row.compute.free_at, after_c) + duration};
        const std::int64_t slot_start = std::max(row.slots.free_at, after_s);
        const ClockSpan s{slot_start, slot_start + (e.kind == OpKind::Update ? 0 : kSlotUnits)};
        row.compute.spans.push_back(c);
        row.compute.longest = std::max(row.compute.longest, duration);
        row.compute.free_at = c.t_end_ns;
        row.slots.spans.push_back(s);
        row.slots.longest = std::max(row.slots.longest, s.t_end_ns - s.t_start_ns);
        row.slots.free_at = s.t_end_ns;
        if (e.kind == OpKind::Forward) layout.done[dep_key(0, e.stage, e.minibatch, e.micro)] = {c.t_end_ns, s.t_end_ns};
        if (sends_gradient(e.kind)) layout.done[dep_key(1, e.stage, e.minibatch, e.micro)] = {c.t_end_ns, s.t_end_ns};
        layout.busy_ns += duration;
        progress = true;
      }
    }
  }
}

void TimelineModel::relayoutAll() {
  layout_.done.clear();
  layout_.busy_ns = 0;
  for (Row& row : rows_) row.compute = {}, row.slots = {};
  layOut(rows_, layout_, false);
}

void TimelineModel::settle() { layOut(rows_, layout_, true); }

std::size_t TimelineModel::laidOut(int stage) const {
  if (stage < 0 || stage >= stageCount()) return 0;
  const Row& row = rows_[static_cast<std::size_t>(stage)];
  return clock_ == TimelineClock::Wall ? row.ops.size() : row.compute.spans.size();
}

ClockSpan TimelineModel::span(int stage, std::size_t index) const {
  const Row& row = rows_[static_cast<std::size_t>(stage)];
  if (clock_ == TimelineClock::Wall) return {row.ops[index].t_start_ns, row.ops[index].t_end_ns};
  return clockSpans(row).spans[index];
}

std::int64_t TimelineModel::startNs() const {
  if (clock_ == TimelineClock::Wall) return t_min_;
  return 0;
}

std::int64_t TimelineModel::endNs() const {
  if (clock_ == TimelineClock::Wall) return t_max_;
  std::int64_t end = 0;
  for (const Row& row : rows_) end = std::max(end, clockSpans(row).free_at);
  return end;
}

std::int64_t TimelineModel::shortComputeOpNs() const {
  if (recent_durations_.empty()) return 0;
  std::vector<std::int64_t> d = recent_durations_;
  const auto k = d.size() / 5;  // the 20% quantile: a stray very short op does not zoom everything in
  std::nth_element(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(k), d.end());
  return d[k];
}

IndexRange TimelineModel::lastAppended(int stage) const {
  if (stage < 0 || stage >= stageCount()) return {};
  const IndexRange r = rows_[static_cast<std::size_t>(stage)].last;
  return {r.first, std::min(r.last, laidOut(stage))};
}

void TimelineModel::setOverlapOps(const std::vector<std::vector<Op>>& per_device) {
  overlap_keys_.clear();
  for (std::size_t d = 0; d < per_device.size(); ++d) {
    const auto& ops = per_device[d];
    for (std::size_t i = 0; i + 1 < ops.size(); ++i) {
      if (!ops[i].overlap_next) continue;
      for (const Op* op : {&ops[i], &ops[i + 1]})
        overlap_keys_.insert(overlap_key(static_cast<int>(d), op->kind, op->micro, op->chunk >= 0 ? op->chunk : static_cast<int>(d)));
    }
  }
}

bool TimelineModel::isOverlapped(const OpEvent& op) const {
  return !overlap_keys_.empty() && overlap_keys_.count(overlap_key(rowOf(op), op.kind, op.micro, op.stage)) > 0;
}

std::optional<double> TimelineModel::scheduleBubble() const {
  int busy_rows = 0;
  std::int64_t end = 0;
  for (const Row& row : rows_) {
    if (row.compute.spans.empty()) continue;
    ++busy_rows;
    end = std::max(end, row.compute.free_at);
  }
  if (busy_rows == 0 || end <= 0) return std::nullopt;
  return std::clamp(1.0 - static_cast<double>(layout_.busy_ns) / (static_cast<double>(end) * busy_rows), 0.0, 1.0);
}

void TimelineModel::addMark(const RunMark& mark) {
  auto it = std::upper_bound(marks_.begin(), marks_.end(), mark.t_ns,
                             [](std::int64_t t, const RunMark& m) { return t < m.t_ns; });
  marks_.insert(it, mark);
}

std::int64_t TimelineModel::markTime(std::size_t index) const {
  const std::int64_t t = marks_[index].t_ns;
  if (clock_ == TimelineClock::Wall) return t;
  // Where the first op that started after the mark stands on the clock (on the first row with ops).
  for (const Row& row : rows_) {
    if (row.ops.empty()) continue;
    const auto it = std::lower_bound(row.ops.begin(), row.ops.end(), t,
                                     [](const OpEvent& e, std::int64_t x) { return e.t_start_ns < x; });
    const auto i = static_cast<std::size_t>(it - row.ops.begin());
    const Spans& s = clockSpans(row);
    return i < s.spans.size() ? s.spans[i].t_start_ns : s.free_at;
  }
  return 0;
}

std::optional<std::size_t> TimelineModel::markAt(std::int64_t t, std::int64_t tolerance_ns) const {
  std::optional<std::size_t> best;
  std::int64_t best_distance = tolerance_ns + 1;
  for (std::size_t i = 0; i < marks_.size(); ++i) {
    const std::int64_t d = std::abs(markTime(i) - t);
    if (d < best_distance) best_distance = d, best = i;
  }
  return best;
}

void TimelineModel::setGhostOps(const std::vector<OpEvent>& ops) {
  clearGhost();
  Layout layout;
  for (const OpEvent& op : ops) {
    const int r = rowOf(op);
    if (r < 0 || op.stage < 0) continue;
    const auto k = static_cast<std::size_t>(r);
    if (ghost_.size() <= k) ghost_.resize(k + 1);
    insert_sorted(ghost_[k].ops, op);
    ghost_[k].longest = std::max(ghost_[k].longest, op.t_end_ns - op.t_start_ns);
    ghost_end_ = std::max(ghost_end_, op.t_end_ns);
    const auto chunk = static_cast<std::size_t>(op.stage);
    if (layout.chunk_row.size() <= chunk) layout.chunk_row.resize(chunk + 1, -1);
    layout.chunk_row[chunk] = r;
    layout.max_chunk = std::max(layout.max_chunk, op.stage);
    ++ghost_count_;
  }
  layOut(ghost_, layout, true);
}

void TimelineModel::clearGhost() {
  ghost_.clear();
  ghost_count_ = 0;
  ghost_end_ = 0;
}

const std::vector<OpEvent>& TimelineModel::ghostOps(int stage) const {
  return stage >= 0 && stage < static_cast<int>(ghost_.size()) ? ghost_[static_cast<std::size_t>(stage)].ops : kNoOps;
}

ClockSpan TimelineModel::ghostSpan(int stage, std::size_t index) const {
  const Row& row = ghost_[static_cast<std::size_t>(stage)];
  if (clock_ == TimelineClock::Wall) return {row.ops[index].t_start_ns, row.ops[index].t_end_ns};
  return clockSpans(row).spans[index];
}

std::int64_t TimelineModel::ghostEndNs() const {
  if (clock_ == TimelineClock::Wall) return ghost_end_;
  std::int64_t end = 0;
  for (const Row& row : ghost_) end = std::max(end, clockSpans(row).free_at);
  return end;
}

IndexRange TimelineModel::visibleGhostOps(int stage, std::int64_t t0, std::int64_t t1) const {
  if (stage < 0 || stage >= static_cast<int>(ghost_.size())) return {};
  const Row& row = ghost_[static_cast<std::size_t>(stage)];
  if (clock_ == TimelineClock::Wall) return visible(row.ops, row.longest, t0, t1);
  const Spans& s = clockSpans(row);
  return visible(s.spans, s.longest, t0, t1);
}

std::optional<std::size_t> TimelineModel::ghostOpAt(int stage, std::int64_t t, std::int64_t tolerance_ns) const {
  const IndexRange r = visibleGhostOps(stage, t - tolerance_ns, t + tolerance_ns + 1);
  if (r.size() == 0) return std::nullopt;
  const Row& row = ghost_[static_cast<std::size_t>(stage)];
  if (clock_ == TimelineClock::Wall) return nearest(row.ops, r, t, tolerance_ns);
  return nearest(clockSpans(row).spans, r, t, tolerance_ns);
}

void TimelineModel::addTransfer(const TransferEvent& transfer) {
  // Transfers name chunks; their lane is between the devices that hold them.
  auto device = [&](int chunk) {
    return chunk >= 0 && static_cast<std::size_t>(chunk) < layout_.chunk_row.size() &&
                   layout_.chunk_row[static_cast<std::size_t>(chunk)] >= 0
               ? layout_.chunk_row[static_cast<std::size_t>(chunk)] : chunk;
  };
  const int from = device(transfer.from_stage), to = device(transfer.to_stage);
  const int lane = std::min(from, to);
  if (lane < 0 || std::abs(from - to) != 1) return;  // only neighbour links
  ensureStages(lane + 2);
  auto& row = lanes_[static_cast<std::size_t>(lane)];
  if (row.events.size() >= max_ops_per_stage_)
    row.events.erase(row.events.begin(), row.events.begin() + static_cast<std::ptrdiff_t>(row.events.size() / 4));
  insert_sorted(row.events, transfer);
  row.longest = std::max(row.longest, transfer.t_end_ns - transfer.t_start_ns);
}

std::size_t TimelineModel::opCount() const {
  std::size_t n = 0;
  for (const auto& row : rows_) n += row.ops.size();
  return n;
}

IndexRange TimelineModel::visibleOps(int stage, std::int64_t t0, std::int64_t t1) const {
  if (stage < 0 || stage >= stageCount()) return {};
  const Row& row = rows_[static_cast<std::size_t>(stage)];
  if (clock_ == TimelineClock::Wall) return visible(row.ops, row.longest, t0, t1);
  const Spans& s = clockSpans(row);
  return visible(s.spans, s.longest, t0, t1);
}

IndexRange TimelineModel::visibleTransfers(int lane, std::int64_t t0, std::int64_t t1) const {
  if (lane < 0 || lane >= laneCount() || clock_ != TimelineClock::Wall) return {};
  const auto& row = lanes_[static_cast<std::size_t>(lane)];
  return visible(row.events, row.longest, t0, t1);
}

std::optional<std::size_t> TimelineModel::opAt(int stage, std::int64_t t, std::int64_t tolerance_ns) const {
  if (stage < 0 || stage >= stageCount()) return std::nullopt;
  const IndexRange r = visibleOps(stage, t - tolerance_ns, t + tolerance_ns + 1);
  const Row& row = rows_[static_cast<std::size_t>(stage)];
  if (clock_ == TimelineClock::Wall) return nearest(row.ops, r, t, tolerance_ns);
  return nearest(clockSpans(row).spans, r, t, tolerance_ns);
}

}  // namespace ps::ui
