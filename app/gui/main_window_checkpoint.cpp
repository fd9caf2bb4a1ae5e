// MainWindow's checkpoints: saving one (Save checkpoint…, the file dialog), resuming one (Resume from
// checkpoint…, the dialog with its learning rate and length, the lower learning rate a divergence offers).
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QStandardPaths>
#include <QStatusBar>
#include <algorithm>

#include "app/gui/checkpoint_ui.h"
#include "app/gui/main_window.h"
#include "app/gui/session_controller.h"
#include "engine/session/session.h"
#include "widgets/format.h"
#include "widgets/partition_editor.h"
#include "widgets/run_record.h"
#include "widgets/strategy_panel.h"

namespace ps::gui {

// The settings a checkpoint holds; on a file that cannot be read, an error dialog and nullopt.
std::optional<RunConfig> MainWindow::readCheckpointConfig(const QString& path) {
  try {
    return checkpoint_config(path.toStdString());
  } catch (const std::exception& e) {
    showError(tr("Cannot resume"), tr("%1 cannot be resumed.\n\n%2").arg(QDir::toNativeSeparators(path), QString::fromStdString(e.what())));
    return std::nullopt;
  }
}

void MainWindow::onCheckpointSaved(const QString& path, qint64 step) {
  checkpoint_message_ = tr("Checkpoint saved: %1 (step %2)").arg(QDir::toNativeSeparators(path)).arg(step);
  statusBar()->showMessage(checkpoint_message_, 10000);
}

bool MainWindow::saveCheckpointTo(const QString& path) {
  QString error;
  if (!controller_->saveCheckpoint(path, &error)) {
    showNotice(tr("Checkpoint not saved: %1").arg(error));
    return false;
  }
  checkpoint_dir_ = QFileInfo(path).absolutePath();
  if (controller_->phase() == SessionController::Phase::Running)
    statusBar()->showMessage(controller_->status() == RunStatus::Paused
                                 ? tr("Checkpoint requested: it is written at the next op boundary, once the run resumes")
                                 : tr("Saving a checkpoint at the next op boundary…"),
                             10000);
  return true;
}

void MainWindow::saveCheckpointDialog() {
  QString error;
  if (!controller_->canSaveCheckpoint()) {
    controller_->saveCheckpoint(QString(), &error);  // says why not
    showNotice(tr("Checkpoint not saved: %1").arg(error));
    return;
  }
  const auto run = controller_->currentRun();
  const RunConfig config = run ? run->config : currentConfig();
  const std::int64_t step = run ? run->summary.steps : 0;
  const QString dir = checkpoint_dir_.isEmpty() ? QStandardPaths::writableLocation(QStandardPaths::DocumentsLocation)
                                                : checkpoint_dir_;
  const QString path = QFileDialog::getSaveFileName(this, tr("Save checkpoint"),
                                                    QDir(dir).filePath(default_checkpoint_name(config, step)),
                                                    tr("PipeScope checkpoints (*.ckpt);;All files (*)"));
  if (!path.isEmpty()) saveCheckpointTo(path);
}

void MainWindow::resumeCheckpointDialog() {
  const QString dir = checkpoint_dir_.isEmpty() ? controller_->checkpointDir() : checkpoint_dir_;
  const QString path = QFileDialog::getOpenFileName(this, tr("Resume from checkpoint"), dir,
                                                    tr("PipeScope checkpoints (*.ckpt);;All files (*)"));
  if (path.isEmpty()) return;
  auto read = readCheckpointConfig(path);
  if (!read) return;
  RunConfig config = *read;
  checkpoint_dir_ = QFileInfo(path).absolutePath();
  showResumeDialog(path, config, config.optimizer.lr);
}

void MainWindow::offerLowerLearningRate(const QString& path, double lr) {
  auto read = readCheckpointConfig(path);
  if (!read) return;
  RunConfig config = *read;
  // The diverged run's length: it may have been extended beyond the checkpoint's.
  if (const auto run = controller_->currentRun()) config.steps = std::max(config.steps, run->config.steps);
  showResumeDialog(path, config, lowered_learning_rate(lr));
}

void MainWindow::showResumeDialog(const QString& path, const RunConfig& config, double lr) {
  CheckpointProgress progress;
  try {
    progress = checkpoint_progress(path.toStdString());
  } catch (const std::exception&) {  // read a moment ago by checkpoint_config: the resume itself will say
  }
  // A length given in steps (possibly extended past the checkpoint's, after a divergence) is the plan.
  const std::int64_t planned = config.steps > 0 ? std::max(config.steps, progress.planned_steps) : progress.planned_steps;
  auto* dialog = new ResumeDialog(path, config, lr, progress.step, planned, this);
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  connect(dialog, &QDialog::accepted, this, [this, dialog] {
    resumeFromCheckpoint(dialog->path(), dialog->lr(), dialog->steps());
  });
  dialog->open();
}

bool MainWindow::resumeFromCheckpoint(const QString& path, std::optional<double> lr, std::optional<std::int64_t> steps) {
  auto read = readCheckpointConfig(path);
  if (!read) return false;
  RunConfig config = *read;
  const double saved_lr = config.optimizer.lr;
  if (lr) config.optimizer.lr = *lr;
  if (steps) config.steps = *steps;
  clearNotice();
  diverged_->hide();
  checkpoint_dir_ = QFileInfo(path).absolutePath();
  base_config_ = config;
  preset_path_.clear();
  const QString name = QString::fromStdString(config.name.empty() ? std::string("run") : config.name);
  preset_title_->setText(tr("%1 (resumed)").arg(name));
  QString about = tr("Continues the run saved in %1").arg(QDir::toNativeSeparators(path));
  if (config.optimizer.lr != saved_lr)
    about += tr(", learning rate %1 instead of %2").arg(format_learning_rate(config.optimizer.lr), format_learning_rate(saved_lr));
  preset_description_->setText(about + QStringLiteral(".\n\n") + QString::fromStdString(config.description));
  setWindowTitle(tr("PipeScope — %1").arg(QFileInfo(path).fileName()));
  strategy_->setConfig(config);
  partition_->setStrategy(config.strategy.name);
  controller_->startFromCheckpoint(config, path);
  statusBar()->showMessage(tr("Resuming %1…").arg(QDir::toNativeSeparators(path)), 6000);
  return true;
}

}  // namespace ps::gui
