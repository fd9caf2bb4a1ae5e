#include "widgets/curves_view.h"

#include <QComboBox>
#include <QEvent>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSlider>
#include <QTimer>
#include <QVBoxLayout>
#include "widgets/qcp.h"

#include "widgets/plot_style.h"

namespace ps::ui {
namespace {

QVector<double> to_qvector(const std::vector<double>& v) { return QVector<double>(v.begin(), v.end()); }

QCPGraph* add_graph(QCustomPlot* plot, QCPAxisRect* rect, const QPen& pen, const QString& name) {
  QCPGraph* g = plot->addGraph(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
  g->setPen(pen);
  g->setName(name);
  g->setAdaptiveSampling(true);
  return g;
}

}  // namespace

CurvesView::CurvesView(QWidget* parent)
    : QWidget(parent),
      plot_(new QCustomPlot(this)),
      refresh_timer_(new QTimer(this)),
      x_combo_(new QComboBox(this)),
      smoothing_slider_(new QSlider(Qt::Horizontal, this)),
      smoothing_label_(new QLabel(this)) {
  for (XAxis axis : {XAxis::Step, XAxis::Samples, XAxis::WallTime})
    x_combo_->addItem(tr(x_axis_label(axis)), static_cast<int>(axis));
  connect(x_combo_, &QComboBox::currentIndexChanged, this,
          [this] { setXAxis(static_cast<XAxis>(x_combo_->currentData().toInt())); });
  smoothing_slider_->setRange(0, 99);
  smoothing_slider_->setValue(static_cast<int>(smoothing_ * 100));
  smoothing_slider_->setMaximumWidth(220);
  smoothing_slider_->setToolTip(tr("Exponential moving average weight of the smoothed curves"));
  connect(smoothing_slider_, &QSlider::valueChanged, this, [this](int v) { setSmoothing(v / 100.0); });
  smoothing_label_->setMinimumWidth(fontMetrics().horizontalAdvance(QStringLiteral("0.00")) + 4);
  smoothing_label_->setText(QString::number(smoothing_, 'f', 2));
  auto* fit_button = new QPushButton(tr("Fit"), this);
  fit_button->setToolTip(tr("Show all data (double-click the plot does the same)"));
  connect(fit_button, &QPushButton::clicked, this, &CurvesView::fit);

  auto* controls = new QHBoxLayout;
  controls->addWidget(new QLabel(tr("X axis:"), this));
  controls->addWidget(x_combo_);
  controls->addSpacing(16);
  controls->addWidget(new QLabel(tr("Smoothing:"), this));
  controls->addWidget(smoothing_slider_);
  controls->addWidget(smoothing_label_);
  controls->addStretch(1);
  controls->addWidget(fit_button);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addLayout(controls);
  layout->addWidget(plot_, 1);

  refresh_timer_->setSingleShot(true);
  refresh_timer_->setInterval(100);
  connect(refresh_timer_, &QTimer::timeout, this, &CurvesView::refresh);
  buildAxes();
  restyle();
  setXAxis(x_axis_);
}

void CurvesView::buildAxes() {
  plot_->setAutoAddPlottableToLegend(false);
  loss_rect_ = plot_->axisRect();
  acc_rect_ = new QCPAxisRect(plot_);
  speed_rect_ = new QCPAxisRect(plot_);
  plot_->plotLayout()->addElement(1, 0, acc_rect_);
  plot_->plotLayout()->addElement(2, 0, speed_rect_);
  auto* margins = new QCPMarginGroup(plot_);
  const QList<QCPAxis*> x_axes = {loss_rect_->axis(QCPAxis::atBottom), acc_rect_->axis(QCPAxis::atBottom),
                                  speed_rect_->axis(QCPAxis::atBottom)};
  for (QCPAxisRect* rect : {loss_rect_, acc_rect_, speed_rect_}) {
    rect->setMarginGroup(QCP::msLeft | QCP::msRight, margins);
    rect->setRangeDrag(Qt::Horizontal);
    rect->setRangeZoom(Qt::Horizontal);
    for (QCPAxis* axis : rect->axes()) axis->setLayer(QStringLiteral("axes"));
    // One x range for the three plots.
    connect(rect->axis(QCPAxis::atBottom), qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this,
            [x_axes](const QCPRange& range) {
              for (QCPAxis* a : x_axes)
                if (a->range() != range) a->setRange(range);
            });
  }
  loss_rect_->axis(QCPAxis::atLeft)->setLabel(tr("training loss"));
  acc_rect_->axis(QCPAxis::atLeft)->setLabel(tr("accuracy"));
  speed_rect_->axis(QCPAxis::atLeft)->setLabel(tr("samples / s"));
  plot_->legend->setVisible(true);
  // The legend in a column of its own right of the plots: inside, it covered the curves' ends.
  loss_rect_->insetLayout()->take(plot_->legend);
  plot_->plotLayout()->addElement(0, 1, plot_->legend);
  plot_->plotLayout()->setColumnStretchFactor(1, 0.001);
  plot_->legend->setMaximumSize(260, QWIDGETSIZE_MAX);
  plot_->plotLayout()->setColumnSpacing(6);
  plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  plot_->setNoAntialiasingOnDrag(true);
  connect(plot_, &QCustomPlot::mousePress, this, [this] { auto_range_ = false; });
  connect(plot_, &QCustomPlot::mouseWheel, this, [this] { auto_range_ = false; });
  connect(plot_, &QCustomPlot::mouseDoubleClick, this, &CurvesView::fit);
}

void CurvesView::setRuns(std::vector<CurveRun> runs) {
  runs_ = std::move(runs);
  rebuildGraphs();
}

void CurvesView::setShowRaw(bool show) {
  show_raw_ = show;
  rebuildGraphs();
}

int CurvesView::graphCount() const { return plot_->graphCount(); }

void CurvesView::rebuildGraphs() {
  plot_->clearGraphs();
  graphs_.clear();
  const bool single = runs_.size() == 1;
  for (const CurveRun& r : runs_) {
    RunGraphs g;
    const QString title = r.label.isEmpty() ? r.run->name : r.label;
    const QString name = single ? QString() : title + QStringLiteral(": ");
    QColor faded = r.color;
    faded.setAlpha(70);
    if (show_raw_) g.loss_raw = add_graph(plot_, loss_rect_, QPen(faded, 1), name + tr("loss (raw)"));
    g.loss = add_graph(plot_, loss_rect_, QPen(r.color, 2), single ? tr("loss (smoothed)") : title);
    g.train_acc = add_graph(plot_, acc_rect_, QPen(r.color, 1.5, Qt::DashLine), name + tr("train (smoothed)"));
    g.test_acc = add_graph(plot_, acc_rect_, QPen(r.color, 2), name + tr("test"));
    g.test_acc->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, r.color, r.color, 6));
    g.speed = add_graph(plot_, speed_rect_, QPen(r.color, 1.5), name + tr("samples/s"));
    if (single) {
      for (QCPGraph* graph : {g.loss_raw, g.loss, g.train_acc, g.test_acc})
        if (graph) graph->addToLegend();
    } else {
      g.loss->addToLegend();
    }
    graphs_.push_back(g);
  }
  refresh();
}

void CurvesView::refresh() {
  for (std::size_t i = 0; i < runs_.size() && i < graphs_.size(); ++i) {
    const RunRecord& run = *runs_[i].run;
    const RunGraphs& g = graphs_[i];
    std::vector<double> x, loss, acc, speed;
    x.reserve(run.steps.size());
    for (const StepMetrics& m : run.steps) {
      x.push_back(x_of(m, x_axis_));
      loss.push_back(m.train_loss);
      acc.push_back(m.train_acc);
      speed.push_back(m.samples_per_second);
    }
    const QVector<double> keys = to_qvector(x);
    if (g.loss_raw) g.loss_raw->setData(keys, to_qvector(loss), true);
    g.loss->setData(keys, to_qvector(ema_smooth(loss, smoothing_)), true);
    g.train_acc->setData(keys, to_qvector(ema_smooth(acc, smoothing_)), true);
    g.speed->setData(keys, to_qvector(speed), true);
    QVector<double> eval_x, eval_acc;
    for (const EvalMetrics& e : run.evals) {
      eval_x.push_back(x_of(e, x_axis_, run.steps));
      eval_acc.push_back(e.test_accuracy);
    }
    g.test_acc->setData(eval_x, eval_acc, false);
  }
  if (auto_range_) {
    for (QCPAxisRect* rect : {loss_rect_, acc_rect_, speed_rect_}) {
      bool found = false;
      QCPRange y;
      for (QCPGraph* graph : rect->graphs()) {
        bool ok = false;
        const QCPRange r = graph->getValueRange(ok);
        if (ok) y = found ? QCPRange(std::min(y.lower, r.lower), std::max(y.upper, r.upper)) : r, found = true;
      }
      if (found) rect->axis(QCPAxis::atLeft)->setRange(y.lower - 0.05 * y.size(), y.upper + 0.05 * y.size() + 1e-9);
    }
    bool found = false;
    QCPRange x;
    for (int i = 0; i < plot_->graphCount(); ++i) {
      bool ok = false;
      const QCPRange r = plot_->graph(i)->getKeyRange(ok);
      if (ok) x = found ? QCPRange(std::min(x.lower, r.lower), std::max(x.upper, r.upper)) : r, found = true;
    }
    if (found) loss_rect_->axis(QCPAxis::atBottom)->setRange(x.lower, std::max(x.upper, x.lower + 1e-9));
  }
  // Drawing is the expensive part: a hidden page only keeps its data current and draws when shown.
  if (isVisible()) plot_->replot(QCustomPlot::rpQueuedReplot);
}

void CurvesView::showEvent(QShowEvent* event) {
  QWidget::showEvent(event);
  plot_->replot(QCustomPlot::rpQueuedReplot);
}

void CurvesView::requestRefresh() {
  if (!refresh_timer_->isActive()) refresh_timer_->start();
}

void CurvesView::fit() {
  auto_range_ = true;
  refresh();
}

void CurvesView::setXAxis(XAxis axis) {
  x_axis_ = axis;
  const int index = x_combo_->findData(static_cast<int>(axis));
  if (x_combo_->currentIndex() != index) x_combo_->setCurrentIndex(index);
  for (QCPAxisRect* rect : {loss_rect_, acc_rect_, speed_rect_})
    rect->axis(QCPAxis::atBottom)->setLabel(rect == speed_rect_ ? tr(x_axis_label(axis)) : QString());
  auto_range_ = true;
  refresh();
}

void CurvesView::setSmoothing(double weight) {
  smoothing_ = weight;
  const int v = static_cast<int>(std::lround(weight * 100));
  if (smoothing_slider_->value() != v) smoothing_slider_->setValue(v);
  smoothing_label_->setText(QString::number(weight, 'f', 2));
  refresh();
}

bool CurvesView::savePng(const QString& path) { return plot_->savePng(path, 0, 0, 2.0); }
bool CurvesView::savePdf(const QString& path, const QString& title) {
  // The title on the page and in the document's metadata: a PDF read later says what it shows.
  const QString heading_text = title.isEmpty() ? tr("PipeScope curves") : title;
  plot_->plotLayout()->insertRow(0);
  auto* heading = new QCPTextElement(plot_, heading_text, QFont(font().family(), font().pointSize() + 2, QFont::Bold));
  plot_->plotLayout()->addElement(0, 0, heading);
  const bool ok = plot_->savePdf(path, 0, 0, QCP::epAllowCosmetic, QStringLiteral("PipeScope"), heading_text);
  plot_->plotLayout()->remove(heading);
  plot_->plotLayout()->simplify();
  plot_->replot();
  return ok;
}

void CurvesView::changeEvent(QEvent* event) {
  QWidget::changeEvent(event);
  if (event->type() == QEvent::PaletteChange || event->type() == QEvent::FontChange) restyle();
}

void CurvesView::restyle() {
  style_plot(plot_, palette(), font());
  if (isVisible()) plot_->replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace ps::ui
