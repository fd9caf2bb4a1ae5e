// The dashboard's setup and controls against the real engine: shortcuts whatever has focus, Space on a
// finished run, a fresh state per preset, the optimizer fields and the one-click optimizer change, every
// schedule (data-parallel replicas included) started from the GUI, saved presets, the status bar's rate.
#include <algorithm>
#include <QComboBox>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStatusBar>
#include <QtTest>

#include "app/gui/main_window.h"
#include "app/gui/session_controller.h"
#include "app/gui/shortcut_guard.h"
#include "engine/schedule/schedule.h"
#include "widget_test_main.h"
#include "widgets/partition_editor.h"
#include "widgets/run_controls.h"
#include "widgets/run_list_model.h"
#include "widgets/run_record.h"
#include "widgets/strategy_panel.h"
#include "widgets/timeline_view.h"
#include "widgets/training_fields.h"
#include "app/gui/pipeline_page.h"

using namespace ps;
using namespace ps::gui;

namespace {
const QString kTiny = QStringLiteral(PIPESCOPE_SOURCE_DIR "/presets/tiny.json");
}

class TestDashboardSetup : public QObject {
  Q_OBJECT
 private:
  // A shown, active window with tiny loaded and prepared.
  static void open(MainWindow& window, const QStringList& overrides = {}) {
    window.setSaveSettingsOnClose(false);
    window.show();
    window.activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(&window));
    QSignalSpy prepared(window.controller(), &SessionController::prepared);
    QVERIFY2(window.loadPreset(kTiny, overrides), qPrintable(window.noticeText()));
    QTRY_VERIFY_WITH_TIMEOUT(prepared.count() >= 1, 60000);
  }

 private Q_SLOTS:
  void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

  void shortcutsWorkWhateverHasFocusAndNeverEditAField() {
    MainWindow window;
    open(window);
    auto* steps = window.strategyPanel()->findChild<QSpinBox*>(QStringLiteral("minibatches"));
    QVERIFY(steps);
    steps->setFocus();
    QTRY_VERIFY(steps->hasFocus());
    const QString text = steps->text();
    window.controller()->setOpDelay(std::chrono::milliseconds(20));  // long enough to stop it mid-run
    QSignalSpy finished(window.controller(), &SessionController::runFinished);
    QTest::keyClick(steps, Qt::Key_Space);
    QTRY_COMPARE_WITH_TIMEOUT(window.controller()->status(), RunStatus::Running, 60000);
    QCOMPARE(steps->text(), text);
    QTest::keyClick(steps, Qt::Key_Space);  // pause
    QTRY_COMPARE_WITH_TIMEOUT(window.controller()->status(), RunStatus::Paused, 10000);
    QTest::keyClick(steps, Qt::Key_S);  // a step, not an "S" in the field
    QTest::keyClick(steps, Qt::Key_Escape);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 10000);
    QCOMPARE(window.runList()->run(0)->summary.status, RunStatus::Stopped);
    QCOMPARE(steps->text(), text);
    QVERIFY(steps->hasFocus());

    // A text field keeps the letters typed into it.
    auto* lr = window.strategyPanel()->trainingFields()->learningRateEdit();
    lr->setFocus();
    QTRY_COMPARE(QApplication::focusWidget(), lr);
    QVERIFY(is_text_entry(lr));
    QVERIFY(!is_text_entry(steps->findChild<QLineEdit*>()));
  }

  void spaceOnAFinishedRunSaysWhatItDoesBeforeStartingAnother() {
    MainWindow window;
    open(window, {QStringLiteral("steps=4")});
    QSignalSpy finished(window.controller(), &SessionController::runFinished);
    QTest::keyClick(&window, Qt::Key_Space);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    QCOMPARE(window.controller()->runsStarted(), 1);
    QTest::keyClick(&window, Qt::Key_Space);
    QCOMPARE(window.controller()->runsStarted(), 1);  // not silently
    const QString message = window.statusBar()->currentMessage();
    QVERIFY2(message.contains(QStringLiteral("Space again")) && message.contains(QStringLiteral("completed")), qPrintable(message));
    QTest::keyClick(&window, Qt::Key_Space);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 60000);
    QCOMPARE(window.controller()->runsStarted(), 2);
  }

  void openingAPresetStartsFromAFreshState() {
    MainWindow window;
    open(window, {QStringLiteral("steps=4")});
    QSignalSpy finished(window.controller(), &SessionController::runFinished);
    window.startRun();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    QVERIFY(!window.pipelinePage()->timeline()->model().empty());
    QVERIFY(!window.metricsText().isEmpty());
    QVERIFY(window.loadPreset(kTiny));
    QVERIFY(window.pipelinePage()->timeline()->model().empty());
    QVERIFY2(!window.statusText().contains(QStringLiteral("completed")), qPrintable(window.statusText()));
    QVERIFY(window.metricsText().isEmpty());
    QCOMPARE(window.runControls()->status(), RunStatus::Idle);
    QCOMPARE(window.runList()->rowCount(), 1);  // the run itself stays in the list, for Compare
  }

  void aStrategyThatNeedsAnotherOptimizerOffersTheChange_data() {
    QTest::addColumn<QString>("strategy");
    QTest::addColumn<QString>("changes");
    QTest::newRow("nesterov") << QStringLiteral("nesterov") << QStringLiteral("optimizer.nesterov = true");
    QTest::newRow("adam-predict") << QStringLiteral("adam-predict") << QStringLiteral("optimizer.name = adam");
  }
  void aStrategyThatNeedsAnotherOptimizerOffersTheChange() {
    QFETCH(QString, strategy);
    QFETCH(QString, changes);
    MainWindow window;
    open(window, {QStringLiteral("steps=6")});
    auto* panel = window.strategyPanel();
    QVERIFY(panel->isValid());
    QVERIFY(panel->optimizerFixButton()->isHidden());
    panel->strategyCombo()->setCurrentText(strategy);
    QVERIFY(!panel->isValid());
    QVERIFY2(panel->errorText().contains(QStringLiteral("optimizer.")), qPrintable(panel->errorText()));
    window.startRun();  // refused, with the reason in the banner
    QVERIFY2(window.noticeText().contains(strategy), qPrintable(window.noticeText()));
    QVERIFY(!panel->optimizerFixButton()->isHidden());
    QVERIFY2(panel->optimizerFixText().contains(changes), qPrintable(panel->optimizerFixText()));
    panel->optimizerFixButton()->click();
    QVERIFY2(panel->isValid(), qPrintable(panel->errorText()));
    QVERIFY(panel->optimizerFixButton()->isHidden());
    QVERIFY(window.noticeText().isEmpty());  // the banner follows the settings
    QVERIFY2(window.statusBar()->currentMessage().contains(changes), qPrintable(window.statusBar()->currentMessage()));
    QSignalSpy finished(window.controller(), &SessionController::runFinished);
    window.startRun();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    const auto run = window.runList()->run(0);
    QCOMPARE(run->summary.status, RunStatus::Completed);
    QCOMPARE(run->summary.strategy, strategy.toStdString());
    if (strategy == QLatin1String("nesterov")) QVERIFY(run->config.optimizer.nesterov);
    else QCOMPARE(run->config.optimizer.name, std::string("adam"));
  }

  void theOptimizerFieldsReachTheEngine() {
    MainWindow window;
    open(window, {QStringLiteral("steps=5")});
    auto* fields = window.strategyPanel()->trainingFields();
    fields->optimizerCombo()->setCurrentText(QStringLiteral("adam"));
    fields->learningRateEdit()->setText(QStringLiteral("2e-3"));
    fields->scheduleCombo()->setCurrentText(QStringLiteral("cosine"));
    fields->batchSizeBox()->setValue(16);
    QVERIFY2(window.strategyPanel()->isValid(), qPrintable(window.strategyPanel()->errorText()));
    fields->learningRateEdit()->setText(QStringLiteral("-1"));  // validated like the strategy's parameters
    QVERIFY(!window.strategyPanel()->isValid());
    QVERIFY2(window.strategyPanel()->errorText().contains(QStringLiteral("optimizer.lr")), qPrintable(window.strategyPanel()->errorText()));
    fields->learningRateEdit()->setText(QStringLiteral("2e-3"));
    QSignalSpy finished(window.controller(), &SessionController::runFinished);
    window.startRun();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    const auto run = window.runList()->run(0);
    QCOMPARE(run->summary.status, RunStatus::Completed);
    QCOMPARE(run->config.optimizer.name, std::string("adam"));
    QCOMPARE(run->config.optimizer.lr, 2e-3);
    QCOMPARE(run->config.lr_schedule.name, std::string("cosine"));
    QCOMPARE(run->config.batch_size, 16);
    QCOMPARE(run->summary.samples, std::int64_t(5 * 16));  // the engine trained at that batch size
  }

  void everyScheduleRunsFromTheGui_data() {
    QTest::addColumn<QString>("schedule");
    for (const ScheduleInfo& s : schedule_catalog()) QTest::newRow(s.name.c_str()) << QString::fromStdString(s.name);
  }
  void everyScheduleRunsFromTheGui() {
    QFETCH(QString, schedule);
    MainWindow window;
    open(window, {QStringLiteral("steps=4")});
    auto* panel = window.strategyPanel();
    panel->scheduleCombo()->setCurrentText(schedule);
    const ScheduleInfo& info = schedule_info(schedule.toStdString());
    if (info.takes_microbatches)
      panel->findChild<QSpinBox*>(QStringLiteral("microbatches"))->setValue(std::max(2, info.min_microbatches(2)));
    panel->findChild<QSpinBox*>(QStringLiteral("stages"))->setValue(2);
    QVERIFY2(panel->isValid(), qPrintable(panel->errorText()));
    const RunConfig asked = window.currentConfig();
    if (info.replicas) {
      QVERIFY(asked.partition.empty());  // replicas take no partition: the engine refuses one
      QVERIFY(!window.partitionEditor()->isEnabled());
    }
    QCOMPARE(asked.num_stages(), 2);
    QSignalSpy finished(window.controller(), &SessionController::runFinished);
    window.startRun();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    const auto run = window.runList()->run(0);
    QVERIFY2(run->summary.status == RunStatus::Completed, run->summary.error.c_str());
    QCOMPARE(run->summary.schedule, schedule.toStdString());
    QCOMPARE(run->summary.stages, 2);
    QCOMPARE(run->summary.microbatches, info.takes_microbatches ? std::max(2, info.min_microbatches(2)) : 1);
    QCOMPARE(run->summary.steps, std::int64_t(4));
  }

  void aSavedPresetHasItsOwnNameAndDescription() {
    MainWindow window;
    open(window);
    window.strategyPanel()->strategyCombo()->setCurrentText(QStringLiteral("stash"));
    const RunConfig saved = window.presetToSave(QStringLiteral("my-stash"));
    QCOMPARE(saved.name, std::string("my-stash"));
    const QString d = QString::fromStdString(saved.description);
    QVERIFY2(d.contains(QStringLiteral("based on the preset 'tiny'")) && d.contains(QStringLiteral("strategy.name = stash")), qPrintable(d));
    QVERIFY(!d.contains(QStringLiteral("smoke test")));  // not the old preset's text
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("my-stash.json"));
    QVERIFY(window.savePresetTo(path));
    const RunConfig back = load_preset(path.toStdString());
    QCOMPARE(back.name, std::string("my-stash"));
    QCOMPARE(back.description, saved.description);
    QCOMPARE(back.strategy.name, std::string("stash"));
  }

  void exportDialogsOpenWithAFileName() {
    MainWindow window;
    open(window, {QStringLiteral("steps=3")});
    QSignalSpy finished(window.controller(), &SessionController::runFinished);
    window.startRun();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    const QString path = window.exportPath(QStringLiteral("screenshot"), QStringLiteral(".png"));
    QVERIFY2(QFileInfo(path).fileName().startsWith(QStringLiteral("tiny-run-1-")), qPrintable(path));
    QVERIFY2(path.endsWith(QStringLiteral("tiny-run-1-1f1b-async-latest-screenshot.png")), qPrintable(path));
    QVERIFY(QFileInfo(path).isAbsolute());
  }

  void theStatusBarRateHoldsWhilePaused() {
    MainWindow window;
    open(window, {QStringLiteral("steps=100000")});
    window.controller()->setOpDelay(std::chrono::milliseconds(1));
    QSignalSpy summaries(window.controller(), &SessionController::summaryUpdated);
    window.startRun();
    QTRY_VERIFY_WITH_TIMEOUT(window.runList()->rowCount() == 1 && window.runList()->run(0)->summary.steps >= 3, 60000);
    window.controller()->pause();
    QTRY_COMPARE_WITH_TIMEOUT(window.controller()->status(), RunStatus::Paused, 10000);
    QTRY_VERIFY_WITH_TIMEOUT(window.metricsText().contains(QStringLiteral("samples/s")), 10000);
    // The rate alone: an op in flight at the pause may still complete a step (step and loss move).
    auto rate = [&] { return window.metricsText().section(QStringLiteral(" · "), 2, 2); };
    const int seen = summaries.count();
    QTRY_VERIFY_WITH_TIMEOUT(summaries.count() >= seen + 2, 30000);
    QTRY_VERIFY_WITH_TIMEOUT(window.runList()->run(0)->summary.status == RunStatus::Paused, 10000);
    const QString held = rate();
    QVERIFY2(held.contains(QStringLiteral("samples/s")), qPrintable(held));
    const int later = summaries.count();
    QTRY_VERIFY_WITH_TIMEOUT(summaries.count() >= later + 3, 30000);  // the engine's average decays meanwhile
    QCOMPARE(rate(), held);
    window.controller()->stop();
    QSignalSpy finished(window.controller(), &SessionController::runFinished);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 10000);
  }
};

PS_WIDGET_TEST_MAIN(TestDashboardSetup)
#include "tst_dashboard_setup.moc"
