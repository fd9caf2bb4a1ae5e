// Run controls: Start, Pause, Resume, Step (one op / one minibatch), Stop, Reset, a slow-motion
// slider, Save checkpoint and the period of automatic checkpoints. Buttons enable themselves from the
// run's status; the controller does the work.
#pragma once
#include <QWidget>
#include <chrono>

#include "engine/telemetry/events.h"

class QPushButton;
class QSlider;
class QSpinBox;
class QLabel;

namespace ps::ui {

// Slider position (0..100) -> delay before every op: 0 is full speed, then exponential up to 0.5 s.
std::chrono::microseconds slow_motion_delay(int slider_value);

class RunControls : public QWidget {
  Q_OBJECT
 public:
  static constexpr int kSliderMax = 100;
  explicit RunControls(QWidget* parent = nullptr);

  // `has_run`: a session exists (a finished one allows Start again, which runs a fresh session).
  void setStatus(RunStatus status, bool preparing = false);
  RunStatus status() const { return status_; }
  void setSlowMotion(int slider_value);
  std::chrono::microseconds opDelay() const;
  // Minutes between automatic checkpoints of the runs started from now on (0 = off).
  void setCheckpointEvery(int minutes);
  int checkpointEvery() const;

  QPushButton* startButton() const { return start_; }
  QPushButton* pauseButton() const { return pause_; }
  QPushButton* resumeButton() const { return resume_; }
  QPushButton* stepOpButton() const { return step_op_; }
  QPushButton* stepMinibatchButton() const { return step_minibatch_; }
  QPushButton* stopButton() const { return stop_; }
  QPushButton* resetButton() const { return reset_; }
  QPushButton* saveCheckpointButton() const { return save_checkpoint_; }
  QSpinBox* checkpointEveryBox() const { return checkpoint_every_; }

  // Narrower than its labels need (a 1280-pixel projector at zoom 1.5), the bar shows icons only (the
  // tooltips still name every button); it never forces the window wider than that.
  QSize minimumSizeHint() const override;
  bool isCompact() const { return compact_; }

 Q_SIGNALS:
  void startRequested();
  void pauseRequested();
  void resumeRequested();
  void stepOpRequested();
  void stepMinibatchRequested();
  void stopRequested();
  void resetRequested();
  void opDelayChanged(std::chrono::microseconds delay);
  void saveCheckpointRequested();
  void checkpointEveryChanged(int minutes);

 protected:
  void changeEvent(QEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;

 private:
  void fixWidths();
  void applyCompact(bool compact);  // texts and labels off (on), then the widths
  void measure();                   // full_width_ and compact_width_ at the current font
  void setButtonText(QPushButton* b, const QString& text);
  bool compact_ = false;
  int full_width_ = 0, compact_width_ = 0;
  QLabel *slow_title_ = nullptr, *every_label_ = nullptr;
  RunStatus status_ = RunStatus::Idle;
  QPushButton *start_ = nullptr, *pause_ = nullptr, *resume_ = nullptr, *step_op_ = nullptr, *step_minibatch_ = nullptr,
              *stop_ = nullptr, *reset_ = nullptr, *save_checkpoint_ = nullptr;
  QSpinBox* checkpoint_every_ = nullptr;
  QSlider* slow_ = nullptr;
  QLabel* slow_label_ = nullptr;
};

}  // namespace ps::ui
