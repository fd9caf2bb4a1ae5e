// The weight-version page: staleness of F and B per stage over time, divergence and prediction gain
// where the engine measured them, a stage x time heatmap of divergence, and the versions each
// in-flight minibatch holds right now.
#pragma once
#include <QWidget>

#include "widgets/version_history.h"

class QCustomPlot;
class QCPAxisRect;
class QCPColorMap;
class QCPGraph;
class QCPItemText;
class QLabel;
class QTableView;

namespace ps::ui {

class InFlightModel;

class VersionView : public QWidget {
  Q_OBJECT
 public:
  explicit VersionView(QWidget* parent = nullptr);

  void appendBatch(const TelemetryBatch& batch);
  void clear();
  void refresh();  // rebuild graphs from the history (cheap when nothing changed)

  const VersionHistory& history() const { return history_; }
  InFlightModel* inFlightModel() const { return in_flight_; }
  QCustomPlot* seriesPlot() const { return series_plot_; }
  QCustomPlot* heatmapPlot() const { return heatmap_plot_; }
  QCPColorMap* heatmap() const { return heatmap_; }
  // The graphs of stage k: staleness F, staleness B, inconsistency, divergence F, divergence B, gain.
  enum Series { StalenessF, StalenessB, Inconsistency, DivergenceF, DivergenceB, Gain, kSeriesPerStage };
  QCPGraph* graph(int stage, Series series) const;
  QString weightMemoryText() const;  // the live per-stage weight-copies counter

 protected:
  void changeEvent(QEvent* event) override;
  void showEvent(QShowEvent* event) override;

 private:
  void rebuildGraphs();
  void restyle();

  VersionHistory history_;
  bool dirty_ = false;
  int graphs_for_stages_ = -1;
  QCustomPlot* series_plot_;
  QCPAxisRect* staleness_rect_ = nullptr;
  QCPAxisRect* divergence_rect_ = nullptr;
  QCPItemText* no_divergence_note_ = nullptr;
  QCPItemText* no_heatmap_note_ = nullptr;
  QCustomPlot* heatmap_plot_;
  QCPColorMap* heatmap_ = nullptr;
  InFlightModel* in_flight_;
  QTableView* in_flight_table_;
  QLabel* weight_memory_;
};

}  // namespace ps::ui
