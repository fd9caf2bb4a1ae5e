#include "widgets/run_controls.h"

#include <QEvent>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSlider>
#include <QSpinBox>
#include <QStyle>
#include <cmath>

namespace ps::ui {

std::chrono::microseconds slow_motion_delay(int slider_value) {
  if (slider_value <= 0) return std::chrono::microseconds(0);
  const double fraction = std::min(slider_value, RunControls::kSliderMax) / double(RunControls::kSliderMax);
  // 50 µs at the first notch to 500 ms at the end: every notch multiplies the delay by the same factor.
  const double us = 50.0 * std::pow(1e4, (fraction * RunControls::kSliderMax - 1) / (RunControls::kSliderMax - 1));
  return std::chrono::microseconds(static_cast<std::int64_t>(std::llround(us)));
}

RunControls::RunControls(QWidget* parent) : QWidget(parent) {
  auto button = [this](const QString& text, QStyle::StandardPixmap icon, const QString& tip) {
    auto* b = new QPushButton(style()->standardIcon(icon), text, this);
    b->setProperty("fullText", text);
    b->setToolTip(tip);
    b->setFocusPolicy(Qt::NoFocus);  // Space belongs to the window's Start/Pause shortcut
    return b;
  };
  start_ = button(tr("Start"), QStyle::SP_MediaPlay, tr("Start a run with the current settings (Space)"));
  pause_ = button(tr("Pause"), QStyle::SP_MediaPause, tr("Workers stop before their next op (Space)"));
  resume_ = button(tr("Resume"), QStyle::SP_MediaPlay, tr("Continue the paused run (Space)"));
  step_op_ = button(tr("Step op"), QStyle::SP_MediaSeekForward, tr("While paused: run one op (S)"));
  step_minibatch_ = button(tr("Step minibatch"), QStyle::SP_MediaSkipForward,
                           tr("While paused: run the ops of one minibatch on every stage (Shift+S)"));
  stop_ = button(tr("Stop"), QStyle::SP_MediaStop, tr("End the run; its outputs are still written (Esc)"));
  reset_ = button(tr("Reset"), QStyle::SP_BrowserReload, tr("Stop, clear the views and prepare a fresh run"));
  save_checkpoint_ = button(tr("Save checkpoint…"), QStyle::SP_DialogSaveButton,
                            tr("Save the whole state of the run to a file, to resume it later (Ctrl+Shift+S). "
                               "A running pipeline is saved at its next op boundary and goes on."));
  checkpoint_every_ = new QSpinBox(this);
  checkpoint_every_->setRange(0, 24 * 60);
  checkpoint_every_->setSpecialValueText(tr("off"));
  checkpoint_every_->setSuffix(tr(" min"));
  checkpoint_every_->setFocusPolicy(Qt::ClickFocus);
  checkpoint_every_->setToolTip(tr("Save a checkpoint of the runs started from now on every N minutes and when they "
                                   "end, so that a diverged or interrupted run can be resumed (0 = off)"));
  slow_ = new QSlider(Qt::Horizontal, this);
  slow_->setRange(0, kSliderMax);
  slow_->setMinimumWidth(140);
  slow_->setMaximumWidth(260);
  slow_->setToolTip(tr("Slow motion: a pause before every op, so a pipeline can be watched"));
  slow_label_ = new QLabel(this);
  slow_label_->setAlignment(Qt::AlignRight | Qt::AlignVCenter);

  auto* layout = new QHBoxLayout(this);
  layout->setSizeConstraint(QLayout::SetNoConstraint);  // the minimum is minimumSizeHint's (icons only)
  layout->setContentsMargins(2, 2, 2, 2);
  for (QPushButton* b : {start_, pause_, resume_, step_op_, step_minibatch_, stop_, reset_}) layout->addWidget(b);
  layout->addSpacing(12);
  slow_title_ = new QLabel(tr("Slow motion"), this);
  layout->addWidget(slow_title_);
  layout->addWidget(slow_);
  layout->addWidget(slow_label_);
  layout->addSpacing(12);
  layout->addWidget(save_checkpoint_);
  every_label_ = new QLabel(tr("Auto-checkpoint"), this);
  every_label_->setToolTip(checkpoint_every_->toolTip());
  layout->addWidget(every_label_);
  layout->addWidget(checkpoint_every_);
  layout->addStretch(1);

  connect(start_, &QPushButton::clicked, this, &RunControls::startRequested);
  connect(pause_, &QPushButton::clicked, this, &RunControls::pauseRequested);
  connect(resume_, &QPushButton::clicked, this, &RunControls::resumeRequested);
  connect(step_op_, &QPushButton::clicked, this, &RunControls::stepOpRequested);
  connect(step_minibatch_, &QPushButton::clicked, this, &RunControls::stepMinibatchRequested);
  connect(stop_, &QPushButton::clicked, this, &RunControls::stopRequested);
  connect(reset_, &QPushButton::clicked, this, &RunControls::resetRequested);
  connect(save_checkpoint_, &QPushButton::clicked, this, &RunControls::saveCheckpointRequested);
  connect(checkpoint_every_, &QSpinBox::valueChanged, this, &RunControls::checkpointEveryChanged);
  connect(slow_, &QSlider::valueChanged, this, [this](int v) {
    const auto delay = slow_motion_delay(v);
    slow_label_->setText(v == 0 ? tr("full speed")
                                : delay.count() >= 1000 ? tr("%1 ms/op").arg(delay.count() / 1000.0, 0, 'f', 1)
                                                        : tr("%1 µs/op").arg(delay.count()));
    Q_EMIT opDelayChanged(delay);
  });
  slow_label_->setText(tr("full speed"));
  setStatus(RunStatus::Idle);
  measure();
}

void RunControls::setButtonText(QPushButton* b, const QString& text) {
  b->setProperty("fullText", text);
  b->setText(compact_ ? QString() : text);
}

void RunControls::applyCompact(bool compact) {
  compact_ = compact;
  for (QPushButton* b : {start_, pause_, resume_, step_op_, step_minibatch_, stop_, reset_, save_checkpoint_})
    b->setText(compact ? QString() : b->property("fullText").toString());
  for (QLabel* l : {slow_title_, every_label_, slow_label_}) l->setVisible(!compact);
  fixWidths();
  layout()->invalidate();
}

void RunControls::measure() {
  if (!every_label_) return;  // a change event during construction
  const bool was = compact_;
  applyCompact(true);
  compact_width_ = layout()->minimumSize().width();
  applyCompact(false);
  full_width_ = layout()->minimumSize().width();
  applyCompact(was);
  updateGeometry();
}

QSize RunControls::minimumSizeHint() const {
  return {compact_width_, QWidget::minimumSizeHint().height()};
}

void RunControls::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  const bool want = width() < full_width_;
  if (want != compact_) applyCompact(want);
}

void RunControls::fixWidths() {
  if (!slow_label_) return;  // a change event during construction
  // Nothing in the toolbar may change width under the mouse: Start, Pause and Resume share one slot
  // as wide as the widest of their texts, and the slow-motion figure is as wide as its widest value.
  int slot = 0;
  for (QPushButton* b : {start_, pause_, resume_}) {
    const QString text = b->text();
    for (const QString& t : {text, b == start_ && !compact_ ? tr("Preparing…") : text}) {
      b->setText(t);
      slot = std::max(slot, b->sizeHint().width());
    }
    b->setText(text);
  }
  for (QPushButton* b : {start_, pause_, resume_}) b->setFixedWidth(slot);
  const QFontMetrics fm = slow_label_->fontMetrics();
  int label = 0;
  for (const QString& t : {tr("full speed"), tr("%1 ms/op").arg(500.0, 0, 'f', 1), tr("%1 µs/op").arg(999)})
    label = std::max(label, fm.horizontalAdvance(t));
  slow_label_->setFixedWidth(label + 8);
}

void RunControls::changeEvent(QEvent* event) {
  QWidget::changeEvent(event);
  if (event->type() == QEvent::FontChange || event->type() == QEvent::StyleChange) measure();
}

void RunControls::setStatus(RunStatus status, bool preparing) {
  status_ = status;
  const bool running = status == RunStatus::Running, paused = status == RunStatus::Paused;
  const bool live = running || paused;
  // One of the three at a time, in the same slot.
  start_->setVisible(!live);
  start_->setEnabled(!preparing);
  setButtonText(start_, preparing ? tr("Preparing…") : tr("Start"));
  pause_->setVisible(running);
  pause_->setEnabled(running);
  resume_->setVisible(paused);
  step_op_->setEnabled(paused);
  step_minibatch_->setEnabled(paused);
  stop_->setEnabled(live);
  reset_->setEnabled(!preparing);
  // A failed or diverged run's state is not worth saving; a completed or stopped one can be continued.
  save_checkpoint_->setEnabled(!preparing && (live || status == RunStatus::Completed || status == RunStatus::Stopped));
}

void RunControls::setSlowMotion(int slider_value) { slow_->setValue(slider_value); }
std::chrono::microseconds RunControls::opDelay() const { return slow_motion_delay(slow_->value()); }
void RunControls::setCheckpointEvery(int minutes) { checkpoint_every_->setValue(minutes); }
int RunControls::checkpointEvery() const { return checkpoint_every_->value(); }

}  // namespace ps::ui
