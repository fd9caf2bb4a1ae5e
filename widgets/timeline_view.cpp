#include "widgets/timeline_view.h"

#include <QHelpEvent>
#include <QKeyEvent>
#include <QImage>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>
#include <QWheelEvent>
#include <algorithm>
#include <cmath>
#include <limits>

#include "widgets/format.h"
#include "widgets/stage_rows.h"
#include "widgets/timeline_text.h"

namespace ps::ui {
namespace {

constexpr int kAxisHeight = 24;
constexpr int kRightMargin = 8;
constexpr double kMergeBelowPx = 1.5;  // narrower boxes are folded per pixel column
constexpr int kMinTickSpacingPx = 4;   // denser update ticks would paint a solid bar
constexpr double kMinNsPerPx = 1.0;
const QColor kMarkColor(142, 36, 170);  // run marks: purple, apart from the red live edge

// 1, 2 or 5 times a power of ten, at least `raw`.
double nice_step(double raw) {
  const double p = std::pow(10.0, std::floor(std::log10(std::max(raw, 1e-9))));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= raw) return m * p;
  return 10 * p;
}

QString clock_name(TimelineClock c) {
  switch (c) {
    case TimelineClock::Wall: return QObject::tr("wall time");
    case TimelineClock::Compute: return QObject::tr("compute time");
    case TimelineClock::Slots: return QObject::tr("op slots");
  }
  return {};
}

const QColor kLatestColor(214, 39, 40);  // the op that just ran: red, like the live edge

}  // namespace

// Texts the view and its tooltips share (timeline_text.h).
static QString boundaries_text(const std::vector<int>& b) {
  QStringList parts;
  for (int x : b) parts << QString::number(x);
  return parts.join(QLatin1Char(','));
}

QString mark_label(const RunMark& m) {
  return m.after.empty() ? QString::fromStdString(m.kind)
                         : QStringLiteral("%1 %2").arg(QString::fromStdString(m.kind), boundaries_text(m.after));
}

QString time_label(double ns, double step_ns) {
  const int decimals = std::clamp(static_cast<int>(std::ceil(-std::log10(step_ns / 1e9))), 0, 6);
  return QStringLiteral("%1 s").arg(ns / 1e9, 0, 'f', decimals);
}


TimelineView::TimelineView(QWidget* parent) : QWidget(parent) {
  setMouseTracking(true);
  setFocusPolicy(Qt::StrongFocus);
  setAttribute(Qt::WA_OpaquePaintEvent);
  rebuildColors();
}

void TimelineView::rebuildColors() {
  const QColor base = palette().color(QPalette::Base);
  for (int kind = 0; kind < kKinds; ++kind)
    for (int h = 0; h < kMinibatchHues; ++h) {
      const QColor c = kind < 5 ? minibatch_color(h, static_cast<OpKind>(kind)) : overlap_color(h);
      colors_[static_cast<std::size_t>(kind * kMinibatchHues + h)] = c;
      // Faded = 25% colour over the background: the highlighted minibatch stands out.
      faded_[static_cast<std::size_t>(kind * kMinibatchHues + h)] =
          QColor((c.red() + 3 * base.red()) / 4, (c.green() + 3 * base.green()) / 4, (c.blue() + 3 * base.blue()) / 4);
      // Ghost = 55% colour: lighter than a measured box, still legible when folded per pixel column.
      ghost_[static_cast<std::size_t>(kind * kMinibatchHues + h)] =
          QColor((11 * c.red() + 9 * base.red()) / 20, (11 * c.green() + 9 * base.green()) / 20, (11 * c.blue() + 9 * base.blue()) / 20);
    }
}

int TimelineView::colorIndex(const OpEvent& e) const {
  const int slot = ((e.minibatch % kMinibatchHues) + kMinibatchHues) % kMinibatchHues;
  const int kind = e.kind != OpKind::Update && model_.isOverlapped(e) ? 5 : static_cast<int>(e.kind);
  return kind * kMinibatchHues + slot;
}

QColor TimelineView::boxColor(const OpEvent& e) const {
  const auto i = static_cast<std::size_t>(colorIndex(e));
  return highlight_ >= 0 && e.minibatch != highlight_ ? faded_[i] : colors_[i];
}

QString TimelineView::opLabel(const OpEvent& e, bool two_lines) const {
  const bool chunks = model_.stageCount() > 0 && model_.maxChunk() + 1 > model_.stageCount();  // several chunks per device
  const QString name = QString::fromStdString(op_name({e.kind, e.minibatch, e.micro, chunks ? e.stage : -1}));
  if (!model_.versionsVary() || e.kind == OpKind::Update) return name;
  const QString version = QStringLiteral("v%1").arg(e.basis_version);
  return two_lines ? name + QLatin1Char('\n') + version : name + QStringLiteral(" · ") + version;
}

int TimelineView::labelWidthPx() const {
  // The widest name the run has had so far: its largest minibatch, microbatch, chunk and version.
  OpEvent e;
  e.minibatch = std::max(99, model_.maxMinibatch());
  e.micro = model_.maxMicro();
  e.stage = model_.maxChunk();
  e.basis_version = std::max<std::int64_t>(99, model_.maxVersion());
  const QFontMetrics fm = fontMetrics();
  const bool two_lines = stageRowHeight() - ghostRowHeight() - 2 >= 2 * fm.height();
  int w = 0;
  for (OpKind kind : {OpKind::Backward, OpKind::WeightGrad}) {  // W is the widest letter (a split backward)
    e.kind = kind;
    for (const QString& line : opLabel(e, two_lines).split(QLatin1Char('\n'))) w = std::max(w, fm.horizontalAdvance(line));
  }
  return w + 8;
}

double TimelineView::maxNsPerPx() const {
  switch (model_.clock()) {
    case TimelineClock::Wall: return 1e12;
    case TimelineClock::Slots: return static_cast<double>(kSlotUnits) / labelWidthPx();
    case TimelineClock::Compute: {
      const std::int64_t shortest = model_.shortComputeOpNs();
      return shortest > 0 ? std::max(kMinNsPerPx, static_cast<double>(shortest) / labelWidthPx()) : 1e12;
    }
  }
  return 1e12;
}

double TimelineView::clampScale(double ns_per_px) const { return std::clamp(ns_per_px, kMinNsPerPx, std::max(kMinNsPerPx, maxNsPerPx())); }

void TimelineView::setClock(TimelineClock clock) {
  if (clock == model_.clock()) return;
  model_.setClock(clock);
  // The old positions mean nothing on the new clock: follow the live edge again.
  mode_ = LiveMode::Growing;
  t0_ = model_.startNs();
  ns_per_px_ = clock == TimelineClock::Wall ? 1e4 : clampScale(1e12);
  if (!follow_) {
    follow_ = true;
    Q_EMIT followLiveChanged(true);
  }
  if (model_.empty() && model_.hasGhost()) ns_per_px_ = clampScale(static_cast<double>(model_.ghostEndNs()) * 1.02 / plotRect().width());
  applyLiveView();
  update();
  Q_EMIT clockChanged(clock);
}

void TimelineView::setMarkLatest(bool mark) {
  if (mark == mark_latest_) return;
  mark_latest_ = mark;
  update();
}

QString TimelineView::latestText() const {
  if (!mark_latest_) return {};
  QStringList names;
  for (int k = 0; k < model_.stageCount(); ++k) {
    const IndexRange r = model_.lastAppended(k);
    for (std::size_t i = r.first; i < r.last && names.size() < 4; ++i)
      names << tr("%1 on device %2").arg(opLabel(model_.ops(k)[i])).arg(k);
    if (names.size() >= 4) {
      names << QStringLiteral("…");
      break;
    }
  }
  return names.isEmpty() ? QString() : tr("just ran: %1").arg(names.join(QStringLiteral(", ")));
}

void TimelineView::appendBatch(const TelemetryBatch& batch) {
  if (batch.ops.empty() && batch.transfers.empty() && batch.marks.empty()) return;
  model_.append(batch);
  if (selected_) refreshLinks();  // a partner may have just run; indices may have moved
  applyLiveView();
  update();
}

void TimelineView::clear() {
  model_.clear();
  stage_memory_.clear();
  selectOp(std::nullopt);
  highlight_ = -1;
  mode_ = LiveMode::Growing;
  follow_ = true;
  t0_ = 0;
  ns_per_px_ = 1e4;
  Q_EMIT followLiveChanged(true);
  update();
}

void TimelineView::setStageCount(int stages) {
  model_.setStageCount(stages);
  update();
}

void TimelineView::setStageLabels(const QStringList& labels) {
  stage_labels_ = labels;
  gutter_.px = -1;
  update();
}

void TimelineView::setStageMemory(const RunSummary* summary) {
  stage_memory_.clear();
  if (!summary) return;
  for (int k = 0; k < summary->stages; ++k) stage_memory_ << stage_memory_text(*summary, k);
}

QString TimelineView::stageMemoryText(int stage) const { return stage_memory_.value(stage); }

void TimelineView::setGhostOps(const std::vector<OpEvent>& ops) {
  model_.setGhostOps(ops);
  if (model_.empty() && model_.hasGhost()) {  // nothing measured yet: show the whole prediction
    t0_ = 0;
    ns_per_px_ = clampScale(static_cast<double>(model_.ghostEndNs()) * 1.02 / plotRect().width());
  } else if (mode_ == LiveMode::FitAll) {
    fit();
  }
  update();
}

void TimelineView::clearGhost() {
  model_.clearGhost();
  update();
}

void TimelineView::setShowGhost(bool show) {
  if (show == show_ghost_) return;
  show_ghost_ = show;
  update();
  Q_EMIT showGhostChanged(show);
}

// --- geometry ---------------------------------------------------------------------------------------

// Wide enough for "Stage 00" and for the rows' second lines ("cpu:1 · pid 4711 on host" for a rank),
// up to a quarter of the view.
int TimelineView::gutterWidth() const {
  if (gutter_.px >= 0 && gutter_.view_width == width() && gutter_.font == font()) return gutter_.px;
  const QFontMetrics fm = fontMetrics();
  int w = fm.horizontalAdvance(QStringLiteral("Stage 00  "));
  for (const QString& l : stage_labels_) w = std::max(w, fm.horizontalAdvance(l) + 8);
  gutter_.px = std::min(w, std::max(fm.horizontalAdvance(QStringLiteral("Stage 00  ")), width() / 4)) + 12;
  gutter_.view_width = width();
  gutter_.font = font();
  return gutter_.px;
}
int TimelineView::laneHeight() const { return std::max(6, fontMetrics().height() / 2); }

// The height of a stage's band: its row of measured ops plus, when shown, its ghost row.
int TimelineView::stageRowHeight() const {
  const int stages = std::max(1, model_.stageCount());
  const int body = height() - kAxisHeight - 4 - model_.laneCount() * laneHeight() - hintHeight();
  return std::clamp(body / stages, 12, fontMetrics().height() * 10);
}

int TimelineView::hintHeight() const { return model_.empty() && ghostRowsVisible() ? fontMetrics().height() + 6 : 0; }

QRect TimelineView::hintRect() const {
  const int h = hintHeight();
  if (h == 0) return {};
  const QRect plot = plotRect();
  const int stages = std::max(1, model_.stageCount());
  const int rows_end = bandRect(stages - 1).bottom() + 1;  // no lane under the last stage
  return QRect(plot.left(), rows_end + 2, plot.width(), h - 2);
}

int TimelineView::ghostRowHeight() const {
  return ghostRowsVisible() ? std::max(5, stageRowHeight() * 3 / 10) : 0;
}

QRect TimelineView::plotRect() const {
  const int left = gutterWidth();
  return QRect(left, kAxisHeight, std::max(1, width() - left - kRightMargin), std::max(1, height() - kAxisHeight));
}

QRect TimelineView::bandRect(int stage) const {
  const QRect plot = plotRect();
  const int y = plot.top() + stage * (stageRowHeight() + laneHeight());
  return QRect(plot.left(), y, plot.width(), stageRowHeight());
}

QRect TimelineView::stageRowRect(int stage) const { return bandRect(stage).adjusted(0, 0, 0, -ghostRowHeight()); }

QRect TimelineView::ghostRowRect(int stage) const {
  const int h = ghostRowHeight();
  if (h == 0) return {};
  const QRect band = bandRect(stage);
  return QRect(band.left(), band.bottom() + 1 - h, band.width(), h);
}

QRect TimelineView::laneRect(int lane) const {
  const QRect band = bandRect(lane);
  return QRect(band.left(), band.bottom() + 1, band.width(), laneHeight());
}

double TimelineView::xForTime(std::int64_t t) const { return plotRect().left() + static_cast<double>(t - t0_) / ns_per_px_; }

std::int64_t TimelineView::timeForX(double x) const {
  return t0_ + static_cast<std::int64_t>(std::llround((x - plotRect().left()) * ns_per_px_));
}

std::int64_t TimelineView::visibleEnd() const {
  return t0_ + static_cast<std::int64_t>(std::llround(plotRect().width() * ns_per_px_));
}

// --- viewport ---------------------------------------------------------------------------------------

void TimelineView::setVisibleRange(std::int64_t t0, std::int64_t t1) {
  mode_ = LiveMode::Window;
  setFollowLive(false);
  t0_ = t0;
  ns_per_px_ = clampScale(static_cast<double>(std::max<std::int64_t>(1, t1 - t0)) / plotRect().width());
  update();
}

void TimelineView::fit() {
  mode_ = LiveMode::FitAll;
  std::int64_t start = model_.empty() ? 0 : model_.startNs();
  std::int64_t end = model_.empty() ? 0 : model_.endNs();
  if (ghostRowsVisible()) start = std::min<std::int64_t>(start, 0), end = std::max(end, model_.ghostEndNs());
  const std::int64_t span = std::max<std::int64_t>(1000, end - start);
  t0_ = start;
  ns_per_px_ = clampScale(static_cast<double>(span) * 1.02 / plotRect().width());
  // Boxes keep their labels: when the whole run does not fit so, its newest part is shown.
  const std::int64_t window = visibleEnd() - t0_;
  if (window < span) t0_ = std::max(start, end - window + window / 50);
  update();
}

void TimelineView::setFollowLive(bool follow) {
  if (follow == follow_) return;
  follow_ = follow;
  if (follow_) applyLiveView();
  update();
  Q_EMIT followLiveChanged(follow_);
}

void TimelineView::applyLiveView() {
  if (mode_ == LiveMode::FitAll) return fit();
  if (!follow_ || model_.empty()) return;
  if (mode_ == LiveMode::Growing) {
    double span = static_cast<double>(model_.endNs() - model_.startNs()) * 1.04;
    // On the slot clock a short run would draw a few huge boxes: show at least 16 slots.
    if (model_.clock() == TimelineClock::Slots) span = std::max(span, 16.0 * static_cast<double>(kSlotUnits));
    const double window = model_.clock() == TimelineClock::Wall ? static_cast<double>(live_window_ns_) : span;
    ns_per_px_ = clampScale(std::min(span, window) / plotRect().width());
  } else {
    ns_per_px_ = clampScale(ns_per_px_);
  }
  const std::int64_t window = visibleEnd() - t0_;
  t0_ = std::max(model_.startNs(), model_.endNs() - window + window / 50);  // the live edge 2% from the right
}

void TimelineView::zoomBy(double factor, double anchor_x) {
  const std::int64_t anchor_t = timeForX(follow_ ? plotRect().right() : anchor_x);
  mode_ = LiveMode::Window;
  ns_per_px_ = clampScale(ns_per_px_ / factor);
  const double ax = follow_ ? plotRect().right() : anchor_x;
  t0_ = anchor_t - static_cast<std::int64_t>(std::llround((ax - plotRect().left()) * ns_per_px_));
  update();
}

void TimelineView::zoomIn() { zoomBy(1.5, plotRect().center().x()); }
void TimelineView::zoomOut() { zoomBy(1 / 1.5, plotRect().center().x()); }

void TimelineView::setHighlightedMinibatch(int minibatch) {
  if (minibatch == highlight_) return;
  highlight_ = minibatch;
  update();
  Q_EMIT minibatchHighlighted(minibatch);
}

void TimelineView::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  applyLiveView();
}

// --- painting ---------------------------------------------------------------------------------------

void TimelineView::paintEvent(QPaintEvent*) {
  QPainter p(this);
  stats_ = {};
  p.fillRect(rect(), palette().color(QPalette::Window));
  const QRect plot = plotRect();
  p.fillRect(plot, palette().color(QPalette::Base));
  paintAxis(p);
  p.setClipRect(plot);
  for (int k = 0; k < model_.stageCount(); ++k) {
    paintStageRow(p, k);
    paintHeld(p, k);
    if (ghostRowsVisible()) paintGhostRow(p, k);
  }
  for (int lane = 0; lane < model_.laneCount(); ++lane) paintLane(p, lane);
  if (mark_latest_)
    for (int k = 0; k < model_.stageCount(); ++k) paintLatest(p, k);
  paintMarks(p);
  paintLinks(p);
  // The live edge.
  if (!model_.empty()) {
    const double x = xForTime(model_.endNs());
    if (x >= plot.left() && x <= plot.right()) p.fillRect(QRectF(x, plot.top(), 1.5, plot.height()), QColor(214, 39, 40));
  }
  p.setClipping(false);
  paintGutter(p);
  if (model_.empty()) {
    p.setPen(palette().color(QPalette::PlaceholderText));
    if (ghostRowsVisible())  // the ghost rows alone: say what they are
      p.drawText(hintRect(), Qt::AlignHCenter | Qt::AlignVCenter,
                 tr("Thin rows: the predicted pipeline of these settings · start a run to measure it"));
    else
      p.drawText(plot, Qt::AlignCenter, tr("Start a run to see its pipeline here"));
  }
}

void TimelineView::paintAxis(QPainter& p) const {
  const QRect plot = plotRect();
  const bool slots = model_.clock() == TimelineClock::Slots;
  const double label_px = fontMetrics().horizontalAdvance(QStringLiteral("0.000000 s")) + 16;
  double step = nice_step(ns_per_px_ * label_px);
  if (slots) step = std::max(step, static_cast<double>(kSlotUnits));  // whole slots
  const QColor grid = palette().color(QPalette::Mid);
  p.setPen(palette().color(QPalette::WindowText));
  const double first = std::ceil(static_cast<double>(t0_) / step) * step;
  for (double t = first; t < static_cast<double>(visibleEnd()); t += step) {
    const double x = plot.left() + (t - static_cast<double>(t0_)) / ns_per_px_;
    p.fillRect(QRectF(x, plot.top(), 1, plot.height()), QColor(grid.red(), grid.green(), grid.blue(), 60));
    p.drawLine(QPointF(x, kAxisHeight - 6), QPointF(x, kAxisHeight));
    const QString text = slots ? QString::number(std::llround(t / static_cast<double>(kSlotUnits))) : time_label(t, step);
    p.drawText(QRectF(x + 3, 0, label_px, kAxisHeight - 4), Qt::AlignLeft | Qt::AlignBottom, text);
  }
  // What just ran, at the right.
  const QString latest = latestText();
  if (!latest.isEmpty()) {
    const QFontMetrics fm = fontMetrics();
    const int w = std::min(plot.width() / 2, fm.horizontalAdvance(latest) + 12);
    const QRect box(plot.right() - w, 1, w, kAxisHeight - 3);
    p.fillRect(box, palette().color(QPalette::Window));
    p.setPen(kLatestColor);
    p.drawText(box, Qt::AlignRight | Qt::AlignVCenter, fm.elidedText(latest, Qt::ElideRight, w - 4));
  }
}

void TimelineView::paintGutter(QPainter& p) const {
  const QFontMetrics fm = fontMetrics();
  p.fillRect(QRect(0, 0, plotRect().left(), height()), palette().color(QPalette::Window));
  p.setPen(palette().color(QPalette::PlaceholderText));  // the clock's name in the corner
  p.drawText(QRect(4, 0, plotRect().left() - 8, kAxisHeight - 4), Qt::AlignLeft | Qt::AlignBottom,
             fm.elidedText(clock_name(model_.clock()), Qt::ElideRight, plotRect().left() - 8));
  for (int k = 0; k < model_.stageCount(); ++k) {
    if (ghostRowsVisible() && fm.height() <= ghostRowHeight() + 4) {
      const QRect ghost = ghostRowRect(k);
      p.setPen(palette().color(QPalette::PlaceholderText));
      p.drawText(QRect(12, ghost.top(), plotRect().left() - 16, ghost.height()), Qt::AlignVCenter | Qt::AlignRight,
                 tr("predicted"));
    }
    const QRect row = stageRowRect(k);
    const QRect label(4, row.top(), plotRect().left() - 8, row.height());
    p.fillRect(QRect(label.left(), row.top() + 2, 4, row.height() - 4), stage_color(k));
    p.setPen(palette().color(QPalette::WindowText));
    const bool two_lines = row.height() >= 2 * fm.height() && k < stage_labels_.size();
    if (!two_lines) {
      p.drawText(label.adjusted(8, 0, 0, 0), Qt::AlignVCenter | Qt::AlignLeft, tr("Stage %1").arg(k));
      continue;
    }
    const int mid = row.center().y();
    p.drawText(QRect(label.left() + 8, mid - fm.height(), label.width() - 8, fm.height()), Qt::AlignLeft | Qt::AlignBottom,
               tr("Stage %1").arg(k));
    p.setPen(palette().color(QPalette::PlaceholderText));
    p.drawText(QRect(label.left() + 8, mid, label.width() - 8, fm.height()), Qt::AlignLeft | Qt::AlignTop,
               stage_labels_[k]);
  }
}

// Boxes narrower than a pixel or so are folded into one colour per pixel column, kept in a 1-pixel-high
// image drawn stretched over the row: one draw call however many ops the range holds. Wider boxes are
// drawn one by one on top (there are at most a few hundred of them on screen).
void TimelineView::paintStageRow(QPainter& p, int stage) {
  const QRect row = stageRowRect(stage);
  p.fillRect(row, palette().color(QPalette::AlternateBase));  // gaps in the boxes = bubbles
  const IndexRange range = model_.visibleOps(stage, t0_, visibleEnd());
  stats_.visible += range.size();
  const auto [drawn, merged] = paintOps(p, stage, range, row, /*ghost=*/false);
  stats_.drawn += drawn;
  stats_.merged += merged;
}

// The ghost row: the same boxes, lighter, each wide one outlined in its minibatch's colour.
void TimelineView::paintGhostRow(QPainter& p, int stage) {
  const QRect row = ghostRowRect(stage);
  const QColor base = palette().color(QPalette::Base);
  p.fillRect(row, base);
  p.fillRect(QRect(row.left(), row.top(), row.width(), 1), palette().color(QPalette::Midlight));
  const IndexRange range = model_.visibleGhostOps(stage, t0_, visibleEnd());
  stats_.ghost_visible += range.size();
  stats_.ghost_drawn += paintOps(p, stage, range, row.adjusted(0, 1, 0, 0), /*ghost=*/true).first;
}

std::pair<std::size_t, std::size_t> TimelineView::paintOps(QPainter& p, int stage, IndexRange range, const QRect& row,
                                                           bool ghost) {
  const std::vector<OpEvent>& ops = ghost ? model_.ghostOps(stage) : model_.ops(stage);
  auto span_of = [&](std::size_t i) { return ghost ? model_.ghostSpan(stage, i) : model_.span(stage, i); };
  std::size_t drawn = 0, merged = 0;
  const int width = plotRect().width();
  const double left = plotRect().left();
  const double top = row.top() + 1, h = std::max(1, row.height() - 2);
  const QColor tick = palette().color(QPalette::WindowText);
  const int highlight = ghost ? -1 : highlight_;
  auto color = [&](const OpEvent& e) {
    const auto i = static_cast<std::size_t>(colorIndex(e));
    return ghost ? std::pair{ghost_[i], colors_[i]} : std::pair{boxColor(e), colors_[i]};
  };
  columns_.assign(static_cast<std::size_t>(width), 0);
  ticks_.assign(static_cast<std::size_t>(width), 0);
  wide_.clear();
  int last_tick = std::numeric_limits<int>::min() / 2;
  for (std::size_t i = range.first; i < range.last; ++i) {
    const OpEvent& e = ops[i];
    const ClockSpan sp = span_of(i);
    const double x0 = static_cast<double>(sp.t_start_ns - t0_) / ns_per_px_;
    const int px = static_cast<int>(std::floor(x0));
    if (e.kind == OpKind::Update) {  // a thin tick in the lower part of the row, at most one per few pixels
      if (px < 0 || px >= width || px - last_tick < kMinTickSpacingPx) {
        ++merged;
        continue;
      }
      ticks_[static_cast<std::size_t>(px)] = tick.rgba();
      last_tick = px;
      ++drawn;
      continue;
    }
    const double w = static_cast<double>(sp.t_end_ns - sp.t_start_ns) / ns_per_px_;
    if (w >= kMergeBelowPx) {
      wide_.push_back(i);
      continue;
    }
    const bool highlighted = highlight >= 0 && e.minibatch == highlight;
    if (px < 0 || px >= width || (columns_[static_cast<std::size_t>(px)] != 0 && !highlighted)) {
      ++merged;
      continue;
    }
    if (columns_[static_cast<std::size_t>(px)] != 0) ++merged;  // the highlighted op wins the column
    else ++drawn;
    columns_[static_cast<std::size_t>(px)] = color(e).first.rgba();
  }
  const auto as_image = [width](std::vector<QRgb>& pixels) {
    return QImage(reinterpret_cast<const uchar*>(pixels.data()), width, 1, width * 4, QImage::Format_ARGB32_Premultiplied);
  };
  p.drawImage(QRectF(left, top, width, h), as_image(columns_));

  const QFontMetrics fm = fontMetrics();
  const bool two_lines = h >= 2 * fm.height();
  const int narrowest_label = fm.horizontalAdvance(QStringLiteral("F0")) + 4;
  for (std::size_t i : wide_) {
    const OpEvent& e = ops[i];
    const ClockSpan sp = span_of(i);
    const double x0 = left + static_cast<double>(sp.t_start_ns - t0_) / ns_per_px_;
    const double w = static_cast<double>(sp.t_end_ns - sp.t_start_ns) / ns_per_px_;
    const QRectF box(x0, top, w > 3 ? w - 1 : w, h);  // a 1px seam between neighbours
    const auto [fill, outline] = color(e);
    p.fillRect(box, fill);
    ++drawn;
    if (ghost) {
      if (w > 3) {
        p.setPen(QPen(outline, 1));
        p.setBrush(Qt::NoBrush);
        p.drawRect(box.adjusted(0.5, 0.5, -0.5, -0.5));
      }
      continue;
    }
    if (highlight >= 0 && e.minibatch == highlight) {
      p.setPen(QPen(tick, 2));
      p.setBrush(Qt::NoBrush);
      p.drawRect(box.adjusted(1, 1, -1, -1));
    }
    if (h < fm.height() || w < narrowest_label) continue;
    // The fullest label that fits: name and version (on two lines when the row is tall), else the name.
    QString label = opLabel(e, two_lines);
    int label_w = 0;
    for (const QString& line : label.split(QLatin1Char('\n'))) label_w = std::max(label_w, fm.horizontalAdvance(line));
    if (label_w + 4 > w) {
      label = opLabel(e, false);
      if (fm.horizontalAdvance(label) + 4 > w) label = QString::fromStdString(op_name({e.kind, e.minibatch, e.micro}));
      if (fm.horizontalAdvance(label) + 4 > w) continue;
    }
    p.setPen(qGray(fill.rgb()) < 120 ? QColor(250, 250, 250) : QColor(20, 20, 20));
    p.drawText(box, Qt::AlignCenter, label);
  }
  p.drawImage(QRectF(left, top + h * 0.6, width, h * 0.4), as_image(ticks_));
  return {drawn, merged};
}

// The ops that just ran (the latest batch, while stepping): a thick outline, at least a few pixels wide.
void TimelineView::paintLatest(QPainter& p, int stage) {
  const IndexRange r = model_.lastAppended(stage);
  if (r.size() == 0) return;
  const QRect row = stageRowRect(stage);
  p.setPen(QPen(kLatestColor, 3));
  p.setBrush(Qt::NoBrush);
  for (std::size_t i = r.first; i < r.last; ++i) {
    const ClockSpan sp = model_.span(stage, i);
    const double x0 = xForTime(sp.t_start_ns);
    const double w = std::max(4.0, static_cast<double>(sp.t_end_ns - sp.t_start_ns) / ns_per_px_);
    p.drawRect(QRectF(x0 - 1, row.top() + 1, w + 1, row.height() - 2));
  }
}

// Run marks: a dashed vertical line over every row at the mark's time, its label at the top.
void TimelineView::paintMarks(QPainter& p) {
  const QRect plot = plotRect();
  const QFontMetrics fm = fontMetrics();
  double last_label_end = -1e9;
  for (std::size_t i = 0; i < model_.marks().size(); ++i) {
    const RunMark& m = model_.marks()[i];
    const double x = xForTime(model_.markTime(i));
    if (x < plot.left() - 1 || x > plot.right() + 1) continue;
    const int bottom = model_.stageCount() > 0 ? bandRect(model_.stageCount() - 1).bottom() : plot.bottom();
    p.setPen(QPen(kMarkColor, 2, Qt::DashLine));
    p.drawLine(QPointF(x, plot.top()), QPointF(x, bottom));
    ++stats_.marks_drawn;
    const QString label = mark_label(m);
    const QRectF box(x + 3, plot.top() + 2, fm.horizontalAdvance(label) + 8, fm.height() + 2);
    if (box.left() < last_label_end) continue;  // crowded: the line alone (its tooltip says the rest)
    last_label_end = box.right() + 4;
    p.fillRect(box, kMarkColor);
    p.setPen(Qt::white);
    p.drawText(box, Qt::AlignCenter, label);
  }
}

void TimelineView::paintLane(QPainter& p, int lane) {
  const QRect r = laneRect(lane);
  const IndexRange range = model_.visibleTransfers(lane, t0_, visibleEnd());
  stats_.visible += range.size();
  const auto& events = model_.transfers(lane);
  const double left = plotRect().left();
  const double half = r.height() / 2.0;
  int last_px[2] = {std::numeric_limits<int>::min(), std::numeric_limits<int>::min()};
  for (std::size_t i = range.first; i < range.last; ++i) {
    const TransferEvent& e = events[i];
    const double x0 = left + static_cast<double>(e.t_start_ns - t0_) / ns_per_px_;
    const double w = std::max(1.0, static_cast<double>(e.t_end_ns - e.t_start_ns) / ns_per_px_);
    const int half_index = e.gradient ? 1 : 0;  // activations on top, gradients below
    const int px = static_cast<int>(std::floor(x0));
    if (w < kMergeBelowPx && px <= last_px[half_index]) {
      ++stats_.merged;
      continue;
    }
    last_px[half_index] = static_cast<int>(std::floor(x0 + w));
    OpEvent as_op;
    as_op.minibatch = e.minibatch;
    as_op.kind = e.gradient ? OpKind::Backward : OpKind::Forward;
    p.fillRect(QRectF(x0, r.top() + half_index * half + 1, w, half - 1), boxColor(as_op));
    ++stats_.drawn;
  }
}

}  // namespace ps::ui
