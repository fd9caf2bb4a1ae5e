#include "app/gui/pipeline_page.h"

#include <set>

#include <QComboBox>
#include <QHBoxLayout>
#include <QThread>
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
  auto key = [](const QColor& c, const QString& name) { return swatch(c) + QStringLiteral("&nbsp;") + name; };
  return QObject::tr("%1 &nbsp; %2 &nbsp; %3 &nbsp; %4 &nbsp; %5 &nbsp; ▮ update &nbsp; (shade = minibatch) &nbsp; "
                     "gaps = bubbles &nbsp; thin lanes: activations ↓ / gradients ↑")
      .arg(key(ui::kind_color(OpKind::Forward), QObject::tr("forward")), key(ui::kind_color(OpKind::Backward), QObject::tr("backward")),
           key(ui::kind_color(OpKind::InputGrad), QObject::tr("input grad (I)")),
           key(ui::kind_color(OpKind::WeightGrad), QObject::tr("weight grad (W)")), key(ui::overlap_color(0), QObject::tr("overlapped pair")));
}

}  // namespace

PipelinePage::PipelinePage(QWidget* parent)
    : QWidget(parent),
      timeline_(new ui::TimelineView(this)),
      clock_(new QComboBox(this)),
      follow_(new QToolButton(this)),
      show_prediction_(new QToolButton(this)),
      figures_(new QLabel(this)) {
  clock_->setObjectName(QStringLiteral("timelineClock"));
  clock_->addItem(tr("Wall time"), static_cast<int>(ui::TimelineClock::Wall));
  clock_->addItem(tr("Compute time"), static_cast<int>(ui::TimelineClock::Compute));
  clock_->addItem(tr("Op slots"), static_cast<int>(ui::TimelineClock::Slots));
  clock_->setToolTip(tr("The x axis. Wall time: when each op ran. Compute time: the measured op durations laid out "
                        "by the schedule's dependencies, with pauses, slow-motion delays and waiting removed. Op slots: "
                        "every op one unit wide, like the schedule figures of the papers. Stepping and slow motion "
                        "switch to op slots."));
  connect(clock_, qOverload<int>(&QComboBox::activated), this, [this](int index) {
    clock_switched_automatically_ = false;  // the user's choice stays
    timeline_->setClock(static_cast<ui::TimelineClock>(clock_->itemData(index).toInt()));
  });
  connect(timeline_, &ui::TimelineView::clockChanged, this, [this](ui::TimelineClock c) {
    clock_->setCurrentIndex(clock_->findData(static_cast<int>(c)));
  });
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
  figures_->setWordWrap(true);  // large text on a projector: the figures wrap, never clip

  auto* bar = new QHBoxLayout;
  bar->addWidget(clock_);
  bar->addWidget(follow_);
  bar->addWidget(tool(tr("Fit"), tr("Show the whole run (F)"), &ui::TimelineView::fit));
  bar->addWidget(tool(tr("+"), tr("Zoom in (mouse wheel)"), &ui::TimelineView::zoomIn));
  bar->addWidget(tool(tr("−"), tr("Zoom out (mouse wheel)"), &ui::TimelineView::zoomOut));
  bar->addWidget(show_prediction_);
  bar->addSpacing(12);
  bar->addWidget(figures_, 1);  // the run's figures up top; the colour key goes with the hints below
  auto* hint = new QLabel(tr("Drag to pan · wheel to zoom · hover a box for its versions, a stage's name for its memory "
                             "peaks · click a box to highlight its minibatch and draw arrows to the update that made its weights and to its partner passes (Esc "
                             "clears them) · labels: minibatch(.microbatch)(@chunk) · vN: "
                             "the weight version read"),
                          this);
  hint->setObjectName(QStringLiteral("hint"));
  hint->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
  legend->setWordWrap(true);  // large text on a projector: wrap, never widen the window
  hint->setWordWrap(true);
  auto* keys = new QHBoxLayout;
  keys->addWidget(legend, 3);
  keys->addSpacing(16);
  keys->addWidget(hint, 2);
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

void PipelinePage::setPacing(Pacing pacing) {
  if (pacing == pacing_) return;
  pacing_ = pacing;
  timeline_->setMarkLatest(pacing == Pacing::Stepping);
  if (pacing != Pacing::FullSpeed) {
    if (timeline_->clock() == ui::TimelineClock::Wall) {
      timeline_->setClock(ui::TimelineClock::Slots);
      clock_switched_automatically_ = true;
    }
  } else if (clock_switched_automatically_) {
    clock_switched_automatically_ = false;
    timeline_->setClock(ui::TimelineClock::Wall);
  }
  updateFigures();
}

// Why the wall clock's bubble is not the schedule's: the stages share fewer cores, slow motion, pauses.
QString PipelinePage::bubbleReason() const {
  QStringList why;
  if (summary_) {
    // Workers (devices), not chunks: a device's worker runs all its chunks. GPU workers need no core.
    std::set<std::string> gpus;
    for (const StageSummary& s : summary_->per_stage)
      if (!s.device.empty() && s.device.rfind("cpu", 0) != 0) gpus.insert(s.device);
    const int cpu_stages = summary_->stages - static_cast<int>(gpus.size());
    const int cores = cores_ > 0 ? cores_ : QThread::idealThreadCount();
    if (cpu_stages > cores) why << tr("%1 stages share %2 cores").arg(cpu_stages).arg(cores);
  }
  if (pacing_ == Pacing::SlowMotion) why << tr("slow motion waits before each op");
  if (pacing_ == Pacing::Stepping) why << tr("stepping pauses between ops");
  return why.join(QStringLiteral(", "));
}

// "bubble: ideal 0% · schedule 2% · wall 79% (4 stages share 2 cores) · predicted 35% · 820 samples/s"
void PipelinePage::updateFigures() {
  const bool predicted = predicted_ && timeline_->showGhost();
  QStringList parts;
  if (summary_) {
    QString bubble = tr("bubble: ideal %1").arg(ui::format_percent(summary_->bubble_fraction_ideal));
    if (const auto schedule = timeline_->model().scheduleBubble()) bubble += tr(" · schedule %1").arg(ui::format_percent(*schedule));
    bubble += tr(" · wall %1").arg(ui::format_percent(summary_->bubble_fraction_measured));
    const QString reason = bubbleReason();
    if (!reason.isEmpty()) bubble += QStringLiteral(" (%1)").arg(reason);
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
  figures_->setToolTip(tr("ideal: the schedule with equal op times · schedule: this run's measured op times replayed "
                          "with one core per stage (the compute-time clock) · wall: the idle time the run really had, "
                          "including what this machine adds"));
}

QString PipelinePage::figuresText() const { return figures_->text(); }

void PipelinePage::clear() {
  timeline_->clear();  // the ghost too: the owner predicts again for what comes next
  summary_.reset();
  predicted_.reset();
  updateFigures();
}

}  // namespace ps::gui
