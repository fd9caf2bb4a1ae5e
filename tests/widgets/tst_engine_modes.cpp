// Every engine mode from the dashboard (#17 item 2): chunks per device, pipeline x data parallel
// (replicas per stage) and one process per device (the dashboard is rank 0 and starts pipescope-cli for
// the others). Each test sets the mode in the run setup as a user would, starts the run, and checks what
// the engine ran: its summary, the rows of the timeline, the processes, and the weights.
#include <signal.h>

#include <QComboBox>
#include <QSignalSpy>
#include <QSpinBox>
#include <QtTest>
#include <cerrno>
#include <algorithm>
#include <set>

#include "app/gui/main_window.h"
#include "app/gui/pipeline_page.h"
#include "app/gui/session_controller.h"
#include "widget_test_main.h"
#include "widgets/partition_editor.h"
#include "widgets/partition_strip.h"
#include "widgets/run_list_model.h"
#include "widgets/run_record.h"
#include "widgets/strategy_panel.h"
#include "widgets/timeline_view.h"

using namespace ps;
using namespace ps::gui;

namespace {
const QString kTiny = QStringLiteral(PIPESCOPE_SOURCE_DIR "/presets/tiny.json");

bool process_gone(qint64 pid) { return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH; }
}  // namespace

class TestEngineModes : public QObject {
  Q_OBJECT
 private:
  static void open(MainWindow& window, const QStringList& overrides) {
    window.setSaveSettingsOnClose(false);
    window.show();
    QSignalSpy prepared(window.controller(), &SessionController::prepared);
    QVERIFY2(window.loadPreset(kTiny, overrides), qPrintable(window.noticeText()));
    QTRY_VERIFY_WITH_TIMEOUT(prepared.count() >= 1, 60000);
  }
  static void setExecutor(ui::StrategyPanel* panel, const QString& executor) {
    const int index = panel->executorCombo()->findData(executor);
    QVERIFY(index >= 0);
    panel->executorCombo()->setCurrentIndex(index);
  }
  // Starts the window's current settings and waits for the run's end; the run's record.
  static std::shared_ptr<ui::RunRecord> runToEnd(MainWindow& window, bool paused = false) {
    QSignalSpy finished(window.controller(), &SessionController::runFinished);
    QSignalSpy failed(window.controller(), &SessionController::prepareFailed);
    window.controller()->start(window.currentConfig(), paused);
    if (paused) return nullptr;
    [&] {
      QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1 || failed.count() == 1, 120000);
      QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.at(0).at(0).toString()));
    }();
    return finished.isEmpty() ? nullptr : window.controller()->currentRun();
  }


  // #14 item 1 from the dashboard: the schedule's chunks in the partition editor (S*v segments coloured
  // by device), one boundary dragged there, and the run gets exactly the editor's boundaries.
  static void draggedChunksReachTheEngine(const QString& schedule, const std::vector<int>& devices) {
    MainWindow window;
    // tiny with 6 layer units (5 hidden layers and the head): 4 chunks, and room to move a boundary.
    open(window, {QStringLiteral("steps=3"), QStringLiteral("model.hidden=[16,16,16,16,16]")});
    auto* panel = window.strategyPanel();
    auto* editor = window.partitionEditor();
    QCOMPARE(editor->chunkCount(), 2);  // 1f1b-async: a segment per device
    panel->scheduleCombo()->setCurrentText(schedule);
    panel->findChild<QSpinBox*>(QStringLiteral("microbatches"))->setValue(4);
    QCOMPARE(panel->chunksSpin()->value(), 2);
    QVERIFY2(panel->isValid(), qPrintable(panel->errorText()));
    QCOMPARE(editor->chunkCount(), 4);
    QCOMPARE(editor->stageCount(), 2);
    auto* strip = editor->strip();
    QCOMPARE(strip->chunkDevices(), devices);
    QCOMPARE(strip->segmentTitle(3), QStringLiteral("chunk 3 · dev %1 · loss").arg(devices.back()));
    QVERIFY2(editor->summaryText().contains(QStringLiteral("the loss on <b>device %1</b>").arg(devices.back())),
             qPrintable(editor->summaryText()));

    // Drag the first boundary that can move one unit (right, else left).
    const std::vector<int> before = editor->partition();
    QCOMPARE(before.size(), std::size_t(3));
    const int units = static_cast<int>(editor->modelInfo().units.size());
    int index = -1, target = -1;
    for (int i = 0; i < 3 && index < 0; ++i) {
      const int lo = i == 0 ? 0 : before[std::size_t(i) - 1], hi = i == 2 ? units : before[std::size_t(i) + 1];
      if (before[std::size_t(i)] + 1 < hi) index = i, target = before[std::size_t(i)] + 1;
      else if (before[std::size_t(i)] - 1 > lo) index = i, target = before[std::size_t(i)] - 1;
    }
    QVERIFY2(index >= 0, "no boundary can move");
    const int y = qRound(strip->unitRect(0).center().y());
    QTest::mousePress(strip, Qt::LeftButton, {}, QPoint(qRound(strip->handleX(index)), y));
    QVERIFY(strip->dragging());
    const QPoint to(qRound(strip->unitRect(target).left()), y);
    QTest::mouseMove(strip, to);
    QTest::mouseRelease(strip, Qt::LeftButton, {}, to);
    std::vector<int> expected = before;
    expected[std::size_t(index)] = target;
    QCOMPARE(editor->partition(), expected);
    QCOMPARE(strip->chunkDevices(), devices);
    QCOMPARE(window.currentConfig().partition, expected);

    const auto run = runToEnd(window);
    QVERIFY(run);
    QVERIFY2(run->summary.status == RunStatus::Completed, run->summary.error.c_str());
    QCOMPARE(run->config.partition, expected);  // what the engine ran: the boundaries the user dragged
    QCOMPARE(run->summary.chunks, 2);
    QCOMPARE(run->summary.stages, 2);
    QCOMPARE(window.pipelinePage()->timeline()->model().stageCount(), 2);  // a row per device
  }
 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    qputenv("PIPESCOPE_CLI", PIPESCOPE_CLI);  // the ranks the dashboard starts
  }

  void chunksPerDeviceReachTheEngine() {
    MainWindow window;
    open(window, {QStringLiteral("steps=3")});
    auto* panel = window.strategyPanel();
    QVERIFY(!panel->chunksSpin()->isEnabled());  // 1f1b-async: one chunk per device
    panel->scheduleCombo()->setCurrentText(QStringLiteral("interleaved-1f1b"));
    panel->findChild<QSpinBox*>(QStringLiteral("microbatches"))->setValue(2);
    QVERIFY(panel->chunksSpin()->isEnabled());
    panel->chunksSpin()->setValue(3);  // 6 chunks of a 4-unit model: said before Start
    QVERIFY(!panel->isValid());
    QVERIFY2(panel->errorText().contains(QStringLiteral("4 layer units")), qPrintable(panel->errorText()));
    panel->chunksSpin()->setValue(2);
    panel->findChild<QSpinBox*>(QStringLiteral("microbatches"))->setValue(4);
    QVERIFY2(panel->isValid(), qPrintable(panel->errorText()));
    QCOMPARE(window.currentConfig().chunks_per_device(), 2);
    const auto run = runToEnd(window);
    QVERIFY(run);
    QVERIFY2(run->summary.status == RunStatus::Completed, run->summary.error.c_str());
    QCOMPARE(run->summary.chunks, 2);
    QCOMPARE(run->summary.stages, 2);
    QCOMPARE(run->summary.microbatches, 4);
    QCOMPARE(static_cast<int>(run->config.partition.size()) + 1, 4);  // 2 devices x 2 chunks
  }

  void draggedChunksReachTheEngineUnderLoopPlacement() {
    draggedChunksReachTheEngine(QStringLiteral("interleaved-1f1b"), {0, 1, 0, 1});
  }
  void draggedChunksReachTheEngineUnderVPlacement() {
    draggedChunksReachTheEngine(QStringLiteral("zbv"), {0, 1, 1, 0});
  }

  // A drag during a run with chunks repartitions its S*v chunks live (the editor sends S*v-1 boundaries).
  void aDragDuringAChunkedRunMovesItsChunksLive() {
    MainWindow window;
    open(window, {QStringLiteral("steps=12"), QStringLiteral("model.hidden=[16,16,16,16,16]"),
                  QStringLiteral("schedule=interleaved-1f1b"), QStringLiteral("microbatches=2")});
    auto* editor = window.partitionEditor();
    QCOMPARE(editor->chunkCount(), 4);
    QSignalSpy started(window.controller(), &SessionController::runStarted);
    QSignalSpy finished(window.controller(), &SessionController::runFinished);
    window.controller()->start(window.currentConfig(), /*paused=*/true);
    QTRY_COMPARE_WITH_TIMEOUT(started.count(), 1, 120000);
    QVERIFY(editor->isLive());
    std::vector<int> moved = editor->partition();
    moved[0] = moved[0] + 1 < moved[1] ? moved[0] + 1 : moved[0] - 1;
    QVERIFY(moved[0] > 0);
    QVERIFY2(window.requestRepartition(moved), qPrintable(window.noticeText()));
    window.controller()->resume();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 120000);
    const auto run = window.controller()->currentRun();
    QVERIFY2(run->summary.status == RunStatus::Completed, run->summary.error.c_str());
    QVERIFY(std::any_of(run->marks.begin(), run->marks.end(),
                        [&](const RunMark& m) { return m.kind == "repartition" && m.after == moved; }));
  }

  void replicasPerStageReachTheEngine() {
    MainWindow window;
    open(window, {QStringLiteral("steps=4"), QStringLiteral("schedule=gpipe"), QStringLiteral("microbatches=2")});
    auto* panel = window.strategyPanel();
    QVERIFY(panel->replicasSpin()->isEnabled());
    panel->replicasSpin()->setValue(2);
    QVERIFY2(panel->isValid(), qPrintable(panel->errorText()));
    QCOMPARE(window.currentConfig().num_devices(), 4);
    const auto run = runToEnd(window);
    QVERIFY(run);
    QVERIFY2(run->summary.status == RunStatus::Completed, run->summary.error.c_str());
    QCOMPARE(run->summary.replicas, 2);
    QCOMPARE(run->summary.per_stage.size(), std::size_t(4));
    std::multiset<int> replicas;
    for (const auto& st : run->summary.per_stage) replicas.insert(st.replica);
    QCOMPARE(replicas, (std::multiset<int>{0, 0, 1, 1}));
    QCOMPARE(window.pipelinePage()->timeline()->model().stageCount(), 4);  // a row per device
    QVERIFY(!window.partitionEditor()->isLive());  // no live repartition with replicas

    // The data-parallel schedule gives its replicas in Stages: the field is off there.
    panel->scheduleCombo()->setCurrentText(QStringLiteral("data-parallel"));
    QVERIFY(!panel->replicasSpin()->isEnabled());
    QCOMPARE(window.currentConfig().replicas, 1);
  }

  // The dashboard is rank 0; ranks 1.. are pipescope-cli processes it starts, and reaps. The weights
  // are those of the same run on threads, bit for bit.
  void processesRunFromTheGuiWithTheWeightsOfThreads() {
    MainWindow window;
    open(window, {QStringLiteral("steps=8")});
    auto* panel = window.strategyPanel();
    setExecutor(panel, QStringLiteral("processes"));
    QVERIFY2(panel->isValid(), qPrintable(panel->errorText()));
    QCOMPARE(window.currentConfig().executor, std::string("processes"));
    QSignalSpy started(window.controller(), &SessionController::runStarted);
    QSignalSpy finished(window.controller(), &SessionController::runFinished);
    // The ranks are read as the run starts: an 8-step run can end, and its ranks be retired, within the
    // same wait for the start.
    std::vector<qint64> pids;
    connect(window.controller(), &SessionController::runStarted, this, [&] { pids = window.controller()->rankPids(); });
    window.startRun();
    QTRY_COMPARE_WITH_TIMEOUT(started.count(), 1, 120000);
    QCOMPARE(pids.size(), std::size_t(1));  // 2 stages: rank 1 is a child of this process
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 120000);
    const auto procs = window.controller()->currentRun();
    QVERIFY2(procs->summary.status == RunStatus::Completed, procs->summary.error.c_str());
    QCOMPARE(procs->summary.per_stage.size(), std::size_t(2));
    QVERIFY(QString::fromStdString(procs->summary.per_stage[0].process)
                .startsWith(QStringLiteral("rank 0, pid %1 ").arg(QCoreApplication::applicationPid())));
    QVERIFY(QString::fromStdString(procs->summary.per_stage[1].process).startsWith(QStringLiteral("rank 1, pid %1 ").arg(pids[0])));
    QVERIFY(ui::RunListModel::details(*procs).contains(QStringLiteral("processes (c10d)")));
    QTRY_VERIFY_WITH_TIMEOUT(process_gone(pids[0]), 30000);  // reaped, not left behind

    setExecutor(panel, QStringLiteral("threaded"));
    const auto threads = runToEnd(window);
    QVERIFY(threads && threads != procs);
    QVERIFY2(threads->summary.status == RunStatus::Completed, threads->summary.error.c_str());
    QVERIFY(threads->summary.per_stage[1].process.empty());
    QVERIFY(!procs->summary.weights_digest.empty());
    QCOMPARE(procs->summary.weights_digest, threads->summary.weights_digest);
  }

  // Pause, step and resume reach every process: a run started paused runs only the ops it is stepped, each
  // rank its share of them; then it runs to its end with the weights of threads.
  void pauseAndStepReachEveryProcess() {
    MainWindow window;
    open(window, {QStringLiteral("steps=5"), QStringLiteral("schedule=gpipe")});
    auto* panel = window.strategyPanel();
    setExecutor(panel, QStringLiteral("processes"));
    QSignalSpy started(window.controller(), &SessionController::runStarted);
    QSignalSpy finished(window.controller(), &SessionController::runFinished);
    runToEnd(window, /*paused=*/true);
    QTRY_COMPARE_WITH_TIMEOUT(started.count(), 1, 120000);
    QTRY_COMPARE_WITH_TIMEOUT(window.controller()->status(), RunStatus::Paused, 10000);
    std::vector<OpEvent> ops;
    connect(window.controller(), &SessionController::telemetry, this,
            [&](const TelemetryBatch& b) { ops.insert(ops.end(), b.ops.begin(), b.ops.end()); });
    auto ran = [&](int stage, OpKind kind) {
      return std::count_if(ops.begin(), ops.end(), [&](const OpEvent& o) { return o.stage == stage && o.kind == kind; });
    };
    // Two ops of the whole run: one on each rank, F0 on both. Rank 1 (gpipe, M = 1) could go on with B0
    // at once: it waits, paused, for the next step.
    window.controller()->stepOps(2);
    QTRY_VERIFY_WITH_TIMEOUT(ran(0, OpKind::Forward) == 1 && ran(1, OpKind::Forward) == 1, 60000);
    QCOMPARE(ran(1, OpKind::Backward), 0);
    window.controller()->stepOps(2);  // B0 on both, and not their updates
    QTRY_VERIFY_WITH_TIMEOUT(ran(0, OpKind::Backward) == 1 && ran(1, OpKind::Backward) == 1, 60000);
    QCOMPARE(ran(0, OpKind::Update) + ran(1, OpKind::Update), 0);
    QCOMPARE(window.controller()->status(), RunStatus::Paused);
    window.controller()->stepMinibatch();  // 3 ops on each rank: U0, F1, B1
    QTRY_VERIFY_WITH_TIMEOUT(ran(0, OpKind::Backward) == 2 && ran(1, OpKind::Backward) == 2, 60000);
    QCOMPARE(ran(0, OpKind::Update) + ran(1, OpKind::Update), 2);
    QCOMPARE(ran(0, OpKind::Forward) + ran(1, OpKind::Forward), 4);
    window.controller()->stepMinibatch();  // U1, F2, B2
    QTRY_VERIFY_WITH_TIMEOUT(ran(0, OpKind::Backward) == 3 && ran(1, OpKind::Backward) == 3, 60000);
    QCOMPARE(ran(0, OpKind::Update) + ran(1, OpKind::Update), 4);
    QCOMPARE(window.controller()->status(), RunStatus::Paused);
    window.controller()->resume();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 120000);
    const auto procs = window.controller()->currentRun();
    QVERIFY2(procs->summary.status == RunStatus::Completed, procs->summary.error.c_str());
    QCOMPARE(procs->summary.steps, std::int64_t(5));

    setExecutor(panel, QStringLiteral("threaded"));
    const auto threads = runToEnd(window);
    QVERIFY(threads);
    QCOMPARE(procs->summary.weights_digest, threads->summary.weights_digest);
  }

  // A preset opened and started at once (as --autostart does): the dashboard prepares the preset's
  // session and, the panel's settings differing from the file's (a strategy parameter written out at its
  // default), builds a second one while the first is still being built. Both draw initial weights from
  // LibTorch's one generator; the run must still have its seed's weights, those of the CLI and of a
  // session built alone (SpecTrain's lesson read 0.66 and 0.92 in the dashboard, 0.78 on the CLI).
  void aRunStartedWhileAnotherIsPreparedHasTheWeightsOfARunAlone() {
    MainWindow window;
    window.setSaveSettingsOnClose(false);
    window.show();
    const QString preset = QStringLiteral(PIPESCOPE_SOURCE_DIR "/presets/classroom-spectrain.json");
    QVERIFY2(window.loadPreset(preset, {QStringLiteral("steps=12")}), qPrintable(window.noticeText()));
    QVERIFY(window.controller()->busy());  // the preset's session is being built
    const RunConfig asked = window.currentConfig();
    QSignalSpy finished(window.controller(), &SessionController::runFinished);
    window.startRun();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 120000);
    const auto run = window.controller()->currentRun();
    QVERIFY2(run->summary.status == RunStatus::Completed, run->summary.error.c_str());

    Session alone(asked);
    alone.start();
    alone.wait();
    QCOMPARE(alone.summary().status, RunStatus::Completed);
    QCOMPARE(run->summary.weights_digest, alone.summary().weights_digest);
  }

  // Without pipescope-cli the dashboard says so, names where it looked, and starts nothing.
  void aRunAsProcessesWithoutTheCliSaysWhy() {
    MainWindow window;
    open(window, {QStringLiteral("steps=2")});
    qputenv("PIPESCOPE_CLI", "/nonexistent/pipescope-cli");
    setExecutor(window.strategyPanel(), QStringLiteral("processes"));
    QSignalSpy failed(window.controller(), &SessionController::prepareFailed);
    window.startRun();
    QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 10000);
    QVERIFY(failed.at(0).at(0).toString().contains(QStringLiteral("pipescope-cli")));
    QVERIFY(window.controller()->rankPids().empty());
    qputenv("PIPESCOPE_CLI", PIPESCOPE_CLI);
  }
};

PS_WIDGET_TEST_MAIN(TestEngineModes)
#include "tst_engine_modes.moc"
