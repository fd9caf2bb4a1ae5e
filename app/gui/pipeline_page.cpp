#include "app/gui/pipeline_page.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QToolButton>
#include <QVBoxLayout>

#include "widgets/colors.h"
#include "widgets/format.h"
#include "widgets/timeline_view.h"

namespace ps::gui {
namespace {

QString swatch(const QColor& c) {
  return QStringLiteral("<span style='background:%1'>&nbsp;&nbsp;&nbsp;&nbsp;</span>").arg(c.name());
}

QString legend_html() {
  QString forward, backward;
  for (int mb = 0; mb < 4; ++mb) {
    forward += swatch(ui::minibatch_color(mb, OpKind::Forward));
    backward += swatch(ui::minibatch_color(mb, OpKind::Backward));
  }
  return QObject::tr("%1 forward &nbsp; %2 backward &nbsp; (hue = minibatch) &nbsp; ▮ update &nbsp; gaps = bubbles "
                     "&nbsp; thin lanes: activations ↓ / gradients ↑")
      .arg(forward, backward);
}

}  // namespace

PipelinePage::PipelinePage(QWidget* parent)
    : QWidget(parent),
      timeline_(new ui::TimelineView(this)),
      follow_(new QToolButton(this)),
      show_prediction_(new QToolButton(this)),
      figures_(new QLabel(this)) {
  follow_->setText(tr("Follow live"));
  follow_->setCheckable(true);
  follow_->setChecked(true);
  follow_->setToolTip(tr("Keep the newest ops in view (L)"));
  connect(follow_, &QToolButton::toggled, timeline_, &ui::TimelineView::setFollowLive);
  connect(timeline_, &ui::TimelineView::followLiveChanged, follow_, &QToolButton::setChecked);
  // On by default: the ghost rows appear as soon as a prediction exists (a measured profile).
  show_prediction_->setText(tr("Show prediction"));
  show_prediction_->setObjectName(QStringLiteral("showPrediction"));
  show_prediction_->setCheckable(true);
  show_prediction_->setChecked(timeline_->showGhost());
  show_prediction_->setEnabled(false);
  connect(show_prediction_, &QToolButton::toggled, timeline_, &ui::TimelineView::setShowGhost);
  connect(show_prediction_, &QToolButton::toggled, this, [this] { updateFigures(); });
  connect(timeline_, &ui::TimelineView::showGhostChanged, show_prediction_, &QToolButton::setChecked);
  auto tool = [this](const QString& text, const QString& tip, auto slot) {
    auto* b = new QToolButton(this);
    b->setText(text);
    b->setToolTip(tip);
    connect(b, &QToolButton::clicked, timeline_, slot);
    return b;
  };
  auto* legend = new QLabel(legend_html(), this);
  legend->setObjectName(QStringLiteral("hint"));
  figures_->setObjectName(QStringLiteral("hint"));

  auto* bar = new QHBoxLayout;
  bar->addWidget(follow_);
  bar->addWidget(tool(tr("Fit"), tr("Show the whole run (F)"), &ui::TimelineView::fit));
  bar->addWidget(tool(tr("+"), tr("Zoom in (mouse wheel)"), &ui::TimelineView::zoomIn));
  bar->addWidget(tool(tr("−"), tr("Zoom out (mouse wheel)"), &ui::TimelineView::zoomOut));
  bar->addWidget(show_prediction_);
  bar->addSpacing(12);
  bar->addWidget(figures_, 1);  // the run's figures up top; the colour key goes with the hints below
  auto* hint = new QLabel(tr("Drag to pan · wheel to zoom · hover a box for its versions · click a box to "
                             "highlight its minibatch on every stage"),
                          this);
  hint->setObjectName(QStringLiteral("hint"));
  hint->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
  auto* keys = new QHBoxLayout;
  keys->addWidget(legend);
  keys->addSpacing(16);
  keys->addWidget(hint, 1);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addLayout(bar);
  layout->addWidget(timeline_, 1);
  layout->addLayout(keys);
}

void PipelinePage::showSummary(const RunSummary& s) {
  summary_ = s;
  updateFigures();
}

void PipelinePage::setPrediction(const std::vector<OpEvent>& ops, const PredictedFigures& figures) {
  timeline_->setGhostOps(ops);
  predicted_ = figures;
  show_prediction_->setEnabled(true);
  show_prediction_->setToolTip(tr("Thin rows under the stages: the simulator's prediction for this schedule, partition "
                                  "and microbatches, unit times %1%2. Where a measured box ends later than its ghost, "
                                  "the run is slower than predicted.")
                                   .arg(figures.source)
                                   .arg(figures.capped ? tr(" (the first %1 ops)").arg(ops.size()) : QString()));
  updateFigures();
}

void PipelinePage::clearPrediction(const QString& why) {
  timeline_->clearGhost();
  predicted_.reset();
  show_prediction_->setEnabled(false);
  show_prediction_->setToolTip(why);
  updateFigures();
}

// "bubble: ideal 33% · measured 41% · predicted 35% · 820 samples/s (predicted 900)"
void PipelinePage::updateFigures() {
  const bool predicted = predicted_ && timeline_->showGhost();
  QStringList parts;
  if (summary_) {
    QString bubble = tr("bubble: ideal %1 · measured %2").arg(ui::format_percent(summary_->bubble_fraction_ideal),
                                                             ui::format_percent(summary_->bubble_fraction_measured));
    if (predicted) bubble += tr(" · predicted %1").arg(ui::format_percent(predicted_->bubble_fraction));
    parts << bubble;
    if (predicted && summary_->samples_per_second > 0)
      parts << tr("%1 samples/s (predicted %2)").arg(summary_->samples_per_second, 0, 'f', 0).arg(predicted_->samples_per_second, 0, 'f', 0);
    if (timeline_->model().droppedOps() > 0)
      parts << tr("%1 oldest events dropped from view").arg(ui::format_count(double(timeline_->model().droppedOps())));
  } else if (predicted) {
    parts << tr("predicted: bubble %1 · %2 samples/s").arg(ui::format_percent(predicted_->bubble_fraction))
                 .arg(predicted_->samples_per_second, 0, 'f', 0);
  }
  figures_->setText(parts.join(QStringLiteral(" · ")));
}

QString PipelinePage::figuresText() const { return figures_->text(); }

void PipelinePage::clear() {
  timeline_->clear();  // the ghost too: the owner predicts again for what comes next
  summary_.reset();
  predicted_.reset();
  updateFigures();
}

}  // namespace ps::gui
