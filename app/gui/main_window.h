// The dashboard's main window: run setup and partition docks, four pages (pipeline, weight versions,
// curves, compare), run controls in a toolbar. It wires the areas to the session controller; each area
// is its own class.
#pragma once
#include <QMainWindow>
#include <QString>
#include <memory>

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

class PipelinePage;
class SessionController;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  enum Page { PipelinePageIndex, VersionsPageIndex, CurvesPageIndex, ComparePageIndex };
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  bool loadPreset(const QString& path);  // false (and a notice) when the preset is invalid
  RunConfig currentConfig() const;       // the panel's settings with the editor's partition and devices
  void startRun();                       // as the Start button
  bool saveScreenshot(const QString& path);
  void setFontScale(double scale);  // 1 = the platform's text size
  void setDarkTheme(bool dark);
  void setSaveSettingsOnClose(bool save) { save_settings_on_close_ = save; }  // off for scripted runs

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

 protected:
  void closeEvent(QCloseEvent* event) override;

 private:
  void buildDocks();
  void connectActions();
  void connectController();
  void showNotice(const QString& text);
  void clearNotice();
  void startPauseResume();
  void reset();
  void onPrepared();
  void onRunStarted(const std::shared_ptr<ui::RunRecord>& run);
  void onTelemetry(const TelemetryBatch& batch);
  void onSummary(const std::shared_ptr<ui::RunRecord>& run);
  void onRunFinished(const std::shared_ptr<ui::RunRecord>& run);
  void onStatus(RunStatus status, bool preparing);
  void updateStageLabels(const RunSummary* summary);
  void openPresetDialog();
  void savePresetDialog();
  void restoreSettings();
  void saveSettings() const;

  RunConfig base_config_;
  QString preset_path_;
  double font_scale_ = 1.0;
  bool dark_ = false;
  bool save_settings_on_close_ = true;
  QByteArray default_state_;

  SessionController* controller_;
  ui::RunListModel* runs_;
  ui::StrategyPanel* strategy_;
  ui::PartitionEditor* partition_;
  ui::RunControls* controls_;
  PipelinePage* pipeline_;
  ui::VersionView* versions_;
  ui::CurvesView* curves_;
  ui::RunCompareView* compare_;
  QTabWidget* tabs_;
  QLabel* notice_;
  QLabel* preset_title_;
  QLabel* preset_description_;
  QLabel* status_label_;
  QLabel* metrics_label_;
  QProgressBar* progress_;
  WindowActions actions_{};
};

}  // namespace ps::gui
