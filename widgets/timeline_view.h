// The pipeline timeline: one row per device, boxes coloured by kind (F blue, B orange, I teal, W green,
// overlapped pairs purple; the minibatch shades them), U as thin ticks,
// bubbles as gaps, transfers on thin lanes between the stage rows, run marks (repartitions) as vertical
// lines across every row, and optionally the "ghost": the predicted run in a thin row under each stage.
// Custom painting with culling (binary search per row, sub-pixel boxes merged per pixel column) keeps a
// 100k-op buffer interactive. The x axis is one of three clocks (TimelineModel): wall time, compute time
// or op slots; on the last two the view never zooms out so far that a box loses its label.
#pragma once
#include <QFont>
#include <QPointF>
#include <QRectF>
#include <QRgb>
#include <QStringList>
#include <QWidget>
#include <array>
#include <optional>

#include "widgets/colors.h"
#include "widgets/held_activations.h"
#include "widgets/timeline_links.h"
#include "widgets/timeline_model.h"

namespace ps::ui {

struct TimelineHit {
  enum class Kind { Op, Transfer, Ghost, Mark, Stage } kind = Kind::Op;
  // stage for an op, a ghost op or a stage's gutter label, lane (stages row..row+1) for a transfer, 0 for a mark
  int row = 0;
  std::size_t index = 0;  // into ops(row), transfers(row), ghostOps(row) or marks(); 0 for a stage
};

// A clicked box's link as drawn: a cubic curve from the box to the linked op's box, with its head at `to`.
struct TimelineArrow {
  TimelineLink link;
  QPointF from, c1, c2, to;
};

// What the last paint drew; lets tests and the benchmark check the culling.
struct TimelinePaintStats {
  std::size_t visible = 0;  // events in the visible time range
  std::size_t drawn = 0;    // rectangles actually filled
  std::size_t merged = 0;   // sub-pixel events folded into an already drawn pixel column
  std::size_t ghost_visible = 0;  // predicted ops in the visible range (ghost rows shown)
  std::size_t ghost_drawn = 0;    // ... drawn (the rest folded per pixel column like the measured ones)
  std::size_t marks_drawn = 0;    // run marks drawn as vertical lines
};

class TimelineView : public QWidget {
  Q_OBJECT
 public:
  explicit TimelineView(QWidget* parent = nullptr);

  TimelineModel& model() { return model_; }
  const TimelineModel& model() const { return model_; }
  void appendBatch(const TelemetryBatch& batch);  // adds events, follows the live edge if asked, repaints
  void clear();
  void setStageCount(int stages);
  void setStageLabels(const QStringList& labels);  // device names under "Stage k"
  // Each row's memory peaks from the run's summary (stage_rows.h), in its gutter label's tooltip;
  // nullptr clears them.
  void setStageMemory(const RunSummary* summary);
  QString stageMemoryText(int stage) const;

  // The x axis: wall time, compute time or op slots. Changing it follows the live edge again.
  void setClock(TimelineClock clock);
  TimelineClock clock() const { return model_.clock(); }
  // While stepping, the ops of the latest batch (the op that just ran) are outlined, and named above.
  void setMarkLatest(bool mark);
  bool markLatest() const { return mark_latest_; }
  QString latestText() const;  // "just ran: F3.1 on device 2" (empty when not marking or nothing ran)
  // A box's label: "F61" (with the chunk, "F3.1@2", when a device holds several) and, when versions
  // vary, the version it read ("v58"). `two_lines` puts the version under the name.
  QString opLabel(const OpEvent& e, bool two_lines = false) const;
  // The widest label a box may need, in pixels (the compute and slot clocks keep boxes at least this wide).
  int labelWidthPx() const;
  // The widest scale the current clock allows (ns per pixel; unbounded on the wall clock).
  double maxNsPerPx() const;
  double nsPerPx() const { return ns_per_px_; }

  // The predicted run (simulated ops, aligned at t = 0 with the measured one) under each stage row.
  void setGhostOps(const std::vector<OpEvent>& ops);
  void clearGhost();
  bool showGhost() const { return show_ghost_; }
  bool ghostRowsVisible() const { return show_ghost_ && model_.hasGhost(); }

  // Viewport in run time (ns). Setting a range stops following the live edge.
  void setVisibleRange(std::int64_t t0, std::int64_t t1);
  std::int64_t visibleStart() const { return t0_; }
  std::int64_t visibleEnd() const;
  void zoomBy(double factor, double anchor_x);
  bool followLive() const { return follow_; }
  // While following from the start, the view grows with the run up to this span, then slides.
  void setLiveWindow(std::int64_t ns) { live_window_ns_ = ns; }

  int highlightedMinibatch() const { return highlight_; }
  void setHighlightedMinibatch(int minibatch);  // -1 clears

  // Clicking a box selects it: arrows to the update that made the weights it read and to its partner
  // passes (timeline_links.h). Clicking it again, clicking elsewhere or Esc clears them.
  void selectOp(std::optional<OpRef> op);
  std::optional<OpRef> selectedOp() const { return selected_; }
  const std::vector<TimelineLink>& links() const { return links_; }
  std::vector<TimelineArrow> linkArrows() const;  // the links laid out on the current clock and viewport
  QString linksText() const;  // "F7: read v5, made by the update after minibatch 4 · partner B7"
  std::optional<QRectF> opBoxRect(OpRef op) const;  // where the op's box is drawn (none before its layout)

  // The activations each device holds (until their B, or W with a split backward), drawn as a thin step
  // area at the bottom of its row, scaled to the peak in view (held_activations.h). Empty when the row
  // shows too many ops to read.
  std::vector<HeldStep> heldSteps(int stage) const;

  std::optional<TimelineHit> hitTest(const QPoint& pos) const;
  QString toolTipText(const TimelineHit& hit) const;

  // Geometry (also used by tests to aim the mouse).
  QRect stageRowRect(int stage) const;  // the measured ops of the stage
  QRect ghostRowRect(int stage) const;  // the predicted ops, under the stage row (empty when hidden)
  // Where "Thin rows: the predicted pipeline…" is written before a run: under the last row, never on one
  // (empty when not shown).
  QRect hintRect() const;
  QRect laneRect(int lane) const;
  QRect plotRect() const;
  double xForTime(std::int64_t t) const;
  std::int64_t timeForX(double x) const;

  const TimelinePaintStats& lastPaintStats() const { return stats_; }
  QSize sizeHint() const override { return {900, 360}; }
  QSize minimumSizeHint() const override { return {300, 120}; }

 public Q_SLOTS:
  void fit();                     // whole run (and its ghost); keeps fitting as the run grows
  void setFollowLive(bool follow);
  void setShowGhost(bool show);
  void zoomIn();
  void zoomOut();

 Q_SIGNALS:
  void minibatchHighlighted(int minibatch);
  void followLiveChanged(bool follow);
  void showGhostChanged(bool show);
  void clockChanged(ps::ui::TimelineClock clock);

 protected:
  void paintEvent(QPaintEvent* event) override;
  void wheelEvent(QWheelEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mouseReleaseEvent(QMouseEvent* event) override;
  void keyPressEvent(QKeyEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;
  bool event(QEvent* event) override;

 private:
  void applyLiveView();
  void paintAxis(class QPainter& p) const;
  void paintGutter(class QPainter& p) const;
  void paintStageRow(class QPainter& p, int stage);
  void paintGhostRow(class QPainter& p, int stage);
  // The boxes of ops[range] in `row`: per pixel column below kMergeBelowPx, one by one above. Returns
  // {drawn, merged}. A ghost row draws lighter boxes with an outline, no labels, no highlight.
  std::pair<std::size_t, std::size_t> paintOps(class QPainter& p, int stage, IndexRange range, const QRect& row, bool ghost);
  void paintLatest(class QPainter& p, int stage);
  void paintLinks(class QPainter& p);  // timeline_links.cpp
  void paintHeld(class QPainter& p, int stage);  // held_activations.cpp
  void refreshLinks();  // after the rows change: the selection's place and its links
  double clampScale(double ns_per_px) const;
  int colorIndex(const OpEvent& e) const;
  void paintMarks(class QPainter& p);
  void paintLane(class QPainter& p, int lane);
  QRect bandRect(int stage) const;  // the stage row and its ghost row
  int ghostRowHeight() const;
  QColor boxColor(const OpEvent& e) const;
  int gutterWidth() const;
  int laneHeight() const;
  int stageRowHeight() const;
  int hintHeight() const;  // the hint's strip under the rows (0 when not shown)
  void rebuildColors();

  TimelineModel model_;
  QStringList stage_labels_;
  // gutterWidth() measures text, and every xForTime() asks for it: kept until the labels, the font or the
  // view's width change.
  mutable struct {
    int px = -1;
    int view_width = -1;
    QFont font;
  } gutter_;
  QStringList stage_memory_;  // per row, HTML (stage_memory_text)
  std::int64_t t0_ = 0;
  double ns_per_px_ = 1e4;
  // Growing: the whole run up to the live window, then a sliding window of that span (the start-up view).
  // FitAll: the whole run, refitted as it grows (after Fit). Window: the user's zoom, right edge pinned.
  enum class LiveMode { Growing, FitAll, Window };
  LiveMode mode_ = LiveMode::Growing;
  bool follow_ = true;
  bool show_ghost_ = true;
  std::int64_t live_window_ns_ = 2'000'000'000;
  int highlight_ = -1;
  std::optional<QPoint> press_pos_;
  std::int64_t press_t0_ = 0;
  bool panned_ = false;
  TimelinePaintStats stats_;
  std::vector<QRgb> columns_, ticks_;  // per pixel column of the row being painted (reused buffers)
  std::vector<std::size_t> wide_;
  bool mark_latest_ = false;
  std::optional<OpRef> selected_;
  OpEvent selected_event_;  // what was selected (to find it again when indices move)
  std::vector<TimelineLink> links_;
  static constexpr int kKinds = 6;  // F, B, U, I, W (OpKind), then an overlapped pair's op
  std::array<QColor, kKinds * kMinibatchHues> colors_, faded_, ghost_;  // ghost: 55% colour over the background
};

}  // namespace ps::ui
