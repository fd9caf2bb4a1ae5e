// The session controller against the real engine on presets/tiny.json: prepare off the GUI thread,
// batches delivered by polling, pause/step/stop without blocking the GUI thread, errors reported.
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QtTest>

#include "app/gui/session_controller.h"
#include "widget_test_main.h"

using namespace ps;
using namespace ps::gui;

namespace {
RunConfig tiny() {
  return load_preset(std::string(PIPESCOPE_SOURCE_DIR) + "/presets/tiny.json");
}
}  // namespace

class TestSessionController : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void runsAPresetToTheEndAndDeliversEverything() {
    SessionController c;
    QSignalSpy prepared(&c, &SessionController::prepared);
    QSignalSpy finished(&c, &SessionController::runFinished);
    std::size_t ops = 0, steps = 0;
    int batches = 0;
    connect(&c, &SessionController::telemetry, this, [&](const TelemetryBatch& b) {
      ops += b.ops.size();
      steps += b.steps.size();
      ++batches;
    });
    const RunConfig config = tiny();
    c.start(config);  // nothing prepared yet: prepares, then starts
    QCOMPARE(c.phase(), SessionController::Phase::Preparing);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    QCOMPARE(prepared.count(), 1);
    auto run = c.currentRun();
    QCOMPARE(run->summary.status, RunStatus::Completed);
    QCOMPARE(std::int64_t(steps), config.steps);
    QCOMPARE(std::int64_t(run->steps.size()), config.steps);
    // Every F, B and U of every stage: S * steps * (2M + 1) ops.
    QCOMPARE(std::int64_t(ops), std::int64_t(config.num_stages()) * config.steps * (2 * config.microbatches + 1));
    QVERIFY2(batches < int(ops), "events must arrive in batches, not one signal each");
    QCOMPARE(c.phase(), SessionController::Phase::Finished);
    QVERIFY(QFileInfo::exists(run->trace_path));
  }

  void pauseStepAndStopNeverBlockTheGuiThread() {
    SessionController c;
    QSignalSpy finished(&c, &SessionController::runFinished);
    std::size_t ops = 0;
    connect(&c, &SessionController::telemetry, this, [&](const TelemetryBatch& b) { ops += b.ops.size(); });
    c.setOpDelay(std::chrono::milliseconds(20));  // slow motion: the run cannot end by itself during the test
    c.start(tiny(), /*paused=*/true);
    QTRY_COMPARE_WITH_TIMEOUT(c.status(), RunStatus::Paused, 60000);
    QTest::qWait(200);
    QCOMPARE(ops, std::size_t(0));  // paused from the first op
    c.stepOps(3);
    QTRY_COMPARE_WITH_TIMEOUT(ops, std::size_t(3), 10000);
    QTest::qWait(150);
    QCOMPARE(ops, std::size_t(3));
    c.resume();
    QTRY_VERIFY_WITH_TIMEOUT(ops > 6, 10000);
    QElapsedTimer timer;
    timer.start();
    c.stop();
    QVERIFY2(timer.elapsed() < 50, "stop() must only ask");
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 10000);
    QCOMPARE(c.currentRun()->summary.status, RunStatus::Stopped);
  }

  void startDuringPreparationRunsTheNewestSettings() {
    SessionController c;
    QSignalSpy finished(&c, &SessionController::runFinished);
    c.prepare(tiny());
    RunConfig shorter = tiny();
    shorter.steps = 5;
    c.start(shorter);  // the settings changed while the first session was being built
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    QCOMPARE(std::int64_t(c.currentRun()->steps.size()), std::int64_t(5));
    QCOMPARE(c.runsStarted(), 1);
  }

  void aLiveRepartitionTakesEffectAndTheRunCompletes() {
    SessionController c;
    QSignalSpy prepared(&c, &SessionController::prepared);
    QSignalSpy finished(&c, &SessionController::runFinished);
    std::vector<RunMark> repartitioned;
    connect(&c, &SessionController::repartitioned, this, [&](const RunMark& m) { repartitioned.push_back(m); });
    std::size_t ops = 0, marks = 0;
    connect(&c, &SessionController::telemetry, this, [&](const TelemetryBatch& b) {
      ops += b.ops.size();
      marks += b.marks.size();
    });
    RunConfig config = tiny();
    config.steps = 30;
    c.setOpDelay(std::chrono::milliseconds(5));  // long enough to ask while it runs
    QString error;
    QVERIFY(!c.repartition({1}, &error));  // nothing runs yet
    QVERIFY(!error.isEmpty());
    c.start(config);
    QTRY_COMPARE_WITH_TIMEOUT(prepared.count(), 1, 60000);
    const int units = int(c.modelInfo()->units.size());
    const std::vector<int> before = c.partition();
    QCOMPARE(before.size(), std::size_t(1));
    const std::vector<int> after{before[0] > 1 ? before[0] - 1 : before[0] + 1};
    QVERIFY(after[0] >= 1 && after[0] < units);
    QTRY_VERIFY_WITH_TIMEOUT(ops > 10, 10000);
    QVERIFY(c.canRepartition());
    QVERIFY2(c.repartition(after, &error), qPrintable(error));
    QVERIFY(!c.repartition({units + 3}, &error));  // a partition that does not fit: refused, nothing thrown
    QVERIFY2(error.contains(QStringLiteral("partition")), qPrintable(error));
    QTRY_COMPARE_WITH_TIMEOUT(repartitioned.size(), std::size_t(1), 30000);
    const RunMark mark = repartitioned.front();
    QCOMPARE(mark.kind, std::string("repartition"));
    QCOMPARE(mark.before, before);
    QCOMPARE(mark.after, after);
    QVERIFY(mark.step > 0 && mark.step < config.steps);
    QCOMPARE(marks, std::size_t(1));  // the timeline got the mark with the telemetry
    QCOMPARE(c.partition(), after);
    QVERIFY(!c.pendingPartition().has_value());
    auto run = c.currentRun();
    QCOMPARE(run->config.partition, after);
    QCOMPARE(run->marks.size(), std::size_t(1));
    QCOMPARE(run->summary.per_stage.size(), std::size_t(2));
    QCOMPARE(run->summary.per_stage[1].first_layer, after[0]);  // the summary follows the new stages
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    QCOMPARE(run->summary.status, RunStatus::Completed);
    QCOMPARE(std::int64_t(run->steps.size()), config.steps);
    QVERIFY(!c.canRepartition());
  }

  void aDataParallelRunHasNoStagesToRepartition() {
    SessionController c;
    QSignalSpy finished(&c, &SessionController::runFinished);
    RunConfig config = tiny();
    config.schedule = "data-parallel";
    c.setOpDelay(std::chrono::milliseconds(5));
    c.start(config);
    QTRY_COMPARE_WITH_TIMEOUT(c.status(), RunStatus::Running, 60000);
    QVERIFY(!c.canRepartition());
    QString error;
    QVERIFY(!c.repartition({2}, &error));
    QVERIFY2(error.contains(QStringLiteral("data-parallel")), qPrintable(error));
    c.stop();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 10000);
  }

  void anInvalidConfigIsReportedWithItsField() {
    SessionController c;
    QSignalSpy failed(&c, &SessionController::prepareFailed);
    RunConfig config = tiny();
    config.partition = {0};  // an empty first stage
    c.prepare(config);
    QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 60000);
    QVERIFY2(failed.at(0).at(0).toString().contains(QStringLiteral("partition")), qPrintable(failed.at(0).at(0).toString()));
    QCOMPARE(c.phase(), SessionController::Phase::Empty);
  }
};

PS_WIDGET_TEST_MAIN(TestSessionController)
#include "tst_session_controller.moc"
