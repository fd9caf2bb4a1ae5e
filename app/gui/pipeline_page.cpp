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
    : QWidget(parent), timeline_(new ui::TimelineView(this)), follow_(new QToolButton(this)), figures_(new QLabel(this)) {
  follow_->setText(tr("Follow live"));
  follow_->setCheckable(true);
  follow_->setChecked(true);
  follow_->setToolTip(tr("Keep the newest ops in view (L)"));
  connect(follow_, &QToolButton::toggled, timeline_, &ui::TimelineView::setFollowLive);
  connect(timeline_, &ui::TimelineView::followLiveChanged, follow_, &QToolButton::setChecked);
  auto tool = [this](const QString& text, const QString& tip, auto slot) {
    auto* b = new QToolButton(this);
    b->setText(text);
    b->setToolTip(tip);
    connect(b, &QToolButton::clicked, timeline_, slot);
    return b;
  };
  auto* legend = new QLabel(legend_html(), this);
  legend->setObjectName(QStringLiteral("hint"));
  legend->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);  // clipped, never widens the window
  legend->setMinimumWidth(80);
  figures_->setObjectName(QStringLiteral("hint"));

  auto* bar = new QHBoxLayout;
  bar->addWidget(follow_);
  bar->addWidget(tool(tr("Fit"), tr("Show the whole run (F)"), &ui::TimelineView::fit));
  bar->addWidget(tool(tr("+"), tr("Zoom in (mouse wheel)"), &ui::TimelineView::zoomIn));
  bar->addWidget(tool(tr("−"), tr("Zoom out (mouse wheel)"), &ui::TimelineView::zoomOut));
  bar->addSpacing(12);
  bar->addWidget(legend, 1);
  bar->addWidget(figures_);
  auto* hint = new QLabel(tr("Drag to pan · wheel to zoom · hover a box for its versions · click a box to "
                             "highlight its minibatch on every stage"),
                          this);
  hint->setObjectName(QStringLiteral("hint"));
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addLayout(bar);
  layout->addWidget(timeline_, 1);
  layout->addWidget(hint);
}

void PipelinePage::showSummary(const RunSummary& s) {
  QString text = tr("bubble: ideal %1 · measured %2").arg(ui::format_percent(s.bubble_fraction_ideal),
                                                          ui::format_percent(s.bubble_fraction_measured));
  if (timeline_->model().droppedOps() > 0)
    text += tr(" · %1 oldest events dropped from view").arg(ui::format_count(double(timeline_->model().droppedOps())));
  figures_->setText(text);
}

void PipelinePage::clear() {
  timeline_->clear();
  figures_->clear();
}

}  // namespace ps::gui
