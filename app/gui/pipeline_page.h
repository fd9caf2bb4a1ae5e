// Page 1: the pipeline timeline with its toolbar (follow live, fit, zoom, show prediction), a legend and
// the bubble and throughput figures of the current run, measured and predicted.
#pragma once
#include <QWidget>
#include <optional>

#include "engine/telemetry/events.h"

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

 private:
  void updateFigures();

  ui::TimelineView* timeline_;
  QToolButton* follow_;
  QToolButton* show_prediction_;
  QLabel* figures_;
  std::optional<RunSummary> summary_;
  std::optional<PredictedFigures> predicted_;
};

}  // namespace ps::gui
