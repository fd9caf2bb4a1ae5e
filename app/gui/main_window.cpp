#include "app/gui/main_window.h"

#include <QApplication>
#include <QCloseEvent>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QMimeData>
#include <QUrl>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTabWidget>
#include <QToolBar>
#include <QVBoxLayout>
#include <algorithm>

#include "app/gui/checkpoint_ui.h"
#include "app/gui/pipeline_page.h"
#include "app/gui/profile_runner.h"
#include "app/gui/run_library_ui.h"
#include "app/gui/session_controller.h"
#include "app/gui/shortcut_guard.h"
#include "engine/partition/partition.h"
#include "engine/runtime/gpus.h"
#include "engine/schedule/schedule.h"
#include "engine/session/session.h"
#include "widgets/curves_export.h"
#include "widgets/curves_view.h"
#include "widgets/partition_editor.h"
#include "widgets/run_compare_view.h"
#include "widgets/run_controls.h"
#include "widgets/run_list_model.h"
#include "widgets/stage_rows.h"
#include "widgets/strategy_panel.h"
#include "widgets/timeline_view.h"
#include "widgets/training_fields.h"
#include "widgets/version_view.h"

namespace ps::gui {
namespace {

constexpr std::array<const char*, 4> kPageNames = {"&Pipeline", "&Weight versions", "&Curves", "C&ompare runs"};

// The devices a stage can run on: the CPU and every GPU LibTorch sees, shown with its name and memory;
// with none, the picker says why.
void offer_devices(ui::PartitionEditor* editor) {
  QStringList devices{QStringLiteral("cpu")}, labels{QStringLiteral("cpu")};
  const GpuList gpus = visible_gpus();
  for (const GpuInfo& gpu : gpus.gpus) {
    devices << QStringLiteral("cuda:%1").arg(gpu.index);
    labels << QString::fromStdString(describe_gpu(gpu));
  }
  const QString note = gpus.gpus.empty() ? MainWindow::tr("No GPU: %1").arg(QString::fromStdString(gpus.none_reason)) : QString();
  editor->setDeviceChoices(devices, labels, note);
}

bool same_model(const ModelInfo& a, const ModelInfo& b) {
  if (a.name != b.name || a.units.size() != b.units.size()) return false;
  for (std::size_t i = 0; i < a.units.size(); ++i)
    if (a.units[i].name != b.units[i].name || a.units[i].params != b.units[i].params) return false;
  return true;
}

}  // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent),
      controller_(new SessionController(this)),
      profiler_(new ProfileRunner(this)),
      runs_(new ui::RunListModel(this)),
      library_(new RunLibraryBinder(runs_, controller_, this)),
      strategy_(new ui::StrategyPanel(this)),
      partition_(new ui::PartitionEditor(this)),
      controls_(new ui::RunControls(this)),
      pipeline_(new PipelinePage(this)),
      versions_(new ui::VersionView(this)),
      curves_(new ui::CurvesView(this)),
      compare_(new ui::RunCompareView(runs_, this)),
      tabs_(new QTabWidget(this)),
      notice_(new QLabel(this)),
      diverged_(new DivergedBanner(this)),
      preset_title_(new QLabel(this)),
      preset_description_(new QLabel(this)),
      status_label_(new QLabel(tr("No run"), this)),
      metrics_label_(new QLabel(this)),
      progress_(new QProgressBar(this)) {
  setWindowTitle(tr("PipeScope"));
  tabs_->addTab(pipeline_, tr("Pipeline"));
  tabs_->addTab(versions_, tr("Weight versions"));
  tabs_->addTab(curves_, tr("Curves"));
  tabs_->addTab(compare_, tr("Compare runs"));
  tabs_->setDocumentMode(true);
  notice_->setObjectName(QStringLiteral("notice"));
  notice_->setWordWrap(true);
  notice_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  notice_->hide();
  auto* central = new QWidget(this);
  auto* layout = new QVBoxLayout(central);
  layout->setContentsMargins(4, 4, 4, 0);
  layout->addWidget(notice_);
  layout->addWidget(diverged_);
  layout->addWidget(tabs_, 1);
  setCentralWidget(central);

  auto* toolbar = addToolBar(tr("Run controls"));
  toolbar->setObjectName(QStringLiteral("runControls"));
  toolbar->addWidget(controls_);
  progress_->setRange(0, 1000);
  progress_->setMaximumWidth(220);
  progress_->setTextVisible(true);
  // Permanent widgets: transient messages (showMessage) take the left side and never cover them. Their
  // text is cut, not the window widened, when it is narrow (1280 pixels at zoom 1.5): the tooltip has all.
  for (QLabel* l : {status_label_, metrics_label_}) l->setMinimumWidth(fontMetrics().averageCharWidth() * 12);
  statusBar()->addPermanentWidget(status_label_);
  statusBar()->addPermanentWidget(metrics_label_);
  statusBar()->addPermanentWidget(progress_);
  offer_devices(partition_);

  buildDocks();
  connectController();
  connectActions();
  resize(1500, 950);
  default_state_ = saveState();
  restoreSettings();
  setAcceptDrops(true);  // run folders dropped on the window are imported
  connect(library_, &RunLibraryBinder::message, this, [this](const QString& m) { statusBar()->showMessage(m, 10000); });
  library_->open(ui::RunLibrary::defaultRoot());
  // Start with the keyboard on the timeline: single-key shortcuts (Space, S, F, L) must not land in a
  // spin box of the setup panel.
  pipeline_->timeline()->setFocus();
}

MainWindow::~MainWindow() = default;

void MainWindow::buildDocks() {
  auto* setup = new QWidget(this);
  auto* setup_layout = new QVBoxLayout(setup);
  setup_layout->setContentsMargins(0, 0, 0, 0);
  preset_title_->setObjectName(QStringLiteral("presetTitle"));
  preset_description_->setWordWrap(true);
  preset_description_->setObjectName(QStringLiteral("hint"));
  setup_layout->addWidget(preset_title_);
  setup_layout->addWidget(preset_description_);
  setup_layout->addWidget(strategy_, 1);
  auto* scroll = new QScrollArea(this);
  scroll->setWidget(setup);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  auto* setup_dock = new QDockWidget(tr("Run setup"), this);
  setup_dock->setObjectName(QStringLiteral("runSetupDock"));
  setup_dock->setWidget(scroll);
  setup_dock->setMinimumWidth(320);
  addDockWidget(Qt::LeftDockWidgetArea, setup_dock);

  auto* partition_dock = new QDockWidget(tr("Partition"), this);
  partition_dock->setObjectName(QStringLiteral("partitionDock"));
  partition_dock->setWidget(partition_);
  addDockWidget(Qt::BottomDockWidgetArea, partition_dock);
  resizeDocks({setup_dock}, {360}, Qt::Horizontal);
  resizeDocks({partition_dock}, {280}, Qt::Vertical);

  actions_ = create_window_actions(this, kPageNames, {setup_dock->toggleViewAction(), partition_dock->toggleViewAction()});
  new ShortcutGuard(this, {actions_.start_pause, actions_.step_op, actions_.step_minibatch, actions_.stop, actions_.fit,
                           actions_.follow_live});
}

void MainWindow::connectActions() {
  connect(actions_.open_preset, &QAction::triggered, this, &MainWindow::openPresetDialog);
  connect(actions_.save_preset, &QAction::triggered, this, &MainWindow::savePresetDialog);
  connect(actions_.save_checkpoint, &QAction::triggered, this, &MainWindow::saveCheckpointDialog);
  connect(actions_.resume_checkpoint, &QAction::triggered, this, &MainWindow::resumeCheckpointDialog);
  connect(actions_.export_screenshot, &QAction::triggered, this, [this] {
    const QString path = QFileDialog::getSaveFileName(this, tr("Save screenshot"), exportPath(QStringLiteral("screenshot"), QStringLiteral(".png")),
                                                      tr("PNG images (*.png)"));
    if (!path.isEmpty()) compare_->setExportFolder(QFileInfo(path).absolutePath());
    if (!path.isEmpty() && !saveScreenshot(path)) showNotice(tr("%1: could not be written").arg(path));
  });
  connect(actions_.open_run, &QAction::triggered, this, &MainWindow::openRunDialog);
  connect(actions_.quit, &QAction::triggered, this, &QWidget::close);
  connect(actions_.start_pause, &QAction::triggered, this, &MainWindow::startPauseResume);
  connect(actions_.step_op, &QAction::triggered, this, [this] {
    const bool running = controller_->phase() == SessionController::Phase::Running;
    if (running && controller_->status() != RunStatus::Paused) return;  // S steps a paused run only
    pipeline_->setPacing(PipelinePage::Pacing::Stepping);
    if (running) return controller_->stepOps(1);
    if (!strategy_->isValid()) return;
    step_when_started_ = true;  // S at rest: start paused, then run the one op asked for (onStatus)
    controller_->start(currentConfig(), /*paused=*/true);
  });
  connect(actions_.step_minibatch, &QAction::triggered, this, [this] {
    if (controller_->status() != RunStatus::Paused) return;
    pipeline_->setPacing(PipelinePage::Pacing::Stepping);
    controller_->stepMinibatch();
  });
  connect(actions_.stop, &QAction::triggered, controller_, &SessionController::stop);
  connect(actions_.reset, &QAction::triggered, this, &MainWindow::reset);
  connect(actions_.fit, &QAction::triggered, this, [this] {
    pipeline_->timeline()->fit();
    curves_->fit();
    compare_->curves()->fit();
  });
  connect(actions_.follow_live, &QAction::triggered, this,
          [this] { pipeline_->timeline()->setFollowLive(!pipeline_->timeline()->followLive()); });
  connect(actions_.zoom_in, &QAction::triggered, this, [this] { setFontScale(font_scale_ * 1.15); });
  connect(actions_.zoom_out, &QAction::triggered, this, [this] { setFontScale(font_scale_ / 1.15); });
  connect(actions_.zoom_reset, &QAction::triggered, this, [this] { setFontScale(1.0); });
  connect(actions_.dark_theme, &QAction::toggled, this, &MainWindow::setDarkTheme);
  connect(actions_.reset_layout, &QAction::triggered, this, [this] {
    setProjectorLayout(false);
    restoreState(default_state_);
  });
  connect(actions_.projector, &QAction::toggled, this, &MainWindow::setProjectorLayout);
  for (int i = 0; i < 4; ++i)
    connect(actions_.pages[std::size_t(i)], &QAction::triggered, this, [this, i] { tabs_->setCurrentIndex(i); });
  connect(actions_.shortcuts, &QAction::triggered, this,
          [this] { QMessageBox::information(this, tr("Keyboard shortcuts"), tr(shortcuts_help_html())); });
  connect(actions_.about, &QAction::triggered, this, [this] {
    QMessageBox::about(this, tr("About PipeScope"),
                       tr("<b>PipeScope</b> %1<br>Pipeline-parallel training, weight staleness and the strategies "
                          "that fight it, made visible.").arg(QStringLiteral(PIPESCOPE_VERSION)));
  });

  connect(controls_, &ui::RunControls::startRequested, this, &MainWindow::startRun);
  connect(controls_, &ui::RunControls::pauseRequested, controller_, &SessionController::pause);
  connect(controls_, &ui::RunControls::resumeRequested, this, [this] {
    pipeline_->setPacing(runningPacing());
    controller_->resume();
  });
  connect(controls_, &ui::RunControls::stepOpRequested, this, [this] {
    pipeline_->setPacing(PipelinePage::Pacing::Stepping);
    controller_->stepOps(1);
  });
  connect(controls_, &ui::RunControls::stepMinibatchRequested, this, [this] {
    pipeline_->setPacing(PipelinePage::Pacing::Stepping);
    controller_->stepMinibatch();
  });
  connect(controls_, &ui::RunControls::opDelayChanged, this, [this](std::chrono::microseconds delay) {
    if (pipeline_->pacing() != PipelinePage::Pacing::Stepping || controller_->status() != RunStatus::Paused)
      pipeline_->setPacing(delay.count() > 0 ? PipelinePage::Pacing::SlowMotion : PipelinePage::Pacing::FullSpeed);
  });
  connect(controls_, &ui::RunControls::stopRequested, controller_, &SessionController::stop);
  connect(controls_, &ui::RunControls::resetRequested, this, &MainWindow::reset);
  connect(controls_, &ui::RunControls::opDelayChanged, controller_, &SessionController::setOpDelay);
  connect(controls_, &ui::RunControls::saveCheckpointRequested, this, &MainWindow::saveCheckpointDialog);
  connect(controls_, &ui::RunControls::checkpointEveryChanged, this, [this](int minutes) {
    controller_->setCheckpointEvery(minutes);
    if (minutes > 0)
      statusBar()->showMessage(tr("Runs started from now on save a checkpoint every %1 min (and at their end) in %2")
                                   .arg(minutes)
                                   .arg(QDir::toNativeSeparators(controller_->checkpointDir())),
                               8000);
  });
  connect(diverged_, &DivergedBanner::resumeRequested, this,
          [this] { offerLowerLearningRate(diverged_->checkpointPath(), diverged_->runLearningRate()); });
  connect(diverged_, &DivergedBanner::enableCheckpointsRequested, this, [this] {
    controls_->setCheckpointEvery(5);
    diverged_->enableCheckpointsButton()->setEnabled(false);
  });

  connect(strategy_, &ui::StrategyPanel::strategyChanged, this, [this](const QString& s) {
    partition_->setStrategy(s.toStdString());
    // A run's error was about the strategy it ran: not this one.
    if (notice_kind_ == NoticeKind::RunError) clearNotice();
  });
  connect(strategy_, &ui::StrategyPanel::optimizerFixed, this,
          [this](const QString& what) { statusBar()->showMessage(tr("Changed %1").arg(what), 8000); });
  connect(strategy_, &ui::StrategyPanel::stagesChanged, this, [this](int stages) {
    // S stages of v chunks each: the editor shows (and the engine runs) S*v chunks.
    const int chunks = stages * partition_->chunksPerDevice();
    if (!partition_->modelInfo().units.empty() && !replicaSchedule() &&
        chunks <= static_cast<int>(partition_->modelInfo().units.size()))
      partition_->setPartition(balanced_partition(partition_->modelInfo(), chunks), /*undoable=*/true);
  });
  connect(partition_, &ui::PartitionEditor::partitionChanged, this, &MainWindow::onPartitionEdited);
  connect(partition_, &ui::PartitionEditor::stageDevicesChanged, this, [this] {
    if (!shown_run_) updatePrediction();
  });
  connect(strategy_, &ui::StrategyPanel::configEdited, this, [this] {
    new_run_armed_ = false;
    syncEditorChunks();
    updatePartitionAvailability();
    if (notice_kind_ == NoticeKind::Settings) {  // the notice follows the settings: the new error, or none
      if (strategy_->isValid()) clearNotice();
      else showNotice(strategy_->errorText(), NoticeKind::Settings);
    }
    if (!shown_run_) updatePrediction();  // a run on the page keeps the prediction of its own settings
  });
  connect(partition_, &ui::PartitionEditor::profileRequested, this, [this] { requestProfile(true); });
  connect(profiler_, &ProfileRunner::started, this, [this] { partition_->setProfileBusy(true); });
  connect(profiler_, &ProfileRunner::finished, this, [this](const ModelProfile& profile) {
    partition_->setProfileBusy(false);
    partition_->setProfile(profile);
    if (!partition_->hasProfile()) {
      partition_->setProfileError(tr("The profile's model is not the one loaded now (%1 units)").arg(profile.units.size()));
      return;
    }
    statusBar()->showMessage(tr("Profile: unit times %1; Auto-balance and the prediction use them")
                                 .arg(partition_->autoBalanceSource()),
                             8000);
  });
  connect(partition_, &ui::PartitionEditor::profileChanged, this, &MainWindow::updatePrediction);
  connect(profiler_, &ProfileRunner::failed, this, [this](const QString& error) {
    partition_->setProfileBusy(false);
    partition_->setProfileError(error);
    showNotice(tr("Profile failed: %1").arg(error));
  });
  connect(compare_, &ui::RunCompareView::message, this, [this](const QString& m) { statusBar()->showMessage(m, 6000); });
}

void MainWindow::connectController() {
  connect(controller_, &SessionController::prepared, this, &MainWindow::onPrepared);
  connect(controller_, &SessionController::prepareFailed, this, [this](const QString& e) { showNotice(e); });
  connect(controller_, &SessionController::runStarted, this, &MainWindow::onRunStarted);
  connect(controller_, &SessionController::telemetry, this, &MainWindow::onTelemetry);
  connect(controller_, &SessionController::summaryUpdated, this, &MainWindow::onSummary);
  connect(controller_, &SessionController::runFinished, this, &MainWindow::onRunFinished);
  connect(controller_, &SessionController::statusChanged, this, &MainWindow::onStatus);
  connect(controller_, &SessionController::checkpointSaved, this, &MainWindow::onCheckpointSaved);
  connect(controller_, &SessionController::resumeFailed, this, [this](const QString& path, const QString& error) {
    showError(tr("Cannot resume"), tr("%1 cannot be resumed.\n\n%2").arg(QDir::toNativeSeparators(path), error));
  });
  connect(controller_, &SessionController::progressChanged, this,
          [this](double f) { progress_->setValue(static_cast<int>(f * 1000)); });
  connect(controller_, &SessionController::repartitioned, this, &MainWindow::onRepartitioned);
}

RunConfig MainWindow::currentConfig() const {
  RunConfig c = strategy_->config();
  // Data-parallel replicas each hold the whole model: their number is the stage count, and the engine
  // refuses a partition for them.
  if (is_schedule(c.schedule) && schedule_info(c.schedule).replicas) {
    c.partition.clear();
    if (static_cast<int>(c.stage_devices.size()) != c.stages) c.stage_devices.clear();
    return c;
  }
  // The editor's segments are the run's chunks: S of them, or S*v where each device holds v (its
  // boundaries are the S*v-1 the user dragged). An editor still showing another chunk count (its
  // model not prepared yet) leaves the cut to the engine.
  const int v = c.chunks_per_device();
  if (!partition_->modelInfo().units.empty() &&
      (partition_->chunksPerDevice() != v || partition_->chunkCount() % v != 0)) {
    c.partition.clear();
    if (static_cast<int>(c.stage_devices.size()) != c.num_devices()) c.stage_devices.clear();
    return c;
  }
  if (!partition_->modelInfo().units.empty()) {
    c.partition = partition_->partition();
    c.stages = partition_->stageCount();  // devices: the chunks / v
    const auto devices = partition_->stageDevices();
    const bool all_default = std::all_of(devices.begin(), devices.end(), [&](const std::string& d) { return d == c.device; });
    c.stage_devices.clear();
    if (!all_default)  // every replica's pipeline on the devices the editor gives its stages
      for (int r = 0; r < c.replicas; ++r) c.stage_devices.insert(c.stage_devices.end(), devices.begin(), devices.end());
  }
  return c;
}

void MainWindow::startRun() {
  new_run_armed_ = false;
  if (!strategy_->isValid()) {
    showNotice(strategy_->errorText(), NoticeKind::Settings);
    return;
  }
  clearNotice();
  pipeline_->setPacing(runningPacing());
  controller_->start(currentConfig());
}

PipelinePage::Pacing MainWindow::runningPacing() const {
  return controls_->opDelay().count() > 0 ? PipelinePage::Pacing::SlowMotion : PipelinePage::Pacing::FullSpeed;
}

void MainWindow::startPauseResume() {
  if (controller_->phase() == SessionController::Phase::Finished && controller_->currentRun() && !new_run_armed_) {
    // A finished run on the page: Space does not throw it away silently; a second Space starts anew.
    const auto run = controller_->currentRun();
    new_run_armed_ = true;
    statusBar()->showMessage(tr("%1 has %2. Press Space again (or Start) to start a new run with the current settings.")
                                 .arg(run->name, QString::fromStdString(to_string(run->summary.status))));
    return;
  }
  if (controller_->phase() != SessionController::Phase::Running) return startRun();
  if (controller_->status() == RunStatus::Paused) {
    pipeline_->setPacing(runningPacing());
    controller_->resume();
  } else {
    controller_->pause();
  }
}

void MainWindow::clearRunViews() {
  pipeline_->clear();
  versions_->clear();
  diverged_->hide();
  shown_run_.reset();
  new_run_armed_ = false;
  paused_rate_.reset();
  metrics_label_->clear();
  metrics_label_->setToolTip(QString());
  progress_->setValue(0);
  status_label_->setText(controller_->busy() ? tr("Preparing: loading data, building the model…") : tr("No run"));
  status_label_->setStyleSheet(QString());
  controls_->setStatus(RunStatus::Idle, controller_->busy());
  pipeline_->timeline()->setStageCount(strategy_->config().num_devices());
}

void MainWindow::reset() {
  controller_->prepare(currentConfig());  // a live run ends here (stopped, kept in the run list)
  clearRunViews();
  clearNotice();
  updatePrediction();
}

bool MainWindow::replicaSchedule() const {
  const std::string schedule = strategy_->scheduleCombo()->currentText().toStdString();
  return is_schedule(schedule) && schedule_info(schedule).replicas;
}

void MainWindow::updatePartitionAvailability() {
  const bool replicas = replicaSchedule();
  partition_->setEnabled(!replicas);
  partition_->setToolTip(replicas ? tr("Data-parallel replicas each hold the whole model: there is no partition. "
                                       "Their number is the Stages field of the run setup.")
                                  : QString());
}

void MainWindow::syncEditorChunks() {
  if (replicaSchedule() || controller_->phase() == SessionController::Phase::Running) return;
  const RunConfig c = strategy_->config();
  if (!is_schedule(c.schedule)) return;
  const int v = c.chunks_per_device();
  const bool same_v = v == partition_->chunksPerDevice();
  if (same_v && c.schedule == partition_->chunkSchedule()) return;
  // The same v under another schedule: the same chunks, perhaps placed otherwise (loop or V).
  if (same_v || partition_->modelInfo().units.empty()) return partition_->setChunkLayout(c.schedule, v);
  // Another v: the S stages of the run setup, cut into S*v chunks (balanced by estimated cost), as the
  // engine would cut them. A count the model cannot hold leaves the editor as it was (the run setup says
  // why, and the run cannot start).
  const int chunks = c.num_stages() * v;
  const int units = static_cast<int>(partition_->modelInfo().units.size());
  if (chunks > units) return;
  if (partition_->chunkCount() == chunks) return partition_->setChunkLayout(c.schedule, v);
  partition_->setChunkLayout(c.schedule, v, balanced_partition(partition_->modelInfo(), chunks));
}

void MainWindow::onPrepared() {
  const ModelInfo* model = controller_->modelInfo();
  const std::vector<int> partition = controller_->partition();
  if (!model) return;
  {  // the chunks the session cut: S*v of them when each device holds v
    const RunConfig c = strategy_->config();
    const int v = replicaSchedule() ? 1 : c.chunks_per_device();
    const int chunks = static_cast<int>(partition.size()) + 1;
    partition_->setChunkLayout(c.schedule, chunks % v == 0 ? v : 1);
  }
  if (!same_model(*model, partition_->modelInfo())) {
    partition_->setModelInfo(*model, partition);
    strategy_->setMaxStages(static_cast<int>(model->units.size()));
  } else if (partition != partition_->partition()) {
    partition_->setPartition(partition);
  }
  const RunConfig c = strategy_->config();
  const int stages = partition_->stageCount();  // devices (the chunks / v)
  std::vector<std::string> devices = c.stage_devices;
  devices.resize(static_cast<std::size_t>(stages), c.device);
  partition_->setStageDevices(devices);
  const bool replicas = replicaSchedule();
  if (!replicas) strategy_->setStageCount(stages);  // replicas: the panel's count
  updatePartitionAvailability();
  if (pipeline_->timeline()->model().empty()) {
    pipeline_->timeline()->setStageCount(replicas ? c.stages : stages * c.replicas);
    updateStageLabels(nullptr);
  }
  loadCachedProfile();  // measured unit times for these settings, when they were profiled before
  if (!shown_run_) updatePrediction();
  status_label_->setText(tr("Ready: %1, %2 layer units").arg(QString::fromStdString(model->name)).arg(model->units.size()));
}

void MainWindow::onRunStarted(const std::shared_ptr<ui::RunRecord>& run) {
  diverged_->hide();
  new_run_armed_ = false;
  paused_rate_.reset();
  pipeline_->clear();
  versions_->clear();
  pipeline_->timeline()->setStageCount(run->config.num_devices());  // a row per device (replicas too)
  try {  // overlapped pairs get their own colour
    const RunConfig& c = run->config;
    if (is_schedule(c.schedule) && schedule_info(c.schedule).overlap_pairs)
      pipeline_->timeline()->model().setOverlapOps(make_schedule(c.schedule, c.num_stages(), c.microbatches, 1, c.chunks_per_device()));
    else
      pipeline_->timeline()->model().setOverlapOps({});
  } catch (const std::exception&) {
    pipeline_->timeline()->model().setOverlapOps({});
  }
  shown_run_ = run;
  // Boundaries move live (stage count and devices fixed), in one process and without replicas.
  setLiveEditing(!schedule_info(run->config.schedule).replicas && run->config.replicas == 1 &&
                 run->config.executor != "processes");
  updatePrediction();
  curves_->setRuns({{run, palette().color(QPalette::Highlight)}});
  runs_->addRun(run);
  updateStageLabels(nullptr);
  progress_->setValue(0);
}

void MainWindow::onTelemetry(const TelemetryBatch& batch) {
  pipeline_->timeline()->appendBatch(batch);
  versions_->appendBatch(batch);
  if ((!batch.steps.empty() || !batch.evals.empty()) && curves_->isVisible()) curves_->requestRefresh();
}

void MainWindow::onSummary(const std::shared_ptr<ui::RunRecord>& run) {
  runs_->runUpdated(run.get());
  pipeline_->showSummary(run->summary);
  updateStageLabels(&run->summary);
  if (!curves_->isVisible()) curves_->refresh();  // hidden: data only, at a low rate (drawn when shown)
  compare_->refresh();
  const RunSummary& s = run->summary;
  // While paused the pipeline's clock goes on and the average would decay: hold the figure of the pause.
  const bool paused = s.status == RunStatus::Paused;
  if (!paused) paused_rate_.reset();
  else if (!paused_rate_) paused_rate_ = shown_rate_;
  shown_rate_ = paused ? *paused_rate_ : s.samples_per_second;
  // The run's summary: figures, then what an engineer checks against the CLI (weights digest once the
  // run has ended, resumed from, repartitions); the whole of it in the tooltip.
  QString extra;
  if (!s.weights_digest.empty()) extra += tr(" · weights %1").arg(QString::fromStdString(s.weights_digest));
  if (!run->resumed_from.isEmpty()) extra += tr(" · resumed from %1").arg(QFileInfo(run->resumed_from).fileName());
  const auto moves = std::count_if(run->marks.begin(), run->marks.end(), [](const RunMark& m) { return m.kind == "repartition"; });
  if (moves > 0) extra += tr(" · %n repartition(s)", nullptr, int(moves));
  metrics_label_->setText(tr("step %1 · loss %2 · %3 samples/s%4%5")
                              .arg(s.steps)
                              .arg(s.final_train_loss, 0, 'f', 4)
                              .arg(shown_rate_, 0, 'f', 0)
                              .arg(s.test_accuracy ? tr(" · test accuracy %1%").arg(*s.test_accuracy * 100, 0, 'f', 2) : QString())
                              .arg(extra));
  metrics_label_->setToolTip(ui::RunListModel::details(*run));
}

void MainWindow::onRunFinished(const std::shared_ptr<ui::RunRecord>& run) {
  setLiveEditing(false);
  syncEditorChunks();  // chunks per device or the schedule changed while it ran: the editor follows now
  pipeline_->timeline()->model().settle();  // ops still waiting for a dependency that will not come
  pipeline_->timeline()->update();
  updatePrediction();  // an epoch-based run's length is known now
  onSummary(run);
  curves_->refresh();
  compare_->refresh();
  versions_->refresh();
  const RunSummary& s = run->summary;
  if (s.status == RunStatus::Diverged) {
    const auto checkpoint = controller_->lastCheckpoint();
    diverged_->showDiverged(run->name, QString::fromStdString(s.error),
                            checkpoint ? QString::fromStdString(checkpoint->path) : QString(),
                            checkpoint ? checkpoint->step : 0, run->config.optimizer.lr);
    diverged_->enableCheckpointsButton()->setEnabled(controls_->checkpointEvery() == 0);
  } else if (s.status == RunStatus::Failed)
    showNotice(tr("%1 %2: %3").arg(run->name, QString::fromStdString(to_string(s.status)), QString::fromStdString(s.error)),
               NoticeKind::RunError);
  statusBar()->showMessage(tr("%1 %2 after %3 steps").arg(run->name, QString::fromStdString(to_string(s.status))).arg(s.steps), 8000);
}

void MainWindow::onStatus(RunStatus status, bool preparing) {
  if (step_when_started_ && !preparing && status == RunStatus::Paused) {
    step_when_started_ = false;
    controller_->stepOps(1);  // the first S from rest runs its op
  }
  if (status == RunStatus::Completed || status == RunStatus::Stopped || status == RunStatus::Failed ||
      status == RunStatus::Diverged)
    step_when_started_ = false;
  controls_->setStatus(status, preparing);
  status_label_->setText(preparing ? tr("Preparing: loading data, building the model…")
                                   : tr("Status: %1").arg(QString::fromStdString(to_string(status))));
  const bool bad = !preparing && (status == RunStatus::Diverged || status == RunStatus::Failed);
  status_label_->setStyleSheet(bad ? QStringLiteral("color: #d93025; font-weight: bold;") : QString());
  actions_.save_checkpoint->setEnabled(!preparing && status != RunStatus::Diverged && status != RunStatus::Failed);
}

void MainWindow::showError(const QString& title, const QString& text) {
  auto* box = new QMessageBox(QMessageBox::Warning, title, text, QMessageBox::Ok, this);
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->setTextInteractionFlags(Qt::TextSelectableByMouse);
  box->open();  // window-modal, non-blocking: the engine's timer keeps running
}

void MainWindow::updateStageLabels(const RunSummary* summary) {
  const bool listed = summary && !summary->per_stage.empty();
  QStringList labels;
  if (listed) labels = ui::summary_row_labels(*summary);
  else
    for (const auto& d : partition_->stageDevices()) labels << QString::fromStdString(d);
  pipeline_->timeline()->setStageLabels(labels);
  pipeline_->timeline()->setStageMemory(listed ? summary : nullptr);
}

void MainWindow::showNotice(const QString& text, NoticeKind kind) {
  notice_kind_ = kind;
  notice_->setText(text);
  notice_->show();
}

void MainWindow::clearNotice() {
  notice_kind_ = NoticeKind::Other;
  notice_->clear();
  notice_->hide();
}

QString MainWindow::exportPath(const QString& what, const QString& suffix) const {
  QString dir = compare_->exportFolder();
  if (dir.isEmpty()) dir = QStandardPaths::writableLocation(QStandardPaths::DocumentsLocation);
  const auto run = shown_run_ ? shown_run_ : controller_->currentRun();
  return QDir(dir).filePath(ui::export_file_name(run.get(), run ? run->config : currentConfig(), what, suffix));
}

QString MainWindow::noticeText() const { return notice_->isHidden() ? QString() : notice_->text(); }
QString MainWindow::statusText() const { return status_label_->text(); }
QString MainWindow::metricsText() const { return metrics_label_->text(); }

bool MainWindow::saveScreenshot(const QString& path) { return grab().save(path); }

int MainWindow::openRuns(const QStringList& paths) {
  const int imported = library_->importRuns(paths);
  if (imported > 0) tabs_->setCurrentIndex(ComparePageIndex);
  return imported;
}

void MainWindow::openRunDialog() {
  const QString dir = QFileDialog::getExistingDirectory(
      this, tr("Open run folder (pipescope-cli run --out DIR)"),
      checkpoint_dir_.isEmpty() ? QStandardPaths::writableLocation(QStandardPaths::DocumentsLocation) : checkpoint_dir_);
  if (!dir.isEmpty()) openRuns({dir});
}

namespace {
QStringList dropped_runs(const QMimeData* mime) {
  QStringList paths;
  if (!mime || !mime->hasUrls()) return paths;
  for (const QUrl& url : mime->urls())
    if (url.isLocalFile() && RunLibraryBinder::looksLikeRun(url.toLocalFile())) paths << url.toLocalFile();
  return paths;
}
}  // namespace

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  if (!dropped_runs(event->mimeData()).isEmpty()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
  const QStringList paths = dropped_runs(event->mimeData());
  if (paths.isEmpty()) return;
  event->acceptProposedAction();
  openRuns(paths);
}

void MainWindow::closeEvent(QCloseEvent* event) {
  if (save_settings_on_close_) saveSettings();
  library_->storeLiveRun();  // a run still going is kept as it stands (it reopens as stopped)
  controller_->stop();
  event->accept();
}

}  // namespace ps::gui
