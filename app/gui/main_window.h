// The dashboard's main window: run setup and partition docks, four pages (pipeline, weight versions,
// curves, compare), run controls in a toolbar. It wires the areas to the session controller; each area
// is its own class.
#pragma once
#include <QMainWindow>
#include <QString>
#include <QStringList>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "app/gui/pipeline_page.h"
#include "app/gui/window_actions.h"
#include "engine/config/run_config.h"
#include "engine/telemetry/events.h"

class QLabel;
class QProgressBar;
class QTabWidget;

namespace ps::ui {
class CurvesView;
class PartitionEditor;
class RunCompareView;
class RunControls;
class RunListModel;
class StrategyPanel;
class VersionView;
struct RunRecord;
}  // namespace ps::ui

namespace ps::gui {

class DivergedBanner;
class PipelinePage;
class RunLibraryBinder;
class ProfileRunner;
class SessionController;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  enum Page { PipelinePageIndex, VersionsPageIndex, CurvesPageIndex, ComparePageIndex };
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  // false (and a notice) when the preset is invalid; `overrides` are "field.path=value" as in the CLI's --set
  bool loadPreset(const QString& path, const QStringList& overrides = {});
  RunConfig currentConfig() const;       // the panel's settings with the editor's partition and devices
  void startRun();                       // as the Start button

  // Live repartition of the running run, as a drag in the partition editor does (the editor shows the
  // request); with at_step > 0 when exactly that many minibatches are complete. A refusal is a notice.
  bool requestRepartition(const std::vector<int>& boundaries, std::int64_t at_step = -1);
  // Partition > Profile: measures the model for the current settings in the background. `again` (the
  // button) measures even when a profile is cached and predicts from the median of the last ones kept;
  // otherwise (--profile) a cached profile loads at once.
  void requestProfile(bool again);
  ProfileRunner* profileRunner() const { return profiler_; }
  bool saveScreenshot(const QString& path);

  // Checkpoints. saveCheckpointTo asks the session to save (the status bar says "Checkpoint saved: …"
  // once the file is written); false with a notice when there is nothing worth saving.
  bool saveCheckpointTo(const QString& path);
  // Reads the checkpoint's config, shows it in the panels and starts the run that continues it, with the
  // learning rate and the total length changed where given. A bad file: a message box naming the file and
  // the reason, false, and nothing else changes.
  bool resumeFromCheckpoint(const QString& path, std::optional<double> lr = std::nullopt,
                            std::optional<std::int64_t> steps = std::nullopt);
  // File > Save settings as preset: the settings with their own name (the file's) and a description
  // that says what they were based on and what changed.
  bool savePresetTo(const QString& path);
  RunConfig presetToSave(const QString& name) const;
  // Where an export dialog opens: the last export folder (else Documents), with a file name that names
  // the run shown and `what`.
  QString exportPath(const QString& what, const QString& suffix) const;
  void saveCheckpointDialog();    // File > Save checkpoint…
  void resumeCheckpointDialog();  // File > Resume from checkpoint…
  // The dialog offered after a divergence: resume `path` with the learning rate at a tenth of `lr`.
  void offerLowerLearningRate(const QString& path, double lr);
  QString lastCheckpointMessage() const { return checkpoint_message_; }
  DivergedBanner* divergedBanner() const { return diverged_; }
  // 1 = the platform's text size. `remember` = false (a --zoom on the command line): this session only,
  // the next one starts with the saved size.
  void setFontScale(double scale, bool remember = true);
  double fontScale() const { return font_scale_; }
  // View > Projector layout: the docks hidden so the pages (the timeline's rows) fill the window; off
  // restores the docks as they were. The layout saved for the next session is the one with docks.
  void setProjectorLayout(bool on);
  bool projectorLayout() const { return projector_; }
  void setDarkTheme(bool dark);
  void setSaveSettingsOnClose(bool save) { save_settings_on_close_ = save; }  // off for scripted runs

  // The run library (app/gui/run_library_ui.h): opened at RunLibrary::defaultRoot(); openRuns imports
  // CLI output folders (File > Open run…, or dropped on the window) and shows the compare page.
  RunLibraryBinder* runLibrary() const { return library_; }
  int openRuns(const QStringList& paths);
  void openRunDialog();

  SessionController* controller() const { return controller_; }
  ui::PartitionEditor* partitionEditor() const { return partition_; }
  ui::StrategyPanel* strategyPanel() const { return strategy_; }
  ui::RunControls* runControls() const { return controls_; }
  ui::RunListModel* runList() const { return runs_; }
  PipelinePage* pipelinePage() const { return pipeline_; }
  ui::VersionView* versionView() const { return versions_; }
  ui::CurvesView* curvesView() const { return curves_; }
  QTabWidget* pages() const { return tabs_; }
  QString noticeText() const;
  QString statusText() const;   // the status bar's run status ("No run", "Status: running", …)
  QString metricsText() const;  // the status bar's step, loss and samples/s

 protected:
  void closeEvent(QCloseEvent* event) override;
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;

 private:
  void buildDocks();
  void connectActions();
  void connectController();
  // Settings: the settings' validation error (follows the settings); RunError: a run's failure (cleared
  // when the strategy changes); Other: stays until the next action.
  enum class NoticeKind { Other, Settings, RunError };
  void showNotice(const QString& text, NoticeKind kind = NoticeKind::Other);
  void clearNotice();
  void startPauseResume();
  PipelinePage::Pacing runningPacing() const;  // slow motion or full speed, as the slider says
  void reset();
  void clearRunViews();  // timeline, versions, status: as before any run
  bool replicaSchedule() const;  // the chosen schedule runs data-parallel replicas
  void updatePartitionAvailability();
  void syncEditorChunks();  // the editor's chunks per device and placement follow the run setup
  void onPrepared();
  void onRunStarted(const std::shared_ptr<ui::RunRecord>& run);
  void onTelemetry(const TelemetryBatch& batch);
  void onSummary(const std::shared_ptr<ui::RunRecord>& run);
  void onRunFinished(const std::shared_ptr<ui::RunRecord>& run);
  void onStatus(RunStatus status, bool preparing);
  void onCheckpointSaved(const QString& path, qint64 step);
  void onPartitionEdited(const std::vector<int>& boundaries);
  void onRepartitioned(const RunMark& mark);
  void setLiveEditing(bool live);  // the partition editor and the stage count during a run
  void syncEditorPartition(const std::vector<int>& boundaries);  // without requesting anything
  void loadCachedProfile();
  void updatePrediction();  // the ghost of the run shown, or of the current settings
  void showResumeDialog(const QString& path, const RunConfig& config, double lr);
  std::optional<RunConfig> readCheckpointConfig(const QString& path);  // nullopt: an error was shown
  void showError(const QString& title, const QString& text);  // a non-blocking message box
  void updateStageLabels(const RunSummary* summary);
  void openPresetDialog();
  void savePresetDialog();
  void restoreSettings();
  void saveSettings() const;

  RunConfig base_config_;
  QString preset_path_;
  double font_scale_ = 1.0;
  double saved_font_scale_ = 1.0;  // what the settings get: not a --zoom given for one session
  bool projector_ = false;
  QByteArray projector_saved_state_;  // the docks before the projector layout
  bool dark_ = false;
  bool save_settings_on_close_ = true;
  QByteArray default_state_;

  SessionController* controller_;
  ProfileRunner* profiler_;
  std::shared_ptr<ui::RunRecord> shown_run_;  // the run on the pipeline page (null after Reset)
  bool syncing_partition_ = false;
  bool new_run_armed_ = false;
  bool step_when_started_ = false;  // S pressed at rest: the run starts paused, then steps one op  // Space was pressed once on a finished run: the next Space starts a new one
  NoticeKind notice_kind_ = NoticeKind::Other;
  double shown_rate_ = 0;               // samples/s in the status bar
  std::optional<double> paused_rate_;  // held while the run is paused
  ui::RunListModel* runs_;
  RunLibraryBinder* library_;
  ui::StrategyPanel* strategy_;
  ui::PartitionEditor* partition_;
  ui::RunControls* controls_;
  PipelinePage* pipeline_;
  ui::VersionView* versions_;
  ui::CurvesView* curves_;
  ui::RunCompareView* compare_;
  QTabWidget* tabs_;
  QLabel* notice_;
  DivergedBanner* diverged_;
  QString checkpoint_message_;
  QString checkpoint_dir_;  // where the last checkpoint was saved or opened from
  QLabel* preset_title_;
  QLabel* preset_description_;
  QLabel* status_label_;
  QLabel* metrics_label_;
  QProgressBar* progress_;
  WindowActions actions_{};
};

}  // namespace ps::gui
