// The dashboard's checkpoint pieces: the banner a diverged run leaves above the pages (with the offer to
// resume from the last checkpoint at a lower learning rate) and the dialog that sets up a resume.
#pragma once
#include <QDialog>
#include <QFrame>
#include <QString>
#include <cstdint>
#include <optional>

#include "engine/config/run_config.h"

class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;

namespace ps::gui {

// A default file name for a checkpoint: "<preset>-step<N>.ckpt" (characters unfit for file names replaced).
QString default_checkpoint_name(const RunConfig& config, std::int64_t step);
// The learning rate offered after a divergence: a tenth of the run's.
double lowered_learning_rate(double lr);
// Shortest text that reads back to the same number ("0.005", "1e+29").
QString format_learning_rate(double lr);

// Shown when a run diverges: the error (stage, step, minibatch) in red and what can be done about it.
class DivergedBanner : public QFrame {
  Q_OBJECT
 public:
  explicit DivergedBanner(QWidget* parent = nullptr);

  // `checkpoint`: the run's last checkpoint ("" = none was saved); `lr`: the run's learning rate.
  void showDiverged(const QString& run_name, const QString& error, const QString& checkpoint, std::int64_t checkpoint_step,
                    double lr);
  QString text() const;
  QString checkpointPath() const { return checkpoint_; }
  double runLearningRate() const { return lr_; }
  QPushButton* resumeButton() const { return resume_; }
  QPushButton* enableCheckpointsButton() const { return enable_; }

 Q_SIGNALS:
  void resumeRequested();              // resume from checkpointPath() at a lower learning rate
  void enableCheckpointsRequested();   // turn periodic checkpoints on

 protected:
  void changeEvent(QEvent* event) override;

 private:
  void restyle();
  QLabel* title_;
  QLabel* message_;
  QLabel* advice_;
  QPushButton* resume_;
  QPushButton* enable_;
  QString checkpoint_;
  double lr_ = 0;
  bool styled_ = false, dark_ = false;
};

// Resume a checkpoint: the file, then the learning rate and the run's total length (the two things a
// resumed run may change). Non-blocking: open() it and read lr()/steps() on accepted().
// "Run until step" starts at the run's planned end (`planned_steps`: its steps, or its epochs' worth),
// never at or below the checkpoint's own step; a run saved at its end offers as many minibatches again.
class ResumeDialog : public QDialog {
  Q_OBJECT
 public:
  ResumeDialog(const QString& path, const RunConfig& config, double lr, std::int64_t checkpoint_step,
               std::int64_t planned_steps, QWidget* parent = nullptr);

  QString path() const { return path_; }
  std::optional<double> lr() const;  // nullopt when the text is not a positive number
  std::int64_t steps() const;
  QLineEdit* lrEdit() const { return lr_; }
  QSpinBox* stepsBox() const { return steps_; }
  QPushButton* resumeButton() const { return ok_; }

 private:
  QString path_;
  QLineEdit* lr_;
  QSpinBox* steps_;
  QLabel* error_;
  QPushButton* ok_;
};

}  // namespace ps::gui
