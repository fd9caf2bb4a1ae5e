#include "widgets/held_activations.h"

#include <algorithm>
#include <set>
#include <tuple>

namespace ps::ui {

std::vector<HeldStep> held_activations(const TimelineModel& model, int row, IndexRange range) {
  std::vector<HeldStep> steps;
  if (row < 0 || row >= model.stageCount()) return steps;
  const std::vector<OpEvent>& ops = model.ops(row);
  range.last = std::min({range.last, ops.size(), model.laidOut(row)});
  // Does this chunk split its backward (then W frees, not I)?
  std::set<int> split;
  for (std::size_t i = range.first; i < range.last; ++i)
    if (ops[i].kind == OpKind::WeightGrad) split.insert(ops[i].stage);
  // (time, order, delta source): releases sort before acquisitions at the same time.
  struct Change {
    std::int64_t t;
    int order;  // 0 release, 1 acquire
    std::size_t index;
  };
  std::vector<Change> changes;
  for (std::size_t i = range.first; i < range.last; ++i) {
    const OpEvent& e = ops[i];
    const ClockSpan sp = model.span(row, i);
    if (e.kind == OpKind::Forward) changes.push_back({sp.t_start_ns, 1, i});
    const bool frees = e.kind == OpKind::WeightGrad || (e.kind == OpKind::Backward && !split.count(e.stage));
    if (frees) changes.push_back({sp.t_end_ns, 0, i});
  }
  std::sort(changes.begin(), changes.end(), [](const Change& a, const Change& b) {
    return std::tie(a.t, a.order, a.index) < std::tie(b.t, b.order, b.index);
  });
  std::set<std::tuple<int, int, int>> held;  // (chunk, minibatch, microbatch)
  for (const Change& c : changes) {
    const OpEvent& e = ops[c.index];
    if (c.order == 1) {
      held.insert({e.stage, e.minibatch, e.micro});
    } else if (e.micro < 0) {  // a group backward: every microbatch of its minibatch on the chunk
      for (auto it = held.begin(); it != held.end();)
        it = std::get<0>(*it) == e.stage && std::get<1>(*it) == e.minibatch ? held.erase(it) : std::next(it);
    } else {
      held.erase({e.stage, e.minibatch, e.micro});
    }
    const int n = static_cast<int>(held.size());
    if (!steps.empty() && steps.back().t == c.t) steps.back().held = n;
    else if (steps.empty() || steps.back().held != n) steps.push_back({c.t, n});
  }
  // Merge equal neighbours left by same-time changes.
  std::vector<HeldStep> out;
  for (const HeldStep& s : steps)
    if (out.empty() || out.back().held != s.held) out.push_back(s);
  return out;
}

}  // namespace ps::ui

// --- the view's side: a thin step area at the bottom of each device row --------------------------------

#include <QPainter>

#include "widgets/timeline_view.h"

namespace ps::ui {
namespace {
constexpr std::size_t kHeldMaxVisibleOps = 5000;  // denser rows: boxes under a pixel, nothing to read
constexpr std::size_t kHeldLookBack = 2048;       // forwards still held when the visible part starts
}  // namespace

std::vector<HeldStep> TimelineView::heldSteps(int stage) const {
  const IndexRange visible = model_.visibleOps(stage, t0_, visibleEnd());
  if (visible.size() == 0 || visible.size() > kHeldMaxVisibleOps) return {};
  return held_activations(model_, stage, {visible.first > kHeldLookBack ? visible.first - kHeldLookBack : 0, visible.last});
}

void TimelineView::paintHeld(QPainter& p, int stage) {
  const std::vector<HeldStep> steps = heldSteps(stage);
  int peak = 0;
  for (const HeldStep& s : steps) peak = std::max(peak, s.held);
  if (peak == 0) return;
  const QRect row = stageRowRect(stage);
  const double h = std::max(4, row.height() / 6);
  const double bottom = row.bottom() + 1;
  const double right = xForTime(visibleEnd());
  const QColor fill = palette().color(QPalette::WindowText);
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].held == 0) continue;
    const double x0 = std::max<double>(plotRect().left(), xForTime(steps[i].t));
    const double x1 = i + 1 < steps.size() ? xForTime(steps[i + 1].t) : right;
    if (x1 <= x0) continue;
    const double y = h * steps[i].held / peak;
    p.fillRect(QRectF(x0, bottom - y, x1 - x0, y), QColor(fill.red(), fill.green(), fill.blue(), 90));
  }
}

}  // namespace ps::ui
