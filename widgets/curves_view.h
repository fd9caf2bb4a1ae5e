// Training curves: loss (raw, faded, with an EMA-smoothed curve over it), train and test accuracy and
// throughput, against step, samples or wall time. Shows one live run or overlays several.
#pragma once
#include <QColor>
#include <QWidget>
#include <memory>
#include <vector>

#include "widgets/curve_math.h"
#include "widgets/run_record.h"

class QCustomPlot;
class QCPAxisRect;
class QCPGraph;
class QComboBox;
class QSlider;
class QLabel;
class QTimer;

namespace ps::ui {

struct CurveRun {
  std::shared_ptr<const RunRecord> run;
  QColor color;
  QString label = {};  // the legend's text ("" = the run's name)
};

class CurvesView : public QWidget {
  Q_OBJECT
 public:
  explicit CurvesView(QWidget* parent = nullptr);

  void setRuns(std::vector<CurveRun> runs);
  void setShowRaw(bool show);  // raw loss under the smoothed one (live page: yes; overlays: no)
  void refresh();              // the runs' data grew: rebuild the graphs and replot (queued)
  void requestRefresh();       // the same, coalesced to at most ~10 per second (for live data)

  void setXAxis(XAxis axis);
  XAxis xAxis() const { return x_axis_; }
  void setSmoothing(double weight);  // 0..0.99
  double smoothing() const { return smoothing_; }

  QCustomPlot* plot() const { return plot_; }
  int graphCount() const;
  bool savePng(const QString& path);
  bool savePdf(const QString& path, const QString& title = {});  // the title heads the page and names the document

 public Q_SLOTS:
  void fit();

 protected:
  void changeEvent(QEvent* event) override;
  void showEvent(QShowEvent* event) override;

 private:
  void buildAxes();
  void restyle();

  struct RunGraphs {
    QCPGraph* loss_raw = nullptr;
    QCPGraph* loss = nullptr;
    QCPGraph* train_acc = nullptr;
    QCPGraph* test_acc = nullptr;
    QCPGraph* speed = nullptr;
  };
  void rebuildGraphs();

  std::vector<CurveRun> runs_;
  std::vector<RunGraphs> graphs_;
  bool show_raw_ = true;
  bool auto_range_ = true;
  XAxis x_axis_ = XAxis::Step;
  double smoothing_ = 0.6;

  QCustomPlot* plot_;
  QTimer* refresh_timer_;
  QCPAxisRect* loss_rect_ = nullptr;
  QCPAxisRect* acc_rect_ = nullptr;
  QCPAxisRect* speed_rect_ = nullptr;
  QComboBox* x_combo_;
  QSlider* smoothing_slider_;
  QLabel* smoothing_label_;
};

}  // namespace ps::ui
