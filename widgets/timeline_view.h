// The pipeline timeline: one row per stage, F and B boxes coloured by minibatch, U as thin ticks,
// bubbles as gaps, transfers on thin lanes between the stage rows. Custom painting with culling
// (binary search per row, sub-pixel boxes merged per pixel column) keeps a 100k-op buffer interactive.
#pragma once
#include <QRgb>
#include <QStringList>
#include <QWidget>
#include <array>
#include <optional>

#include "widgets/colors.h"
#include "widgets/timeline_model.h"

namespace ps::ui {

struct TimelineHit {
  enum class Kind { Op, Transfer } kind = Kind::Op;
  int row = 0;  // stage for an op, lane (stages row..row+1) for a transfer
  std::size_t index = 0;
};

// What the last paint drew; lets tests and the benchmark check the culling.
struct TimelinePaintStats {
  std::size_t visible = 0;  // events in the visible time range
  std::size_t drawn = 0;    // rectangles actually filled
  std::size_t merged = 0;   // sub-pixel events folded into an already drawn pixel column
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

  std::optional<TimelineHit> hitTest(const QPoint& pos) const;
  QString toolTipText(const TimelineHit& hit) const;

  // Geometry (also used by tests to aim the mouse).
  QRect stageRowRect(int stage) const;
  QRect laneRect(int lane) const;
  QRect plotRect() const;
  double xForTime(std::int64_t t) const;
  std::int64_t timeForX(double x) const;

  const TimelinePaintStats& lastPaintStats() const { return stats_; }
  QSize sizeHint() const override { return {900, 360}; }
  QSize minimumSizeHint() const override { return {300, 120}; }

 public Q_SLOTS:
  void fit();                     // whole run; keeps fitting as the run grows
  void setFollowLive(bool follow);
  void zoomIn();
  void zoomOut();

 Q_SIGNALS:
  void minibatchHighlighted(int minibatch);
  void followLiveChanged(bool follow);

 protected:
  void paintEvent(QPaintEvent* event) override;
  void wheelEvent(QWheelEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mouseReleaseEvent(QMouseEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;
  bool event(QEvent* event) override;

 private:
  void applyLiveView();
  void paintAxis(class QPainter& p) const;
  void paintGutter(class QPainter& p) const;
  void paintStageRow(class QPainter& p, int stage);
  void paintLane(class QPainter& p, int lane);
  QColor boxColor(const OpEvent& e) const;
  int gutterWidth() const;
  int laneHeight() const;
  int stageRowHeight() const;
  void rebuildColors();

  TimelineModel model_;
  QStringList stage_labels_;
  std::int64_t t0_ = 0;
  double ns_per_px_ = 1e4;
  // Growing: the whole run up to the live window, then a sliding window of that span (the start-up view).
  // FitAll: the whole run, refitted as it grows (after Fit). Window: the user's zoom, right edge pinned.
  enum class LiveMode { Growing, FitAll, Window };
  LiveMode mode_ = LiveMode::Growing;
  bool follow_ = true;
  std::int64_t live_window_ns_ = 2'000'000'000;
  int highlight_ = -1;
  std::optional<QPoint> press_pos_;
  std::int64_t press_t0_ = 0;
  bool panned_ = false;
  TimelinePaintStats stats_;
  std::vector<QRgb> columns_, ticks_;  // per pixel column of the row being painted (reused buffers)
  std::vector<std::size_t> wide_;
  std::array<QColor, 3 * kMinibatchHues> colors_, faded_;
};

}  // namespace ps::ui
