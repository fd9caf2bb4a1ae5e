// MainWindow's partition side during a run: live repartition from the partition editor, the model
// profile (Profile button, cache) and the simulator's prediction drawn under the timeline.
#include <QStatusBar>

#include "app/gui/main_window.h"
#include "app/gui/pipeline_page.h"
#include "app/gui/prediction.h"
#include "app/gui/profile_runner.h"
#include "app/gui/session_controller.h"
#include "widgets/partition_editor.h"
#include "widgets/run_record.h"
#include "widgets/strategy_panel.h"

namespace ps::gui {

// --- live repartition ---------------------------------------------------------------------------------

void MainWindow::onPartitionEdited(const std::vector<int>& boundaries) {
  strategy_->setStageCount(partition_->stageCount());  // devices: the chunks / v
  if (syncing_partition_) return;
  if (controller_->phase() != SessionController::Phase::Running) return updatePrediction();
  if (partition_->isLive()) {
    requestRepartition(boundaries);
    return;
  }
  // Data-parallel replicas: nothing to move while it runs.
  showNotice(tr("The new partition applies at the next Start; a data-parallel run keeps its replicas."));
}

bool MainWindow::requestRepartition(const std::vector<int>& boundaries, std::int64_t at_step) {
  QString error;
  if (!controller_->repartition(boundaries, &error, at_step)) {
    showNotice(tr("Repartition refused: %1").arg(error));
    if (controller_->phase() == SessionController::Phase::Running)  // the editor shows what will run
      syncEditorPartition(controller_->pendingPartition().value_or(controller_->partition()));
    return false;
  }
  const QString when = at_step > 0 ? tr("when %1 minibatches are complete (or at the next drain of the pipeline after "
                                        "that)")
                                         .arg(at_step)
                                   : tr("when the pipeline has drained the minibatches in flight");
  QString text = tr("Repartition requested: takes effect %1").arg(when);
  if (controller_->status() == RunStatus::Paused) text += tr(" (the run is paused: resume or step it)");
  showNotice(text);
  if (partition_->partition() != boundaries) syncEditorPartition(boundaries);  // asked from elsewhere than a drag
  partition_->setPendingPartition(controller_->pendingPartition(), controller_->partition(), when);
  return true;
}

void MainWindow::onRepartitioned(const RunMark& mark) {
  showNotice(tr("Repartitioned at step %1: %2").arg(mark.step).arg(QString::fromStdString(mark.text)));
  const auto pending = controller_->pendingPartition();  // a newer request may already wait
  partition_->setPendingPartition(pending, controller_->partition());
  if (!pending && partition_->partition() != mark.after) syncEditorPartition(mark.after);
  updatePrediction();
}

void MainWindow::syncEditorPartition(const std::vector<int>& boundaries) {
  const bool was = syncing_partition_;
  syncing_partition_ = true;
  partition_->setPartition(boundaries);
  syncing_partition_ = was;
}

void MainWindow::setLiveEditing(bool live) {
  partition_->setLive(live);
  strategy_->setStageCountLocked(live);
}

// --- profile and prediction ---------------------------------------------------------------------------

void MainWindow::requestProfile(bool again) {
  if (partition_->modelInfo().units.empty()) {
    partition_->setProfileError(tr("No model yet: wait until the session is prepared"));
    return;
  }
  if (!profiler_->start(currentConfig(), again)) return;  // one at a time (the button is disabled meanwhile)
  statusBar()->showMessage(tr("Profiling %1 on %2 at batch %3 in the background…")
                               .arg(QString::fromStdString(partition_->modelInfo().name),
                                    QString::fromStdString(currentConfig().device))
                               .arg(currentConfig().batch_size),
                           8000);
}

void MainWindow::loadCachedProfile() {
  if (profiler_->busy() || partition_->modelInfo().units.empty()) return;
  if (auto cached = ProfileRunner::cached(currentConfig(), partition_->modelInfo())) partition_->setProfile(*cached);
}

void MainWindow::updatePrediction() {
  if (!partition_->hasProfile() || !partition_->profile().measured) {
    pipeline_->clearPrediction(tr("No prediction yet: Profile the model (partition dock) to see the predicted "
                                  "pipeline beside the measured one"));
    return;
  }
  RunConfig config;
  std::vector<RunMark> marks;
  if (shown_run_) {
    config = shown_run_->config;  // the partition it started with is the first mark's `before`
    marks = shown_run_->marks;
  } else {
    if (!strategy_->isValid() || partition_->modelInfo().units.empty()) {
      pipeline_->clearPrediction(tr("No prediction for invalid settings"));
      return;
    }
    config = currentConfig();
  }
  try {
    // The run's length: its steps, or (epoch-based) what the session plans; else as far as the bound goes.
    std::int64_t planned = config.steps;
    if (planned <= 0 && shown_run_) planned = shown_run_->summary.planned_steps;
    const Prediction p = predict_run(partition_->profile(), config, marks, planned);
    PipelinePage::PredictedFigures figures;
    figures.samples_per_second = p.samples_per_second;
    figures.bubble_fraction = p.bubble_fraction;
    figures.capped = p.capped;
    figures.source = partition_->autoBalanceSource();
    if (p.cores > 0)
      figures.source += tr(", %1 cores shared by the stages, a hand-off of %2 ms between %3")
                            .arg(p.cores, 0, 'f', 2)
                            .arg(1e3 * p.hand_off_s, 0, 'f', 2)
                            .arg(config.executor == "processes" ? tr("processes") : tr("threads"));
    if (p.spins) figures.source += tr(" (none for a thread still spinning for it)");
    pipeline_->setPrediction(p.ops, figures);
  } catch (const std::exception& e) {
    pipeline_->clearPrediction(tr("No prediction: %1").arg(QString::fromStdString(e.what())));
  }
}

}  // namespace ps::gui
