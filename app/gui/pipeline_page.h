// Page 1: the pipeline timeline with its toolbar (clock, follow live, fit, zoom, show prediction), a
// legend and the bubble and throughput figures of the current run: the ideal bubble, the schedule's on
// this machine's op times (compute clock), the wall clock's, and why they differ.
#pragma once
#include <QWidget>
#include <optional>

#include "engine/telemetry/events.h"

class QComboBox;
class QLabel;
class QToolButton;

namespace ps::ui {
class TimelineView;
}

namespace ps::gui {

class PipelinePage : public QWidget {
  Q_OBJECT
 public:
  explicit PipelinePage(QWidget* parent = nullptr);
  ui::TimelineView* timeline() const { return timeline_; }
  void showSummary(const RunSummary& summary);  // bubble figures, dropped events
  void clear();  // the run's events, its figures and the prediction

  // The ghost: predicted ops and figures, or none with the reason (the toggle is disabled then).
  struct PredictedFigures {
    double samples_per_second = 0;
    double bubble_fraction = 0;
    bool capped = false;  // covers only the first minibatches of the run
    QString source;       // "measured on cpu at batch 32"
  };
  void setPrediction(const std::vector<OpEvent>& ops, const PredictedFigures& figures);
  void clearPrediction(const QString& why);
  QToolButton* showPredictionButton() const { return show_prediction_; }
  QString figuresText() const;

  // How the run is being driven. Stepping and slow motion switch the timeline to op slots by
  // themselves (once per change: the user may switch back); back at full speed an automatic switch is
  // undone. Stepping also outlines the op that just ran.
  enum class Pacing { FullSpeed, SlowMotion, Stepping };
  void setPacing(Pacing pacing);
  Pacing pacing() const { return pacing_; }
  QComboBox* clockCombo() const { return clock_; }
  // The cores the stages share (for the one-line reason under the bubble figures); the machine's by default.
  void setCores(int cores) { cores_ = cores; updateFigures(); }
  QString bubbleReason() const;  // "4 stages share 2 cores" (empty when nothing to explain)

 private:
  void updateFigures();

  ui::TimelineView* timeline_;
  QComboBox* clock_;
  QToolButton* follow_;
  QToolButton* show_prediction_;
  QLabel* figures_;
  std::optional<RunSummary> summary_;
  std::optional<PredictedFigures> predicted_;
  Pacing pacing_ = Pacing::FullSpeed;
  bool clock_switched_automatically_ = false;
  int cores_ = 0;
};

}  // namespace ps::gui
