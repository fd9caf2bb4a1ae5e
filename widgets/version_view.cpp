#include "widgets/version_view.h"

#include <QHeaderView>
#include <QLabel>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>
#include <cmath>
#include <limits>
#include "widgets/qcp.h"

#include "widgets/colors.h"
#include "widgets/format.h"
#include "widgets/in_flight_model.h"
#include "widgets/plot_style.h"

namespace ps::ui {
namespace {

constexpr int kGraphsPerStage = VersionView::kSeriesPerStage;

QVector<double> to_qvector(const std::vector<double>& v) { return QVector<double>(v.begin(), v.end()); }

QWidget* titled(const QString& title, QWidget* body, QWidget* parent) {
  auto* box = new QWidget(parent);
  auto* layout = new QVBoxLayout(box);
  layout->setContentsMargins(0, 0, 0, 0);
  auto* label = new QLabel(QStringLiteral("<b>%1</b>").arg(title), box);
  layout->addWidget(label);
  layout->addWidget(body, 1);
  return box;
}

}  // namespace

VersionView::VersionView(QWidget* parent)
    : QWidget(parent),
      series_plot_(new QCustomPlot(this)),
      heatmap_plot_(new QCustomPlot(this)),
      in_flight_(new InFlightModel(this)),
      in_flight_table_(new QTableView(this)),
      weight_memory_(new QLabel(this)) {
  // Staleness on top, divergence (left axis) and prediction gain (right axis) below; one time axis.
  series_plot_->setAutoAddPlottableToLegend(false);
  staleness_rect_ = series_plot_->axisRect();
  divergence_rect_ = new QCPAxisRect(series_plot_);
  series_plot_->plotLayout()->addElement(1, 0, divergence_rect_);
  auto* margins = new QCPMarginGroup(series_plot_);
  for (QCPAxisRect* rect : {staleness_rect_, divergence_rect_}) {
    rect->setMarginGroup(QCP::msLeft | QCP::msRight, margins);
    rect->setRangeDrag(Qt::Horizontal);
    rect->setRangeZoom(Qt::Horizontal);
  }
  connect(staleness_rect_->axis(QCPAxis::atBottom), qOverload<const QCPRange&>(&QCPAxis::rangeChanged),
          divergence_rect_->axis(QCPAxis::atBottom), qOverload<const QCPRange&>(&QCPAxis::setRange));
  staleness_rect_->axis(QCPAxis::atLeft)->setLabel(tr("staleness (versions)"));
  staleness_rect_->axis(QCPAxis::atLeft)->ticker()->setTickStepStrategy(QCPAxisTicker::tssReadability);
  divergence_rect_->axis(QCPAxis::atLeft)->setLabel(tr("divergence ‖W−W*‖/‖W*‖"));
  divergence_rect_->axis(QCPAxis::atLeft)->ticker()->setTickStepStrategy(QCPAxisTicker::tssReadability);
  divergence_rect_->axis(QCPAxis::atRight)->setLabel(tr("prediction gain (dotted)"));
  divergence_rect_->axis(QCPAxis::atRight)->setVisible(true);
  divergence_rect_->axis(QCPAxis::atBottom)->setLabel(tr("run time (s)"));
  no_divergence_note_ = new QCPItemText(series_plot_);
  no_divergence_note_->setClipAxisRect(divergence_rect_);
  no_divergence_note_->position->setAxisRect(divergence_rect_);
  no_divergence_note_->position->setType(QCPItemPosition::ptAxisRectRatio);
  no_divergence_note_->position->setCoords(0.5, 0.5);
  no_divergence_note_->setText(tr("No divergence measured yet: it is known once the target version exists"));
  series_plot_->legend->setVisible(true);
  series_plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  connect(series_plot_, &QCustomPlot::mouseDoubleClick, this, [this] {
    series_plot_->rescaleAxes();
    series_plot_->replot(QCustomPlot::rpQueuedReplot);
  });

  // Heatmap: stage rows (stage 0 on top, as in the timeline) against time bins.
  heatmap_ = new QCPColorMap(heatmap_plot_->xAxis, heatmap_plot_->yAxis);
  auto* scale = new QCPColorScale(heatmap_plot_);
  heatmap_plot_->plotLayout()->addElement(0, 1, scale);
  heatmap_->setColorScale(scale);
  QCPColorGradient gradient(QCPColorGradient::gpThermal);
  gradient.setNanHandling(QCPColorGradient::nhTransparent);
  heatmap_->setGradient(gradient);
  heatmap_->setInterpolate(false);
  heatmap_plot_->yAxis->setRangeReversed(true);
  heatmap_plot_->yAxis->setLabel(tr("stage"));
  heatmap_plot_->xAxis->setLabel(tr("run time (s)"));
  auto ticker = QSharedPointer<QCPAxisTickerFixed>::create();
  ticker->setTickStep(1.0);
  heatmap_plot_->yAxis->setTicker(ticker);
  no_heatmap_note_ = new QCPItemText(heatmap_plot_);
  no_heatmap_note_->position->setType(QCPItemPosition::ptAxisRectRatio);
  no_heatmap_note_->position->setCoords(0.5, 0.5);
  no_heatmap_note_->setText(tr("No divergence measured yet"));
  auto* heat_margins = new QCPMarginGroup(heatmap_plot_);
  heatmap_plot_->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, heat_margins);
  scale->setMarginGroup(QCP::msBottom | QCP::msTop, heat_margins);

  in_flight_table_->setModel(in_flight_);
  in_flight_table_->verticalHeader()->hide();
  in_flight_table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  in_flight_table_->setAlternatingRowColors(true);
  in_flight_table_->setSelectionMode(QAbstractItemView::NoSelection);

  auto* right = new QSplitter(Qt::Vertical, this);
  right->addWidget(titled(tr("Mean divergence by stage and time"), heatmap_plot_, right));
  auto* held = new QWidget(right);
  auto* held_layout = new QVBoxLayout(held);
  held_layout->setContentsMargins(0, 0, 0, 0);
  weight_memory_->setObjectName(QStringLiteral("weightMemory"));
  weight_memory_->setWordWrap(true);
  weight_memory_->setToolTip(tr("Weight-sized copies each stage holds after its latest op (the live weights "
                                "included), with their memory; the peak in brackets. Stashing keeps one copy per "
                                "minibatch in flight."));
  held_layout->addWidget(weight_memory_);
  held_layout->addWidget(in_flight_table_, 1);
  right->addWidget(titled(tr("Weights held by stages and in-flight minibatches"), held, right));
  heatmap_plot_->setMinimumHeight(fontMetrics().height() * 10);
  right->setStretchFactor(0, 3);
  right->setStretchFactor(1, 2);
  auto* split = new QSplitter(Qt::Horizontal, this);
  split->addWidget(titled(tr("Staleness, divergence and prediction gain"), series_plot_, split));
  split->addWidget(right);
  split->setStretchFactor(0, 1);
  split->setStretchFactor(1, 1);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addWidget(split);
  restyle();
}

void VersionView::appendBatch(const TelemetryBatch& batch) {
  if (batch.ops.empty()) return;
  history_.append(batch);
  refresh();
}

void VersionView::clear() {
  history_.clear();
  dirty_ = true;
  refresh();
}

void VersionView::showEvent(QShowEvent* event) {
  QWidget::showEvent(event);
  if (dirty_) return refresh();
  series_plot_->replot(QCustomPlot::rpQueuedReplot);
  heatmap_plot_->replot(QCustomPlot::rpQueuedReplot);
}

void VersionView::rebuildGraphs() {
  series_plot_->clearGraphs();
  series_plot_->legend->clearItems();
  auto* x_top = staleness_rect_->axis(QCPAxis::atBottom);
  auto* x_bottom = divergence_rect_->axis(QCPAxis::atBottom);
  for (int k = 0; k < history_.stageCount(); ++k) {
    const QColor c = stage_color(k);
    // F: a solid step line. B: hollow circles on top of it, so equal values stay visible, never hidden.
    auto* f = series_plot_->addGraph(x_top, staleness_rect_->axis(QCPAxis::atLeft));
    f->setPen(QPen(c, 2));
    f->setLineStyle(QCPGraph::lsStepLeft);
    f->setName(tr("stage %1").arg(k));
    f->addToLegend();
    auto* b = series_plot_->addGraph(x_top, staleness_rect_->axis(QCPAxis::atLeft));
    b->setPen(QPen(c, 1.5));
    b->setLineStyle(QCPGraph::lsNone);
    b->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(c.darker(130), 1.5), Qt::NoBrush, 7));
    // basis(B) - basis(F): triangles on a dash-dot line ('latest' only: 0 elsewhere, then hidden).
    auto* inc = series_plot_->addGraph(x_top, staleness_rect_->axis(QCPAxis::atLeft));
    inc->setPen(QPen(c, 1.2, Qt::DashDotLine));
    inc->setLineStyle(QCPGraph::lsStepLeft);
    inc->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssTriangle, QPen(c, 1.2), Qt::NoBrush, 6));
    auto* df = series_plot_->addGraph(x_bottom, divergence_rect_->axis(QCPAxis::atLeft));
    df->setPen(QPen(c, 1.5));
    df->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, 4));
    df->setAdaptiveSampling(true);
    auto* db = series_plot_->addGraph(x_bottom, divergence_rect_->axis(QCPAxis::atLeft));
    db->setPen(QPen(c.darker(130), 1.5));
    db->setLineStyle(QCPGraph::lsNone);
    db->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCross, QPen(c.darker(130), 1.5), Qt::NoBrush, 7));
    auto* g = series_plot_->addGraph(x_bottom, divergence_rect_->axis(QCPAxis::atRight));
    g->setPen(QPen(c, 1.5, Qt::DotLine));
  }
  graphs_for_stages_ = history_.stageCount();
}

QCPGraph* VersionView::graph(int stage, Series series) const {
  const int i = stage * kGraphsPerStage + static_cast<int>(series);
  return i >= 0 && i < series_plot_->graphCount() ? series_plot_->graph(i) : nullptr;
}

QString VersionView::weightMemoryText() const {
  if (!history_.hasWeightMemory()) return {};
  QStringList parts;
  for (int k = 0; k < history_.stageCount(); ++k) {
    const auto m = history_.weightMemory(k);
    parts << tr("stage %1: <b>%2</b> (peak %3) · %4").arg(k).arg(m.copies).arg(m.peak_copies).arg(format_bytes(m.bytes));
  }
  return tr("Weight copies held now: %1").arg(parts.join(QStringLiteral(" &nbsp; ")));
}

void VersionView::refresh() {
  if (!isVisible()) {  // a hidden page catches up when shown
    dirty_ = true;
    return;
  }
  dirty_ = false;
  if (graphs_for_stages_ != history_.stageCount()) rebuildGraphs();
  for (int k = 0; k < history_.stageCount(); ++k) {
    const DecimatingSeries* series[kGraphsPerStage] = {
        &history_.staleness(k, OpKind::Forward), &history_.staleness(k, OpKind::Backward), &history_.inconsistency(k),
        &history_.divergence(k, OpKind::Forward), &history_.divergence(k, OpKind::Backward), &history_.predictionGain(k)};
    for (int i = 0; i < kGraphsPerStage; ++i)
      series_plot_->graph(k * kGraphsPerStage + i)->setData(to_qvector(series[i]->t()), to_qvector(series[i]->v()), true);
    graph(k, Inconsistency)->setVisible(history_.hasInconsistency());
  }
  if (history_.hasInconsistency())
    staleness_rect_->axis(QCPAxis::atLeft)->setLabel(tr("versions: ─ F staleness · ○ B staleness\n△ inconsistency basis(B)−basis(F)"));
  else
    staleness_rect_->axis(QCPAxis::atLeft)->setLabel(tr("staleness (versions)\n─ forward · ○ backward"));
  divergence_rect_->axis(QCPAxis::atLeft)->setLabel(tr("divergence ‖W−W*‖/‖W*‖\n● forward · × backward"));
  weight_memory_->setText(weightMemoryText());
  weight_memory_->setVisible(history_.hasWeightMemory());
  no_divergence_note_->setVisible(!history_.hasDivergence());
  no_heatmap_note_->setVisible(!history_.hasDivergence());
  divergence_rect_->axis(QCPAxis::atRight)->setVisible(history_.hasPredictionGain());
  series_plot_->rescaleAxes();
  auto* y = staleness_rect_->axis(QCPAxis::atLeft);
  y->setRange(-0.5, std::max(1.0, y->range().upper) + 0.5);

  const int stages = std::max(1, history_.stageCount());
  const int bins = history_.heatmapBins();
  const double w = history_.heatmapBinSeconds();
  heatmap_->data()->setSize(bins, stages);
  heatmap_->data()->setRange(QCPRange(w / 2, bins * w - w / 2), QCPRange(0, stages - 1));
  for (int k = 0; k < stages; ++k)
    for (int b = 0; b < bins; ++b) heatmap_->data()->setCell(b, k, history_.heatmapValue(k, b));
  // The colour scale follows the data (cells with nothing measured are NaN and stay transparent).
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (int k = 0; k < stages; ++k)
    for (int b = 0; b < bins; ++b) {
      const double v = history_.heatmapValue(k, b);
      if (!std::isnan(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    }
  if (lo <= hi) {
    if (hi - lo < 1e-12) hi = lo + std::max(1e-6, std::abs(lo) * 0.1);  // one value: a range around it
    heatmap_->setDataRange(QCPRange(lo, hi));
  }
  heatmap_plot_->xAxis->setRange(0, std::max(w, history_.latestTime()));
  heatmap_plot_->yAxis->setRange(-0.5, stages - 0.5);

  in_flight_->setEntries(history_.inFlight(), history_.latestTime());
  series_plot_->replot(QCustomPlot::rpQueuedReplot);
  heatmap_plot_->replot(QCustomPlot::rpQueuedReplot);
}

void VersionView::changeEvent(QEvent* event) {
  QWidget::changeEvent(event);
  if (event->type() == QEvent::PaletteChange || event->type() == QEvent::FontChange) restyle();
}

void VersionView::restyle() {
  style_plot(series_plot_, palette(), font());
  style_plot(heatmap_plot_, palette(), font());
  no_divergence_note_->setColor(palette().color(QPalette::PlaceholderText));
  no_divergence_note_->setFont(font());
  no_heatmap_note_->setColor(palette().color(QPalette::PlaceholderText));
  no_heatmap_note_->setFont(font());
  if (isVisible()) {
    series_plot_->replot(QCustomPlot::rpQueuedReplot);
    heatmap_plot_->replot(QCustomPlot::rpQueuedReplot);
  }
}

}  // namespace ps::ui
