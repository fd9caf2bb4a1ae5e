// Throughput in the dashboard, against the real engine: every step has its own time on the monotonic
// clock (strictly increasing, its own rate), the run's samples/s holds while paused (run list, status
// bar) and a pause does not drag the figure down once the run goes on.
#include <QSignalSpy>
#include <QtTest>

#include "app/gui/main_window.h"
#include "app/gui/session_controller.h"
#include "widget_test_main.h"
#include "widgets/run_list_model.h"

using namespace ps;
using namespace ps::gui;

class TestRunThroughput : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

  void theRateHoldsWhilePausedAndLeavesThePauseOut() {
    MainWindow window;
    window.setSaveSettingsOnClose(false);
    window.show();
    QSignalSpy prepared(window.controller(), &SessionController::prepared);
    QVERIFY(window.loadPreset(QStringLiteral(PIPESCOPE_SOURCE_DIR "/presets/tiny.json"), {QStringLiteral("steps=100000")}));
    QTRY_VERIFY_WITH_TIMEOUT(prepared.count() >= 1, 60000);
    SessionController* c = window.controller();
    c->setOpDelay(std::chrono::milliseconds(1));
    window.startRun();
    QTRY_VERIFY_WITH_TIMEOUT(c->currentRun() && c->currentRun()->summary.steps >= 20 &&
                                 c->currentRun()->summary.samples_per_second > 0,
                             60000);
    const auto run = c->currentRun();
    auto* list = window.runList();
    auto rate_cell = [&] { return list->data(list->index(list->rowOf(run.get()), ui::RunListModel::Throughput)).toString(); };

    c->pause();
    QCOMPARE(c->status(), RunStatus::Paused);
    const double held = run->summary.samples_per_second;
    const QString held_cell = rate_cell();
    QVERIFY(held > 0);
    // Paused for twice as long as it ran: the engine's average over pipeline time (which goes on while
    // the workers wait) would fall to a third; the dashboard's holds.
    QSignalSpy summaries(c, &SessionController::summaryUpdated);
    QStringList cells;
    connect(c, &SessionController::summaryUpdated, this, [&] { cells << rate_cell(); });
    QTRY_VERIFY_WITH_TIMEOUT(summaries.count() >= 3 && c->pausedSeconds() >= 2.0 / 3.0 * run->summary.wall_seconds, 120000);
    QCOMPARE(run->summary.status, RunStatus::Paused);
    QCOMPARE(run->summary.samples_per_second, held);
    for (const QString& cell : cells) QCOMPARE(cell, held_cell);
    const double paused_for = c->pausedSeconds();

    c->resume();
    const std::int64_t at_resume = run->summary.steps;
    QTRY_VERIFY_WITH_TIMEOUT(run->summary.steps >= at_resume + 20, 60000);
    QSignalSpy finished(c, &SessionController::runFinished);
    c->stop();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 30000);
    QVERIFY(c->pausedSeconds() >= paused_for);  // the pause counted once, then no more
    // With the pause inside, the average would be at most about half the held figure.
    QVERIFY2(run->summary.samples_per_second > 0.75 * held,
             qPrintable(QStringLiteral("%1 samples/s after the pause, %2 before").arg(run->summary.samples_per_second).arg(held)));

    // Every step stamped when it completed, on the monotonic clock: strictly increasing, each its own rate.
    QVERIFY(run->steps.size() >= 40);
    for (std::size_t i = 1; i < run->steps.size(); ++i) {
      QVERIFY2(run->steps[i].wall_seconds > run->steps[i - 1].wall_seconds, qPrintable(QString::number(run->steps[i].step)));
      QVERIFY(run->steps[i].samples_per_second > 0);
    }
  }
};

PS_WIDGET_TEST_MAIN(TestRunThroughput)
#include "tst_run_throughput.moc"
