// The whole dashboard on presets/tiny.json for real: every view fills, the run lands in the run list,
// and a screenshot is written (build/tests/widgets/main_window.png) for a person to look at.
#include <QSignalSpy>
#include <QTabWidget>
#include <QtTest>

#include "app/gui/main_window.h"
#include "app/gui/session_controller.h"
#include "widgets/curves_view.h"
#include "widgets/run_compare_view.h"
#include "widgets/strategy_panel.h"
#include <QComboBox>
#include <QTableWidget>
#include "widgets/partition_editor.h"
#include "widgets/run_list_model.h"
#include "widgets/timeline_view.h"
#include "widgets/version_view.h"
#include "app/gui/pipeline_page.h"
#include "widget_test_main.h"

using namespace ps;
using namespace ps::gui;

class TestMainWindow : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

  void runsTinyPresetAndShowsIt() {
    MainWindow window;
    window.resize(1500, 950);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QVERIFY2(window.loadPreset(QStringLiteral(PIPESCOPE_SOURCE_DIR "/presets/tiny.json")), qPrintable(window.noticeText()));
    QSignalSpy prepared(window.controller(), &SessionController::prepared);
    QTRY_COMPARE_WITH_TIMEOUT(prepared.count(), 1, 60000);
    const RunConfig config = window.currentConfig();
    QCOMPARE(window.partitionEditor()->stageCount(), config.num_stages());
    QVERIFY(!window.partitionEditor()->modelInfo().units.empty());

    QSignalSpy finished(window.controller(), &SessionController::runFinished);
    window.startRun();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    QCOMPARE(window.runList()->rowCount(), 1);
    auto run = window.runList()->run(0);
    QCOMPARE(run->summary.status, RunStatus::Completed);
    const auto& timeline = window.pipelinePage()->timeline()->model();
    QCOMPARE(timeline.stageCount(), config.num_stages());
    for (int k = 0; k < timeline.stageCount(); ++k) QVERIFY(!timeline.ops(k).empty());
    QCOMPARE(window.versionView()->history().stageCount(), config.num_stages());
    QCOMPARE(std::int64_t(run->steps.size()), config.steps);

    window.pages()->setCurrentIndex(MainWindow::PipelinePageIndex);
    QTest::qWait(100);
    const QString path = QDir(QCoreApplication::applicationDirPath()).filePath(QStringLiteral("main_window.png"));
    QVERIFY(window.saveScreenshot(path));
    QVERIFY(QFileInfo(path).size() > 10000);
  }

  void aSecondRunIsComparedWithTheFirst() {
    MainWindow window;
    window.resize(1500, 950);
    window.show();
    QVERIFY(window.loadPreset(QStringLiteral(PIPESCOPE_SOURCE_DIR "/presets/tiny.json")));
    QSignalSpy finished(window.controller(), &SessionController::runFinished);
    window.startRun();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    window.strategyPanel()->strategyCombo()->setCurrentText(QStringLiteral("stash"));
    window.startRun();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 60000);
    QCOMPARE(window.runList()->rowCount(), 2);
    QCOMPARE(window.runList()->run(1)->config.strategy.name, std::string("stash"));
    window.pages()->setCurrentIndex(MainWindow::ComparePageIndex);
    auto* diff = window.findChild<ps::ui::RunCompareView*>()->diffTable();
    QCOMPARE(diff->rowCount(), 1);
    QCOMPARE(diff->item(0, 0)->text(), QStringLiteral("strategy.name"));
    QTest::qWait(100);
    QVERIFY(window.saveScreenshot(QDir(QCoreApplication::applicationDirPath()).filePath(QStringLiteral("compare.png"))));
  }

  void keyboardDrivesTheRun() {
    MainWindow window;
    window.show();
    window.activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(&window));
    QVERIFY(window.loadPreset(QStringLiteral(PIPESCOPE_SOURCE_DIR "/presets/tiny.json")));
    QSignalSpy prepared(window.controller(), &SessionController::prepared);
    QTRY_COMPARE_WITH_TIMEOUT(prepared.count(), 1, 60000);
    window.controller()->setOpDelay(std::chrono::milliseconds(10));  // slow enough to catch mid-run
    std::size_t ops = 0;
    connect(window.controller(), &SessionController::telemetry, this, [&](const TelemetryBatch& b) { ops += b.ops.size(); });

    QTest::keyClick(&window, Qt::Key_Space);  // start
    QTRY_COMPARE_WITH_TIMEOUT(window.controller()->status(), RunStatus::Running, 10000);
    QTest::keyClick(&window, Qt::Key_Space);  // pause
    QTRY_COMPARE_WITH_TIMEOUT(window.controller()->status(), RunStatus::Paused, 10000);
    QTest::qWait(200);  // the op in progress when pausing may still arrive
    const std::size_t paused_at = ops;
    QTest::keyClick(&window, Qt::Key_S);  // one op
    QTRY_COMPARE_WITH_TIMEOUT(ops, paused_at + 1, 10000);
    QTest::keyClick(&window, Qt::Key_3, Qt::ControlModifier);
    QCOMPARE(window.pages()->currentIndex(), int(MainWindow::CurvesPageIndex));
    QSignalSpy finished(window.controller(), &SessionController::runFinished);
    QTest::keyClick(&window, Qt::Key_Escape);  // stop
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 10000);
    QCOMPARE(window.runList()->run(0)->summary.status, RunStatus::Stopped);
  }

  void aPartitionEditedBeforeStartIsTheOneThatRuns() {
    MainWindow window;
    window.show();
    QVERIFY(window.loadPreset(QStringLiteral(PIPESCOPE_SOURCE_DIR "/presets/tiny.json")));
    QSignalSpy prepared(window.controller(), &SessionController::prepared);
    QTRY_COMPARE_WITH_TIMEOUT(prepared.count(), 1, 60000);
    const int units = int(window.partitionEditor()->modelInfo().units.size());
    QVERIFY(units >= 3);
    window.partitionEditor()->setPartition({1, units - 1}, true);  // three stages
    QCOMPARE(window.currentConfig().num_stages(), 3);
    QSignalSpy finished(window.controller(), &SessionController::runFinished);
    window.startRun();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    auto run = window.runList()->run(0);
    QCOMPARE(run->config.partition, (std::vector<int>{1, units - 1}));
    QCOMPARE(window.pipelinePage()->timeline()->model().stageCount(), 3);
  }
};

PS_WIDGET_TEST_MAIN(TestMainWindow)
#include "tst_main_window.moc"
