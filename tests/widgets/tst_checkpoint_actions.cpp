// The dashboard's checkpoint and divergence paths against the real engine on presets/tiny.json (a few
// steps each): Save checkpoint writes a file the engine reads back, a torn file is refused with a message
// and starts nothing, a diverged run says so and offers the resume at a lower learning rate, and the
// pipeline's transfers reach the timeline.
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QtTest>

#include "app/gui/checkpoint_ui.h"
#include "app/gui/main_window.h"
#include "app/gui/pipeline_page.h"
#include "app/gui/session_controller.h"
#include "engine/session/session.h"
#include "widgets/run_controls.h"
#include "widgets/run_list_model.h"
#include "widgets/timeline_view.h"
#include "widget_test_main.h"

using namespace ps;
using namespace ps::gui;

namespace {

const QString kTiny = QStringLiteral(PIPESCOPE_SOURCE_DIR "/presets/tiny.json");

RunConfig tiny(std::int64_t steps) {
  RunConfig c = load_preset(kTiny.toStdString());
  c.steps = steps;
  return c;
}

// A checkpoint of tiny after `steps` minibatches, written by the engine itself (no window involved).
void write_checkpoint(const QString& path, std::int64_t steps) {
  Session session(tiny(steps));
  session.start();
  session.wait();
  QCOMPARE(session.status(), RunStatus::Completed);
  session.save_checkpoint(path.toStdString());
}

QMessageBox* visible_message_box(QWidget* window) {
  for (QMessageBox* box : window->findChildren<QMessageBox*>())
    if (box->isVisible()) return box;
  return nullptr;
}

}  // namespace

class TestCheckpointActions : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

  QString file(const QString& name) const { return dir_.filePath(name); }

 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY(dir_.isValid());
  }

  void defaultNamesAndLoweredRates() {
    RunConfig c = tiny(5);
    QCOMPARE(default_checkpoint_name(c, 17), QStringLiteral("tiny-step17.ckpt"));
    c.name = "my run/2";
    QCOMPARE(default_checkpoint_name(c, 3), QStringLiteral("my-run-2-step3.ckpt"));
    QCOMPARE(lowered_learning_rate(0.05), 0.005);
    QCOMPARE(format_learning_rate(lowered_learning_rate(1e30)), QStringLiteral("1e+29"));
    QCOMPARE(format_learning_rate(0.005), QStringLiteral("0.005"));
  }

  void savingAFinishedRunWritesACheckpointTheEngineAccepts() {
    MainWindow window;
    window.setSaveSettingsOnClose(false);
    window.show();
    QVERIFY(window.loadPreset(kTiny, {QStringLiteral("steps=6")}));
    QVERIFY(!window.runControls()->saveCheckpointButton()->isEnabled());  // nothing run yet
    QSignalSpy finished(window.controller(), &SessionController::runFinished);
    window.startRun();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    QCOMPARE(window.runList()->run(0)->summary.status, RunStatus::Completed);
    QVERIFY(window.runControls()->saveCheckpointButton()->isEnabled());

    const QString path = file(QStringLiteral("saved/tiny-step6.ckpt"));  // the folder is created
    QSignalSpy saved(window.controller(), &SessionController::checkpointSaved);
    QVERIFY2(window.saveCheckpointTo(path), qPrintable(window.noticeText()));
    QTRY_COMPARE_WITH_TIMEOUT(saved.count(), 1, 10000);
    QCOMPARE(saved.at(0).at(1).toLongLong(), 6LL);
    const QString expected = QStringLiteral("Checkpoint saved: %1 (step 6)").arg(QDir::toNativeSeparators(path));
    QCOMPARE(window.lastCheckpointMessage(), expected);
    QCOMPARE(window.statusBar()->currentMessage(), expected);

    const RunConfig back = checkpoint_config(path.toStdString());  // throws for a torn or foreign file
    QCOMPARE(back.model.name, std::string("mlp"));
    QCOMPARE(back.steps, std::int64_t(6));
    QCOMPARE(back.optimizer.lr, 0.05);
    const auto last = window.controller()->lastCheckpoint();
    QVERIFY(last.has_value());
    QCOMPARE(QString::fromStdString(last->path), path);
  }

  void aTornCheckpointIsRefusedAndStartsNothing() {
    const QString good = file(QStringLiteral("torn-source.ckpt"));
    write_checkpoint(good, 3);
    QFile in(good);
    QVERIFY(in.open(QIODevice::ReadOnly));
    const QByteArray bytes = in.readAll();
    const QString torn = file(QStringLiteral("torn.ckpt"));
    QFile out(torn);
    QVERIFY(out.open(QIODevice::WriteOnly));
    out.write(bytes.left(bytes.size() / 2));  // a write cut short
    out.close();

    MainWindow window;
    window.setSaveSettingsOnClose(false);
    window.show();
    QVERIFY(window.loadPreset(kTiny));
    QSignalSpy prepared(window.controller(), &SessionController::prepared);
    QTRY_COMPARE_WITH_TIMEOUT(prepared.count(), 1, 60000);
    const QString title = window.windowTitle();
    const RunConfig before = window.currentConfig();

    QVERIFY(!window.resumeFromCheckpoint(torn, 0.01));
    QMessageBox* box = visible_message_box(&window);
    QVERIFY2(box, "a bad checkpoint must be reported in a message box");
    QVERIFY2(box->text().contains(QStringLiteral("torn.ckpt")), qPrintable(box->text()));
    QVERIFY2(box->text().size() > QDir::toNativeSeparators(torn).size() + 30, qPrintable(box->text()));  // and why
    box->accept();
    QTest::qWait(300);
    QCOMPARE(window.controller()->runsStarted(), 0);
    QCOMPARE(window.controller()->phase(), SessionController::Phase::Ready);
    QCOMPARE(window.windowTitle(), title);
    QCOMPARE(preset_to_json(window.currentConfig()), preset_to_json(before));

    // A file that is not a checkpoint at all (the preset itself) is refused the same way.
    QVERIFY(!window.resumeFromCheckpoint(kTiny));
    box = visible_message_box(&window);
    QVERIFY(box);
    QVERIFY2(box->text().contains(QStringLiteral("tiny.json")), qPrintable(box->text()));
    box->accept();
    QCOMPARE(window.controller()->runsStarted(), 0);
  }

  void aDivergedRunWithoutACheckpointSaysSo() {
    MainWindow window;
    window.setSaveSettingsOnClose(false);
    window.show();
    QVERIFY(window.loadPreset(kTiny, {QStringLiteral("optimizer.lr=1e30")}));
    QSignalSpy finished(window.controller(), &SessionController::runFinished);
    window.startRun();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    const auto run = window.runList()->run(0);
    QCOMPARE(run->summary.status, RunStatus::Diverged);
    DivergedBanner* banner = window.divergedBanner();
    QVERIFY(banner->isVisible());
    const QString text = banner->text();
    for (const char* word : {"diverged", "stage", "step", "minibatch", "No checkpoint"})
      QVERIFY2(text.contains(QLatin1String(word)), qPrintable(text));
    QVERIFY(!banner->resumeButton()->isVisible());
    QVERIFY(banner->enableCheckpointsButton()->isVisible());
    QVERIFY(!window.runControls()->saveCheckpointButton()->isEnabled());  // a diverged state is not saved
    QTest::mouseClick(banner->enableCheckpointsButton(), Qt::LeftButton);
    QVERIFY(window.runControls()->checkpointEvery() > 0);
    QCOMPARE(window.controller()->checkpointEvery(), double(window.runControls()->checkpointEvery()));
  }

  void aDivergedRunOffersToResumeItsCheckpointAtALowerLearningRate() {
    const QString path = file(QStringLiteral("tiny-step5.ckpt"));
    write_checkpoint(path, 5);
    MainWindow window;
    window.setSaveSettingsOnClose(false);
    window.show();
    QSignalSpy finished(window.controller(), &SessionController::runFinished);
    // Continue the 5 good steps with an absurd learning rate: the run diverges within a few steps.
    QVERIFY(window.resumeFromCheckpoint(path, 1e30, 40));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    QCOMPARE(window.runList()->run(0)->summary.status, RunStatus::Diverged);
    QCOMPARE(window.runList()->run(0)->config.optimizer.lr, 1e30);
    DivergedBanner* banner = window.divergedBanner();
    QVERIFY(banner->isVisible());
    QVERIFY2(banner->text().contains(QStringLiteral("minibatch")), qPrintable(banner->text()));
    QVERIFY(banner->resumeButton()->isVisible());
    QCOMPARE(banner->checkpointPath(), path);

    QTest::mouseClick(banner->resumeButton(), Qt::LeftButton);
    ResumeDialog* dialog = window.findChild<ResumeDialog*>();
    QVERIFY(dialog && dialog->isVisible());
    QCOMPARE(dialog->lrEdit()->text(), QStringLiteral("1e+29"));  // a tenth of the run's
    QCOMPARE(dialog->steps(), std::int64_t(40));
    dialog->lrEdit()->setText(QStringLiteral("nonsense"));
    QVERIFY(!dialog->resumeButton()->isEnabled());
    dialog->lrEdit()->setText(QStringLiteral("0.005"));
    QVERIFY(dialog->resumeButton()->isEnabled());
    dialog->stepsBox()->setValue(12);
    QTest::mouseClick(dialog->resumeButton(), Qt::LeftButton);

    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 60000);
    QVERIFY(!banner->isVisible());
    const auto resumed = window.runList()->run(1);
    QCOMPARE(resumed->summary.status, RunStatus::Completed);
    QCOMPARE(resumed->config.optimizer.lr, 0.005);
    QCOMPARE(std::int64_t(resumed->steps.size()), std::int64_t(12));  // 5 from the checkpoint, 7 more
    QCOMPARE(resumed->steps.back().step, std::int64_t(12));
    QCOMPARE(window.controller()->runsStarted(), 2);
  }

  void theResumeDialogContinuesToThePlannedEnd() {
    // The dialog alone: a checkpoint at step 5 of a run planned for 26 (an epoch's worth) goes on to 26,
    // never to or below step 5; a run saved at its end offers as many minibatches again.
    RunConfig epochs = tiny(0);
    ResumeDialog mid(QStringLiteral("x.ckpt"), epochs, 0.05, 5, 26);
    QCOMPARE(mid.steps(), std::int64_t(26));
    QCOMPARE(mid.stepsBox()->minimum(), 6);
    ResumeDialog done(QStringLiteral("x.ckpt"), epochs, 0.05, 26, 26);
    QCOMPARE(done.steps(), std::int64_t(52));

    // Against the engine: an epoch-based run saved at its end. The checkpoint says where it stands.
    const QString path = file(QStringLiteral("epochs.ckpt"));
    {
      Session session(epochs);
      session.start();
      session.wait();
      QCOMPARE(session.status(), RunStatus::Completed);
      session.save_checkpoint(path.toStdString());
    }
    const CheckpointProgress progress = checkpoint_progress(path.toStdString());
    QVERIFY(progress.step > 1);
    QCOMPARE(progress.planned_steps, progress.step);
    QCOMPARE(checkpoint_config(path.toStdString()).steps, std::int64_t(0));  // epoch-based
    MainWindow window;
    window.setSaveSettingsOnClose(false);
    window.show();
    window.offerLowerLearningRate(path, 0.05);
    ResumeDialog* dialog = window.findChild<ResumeDialog*>();
    QVERIFY(dialog && dialog->isVisible());
    QVERIFY2(dialog->steps() > progress.step, qPrintable(QString::number(dialog->steps())));  // was 1: nothing to run
    QCOMPARE(dialog->steps(), 2 * progress.step);
    dialog->reject();
  }

  void periodicCheckpointsAlsoSaveTheRunsEnd() {
    SessionController c;
    c.setCheckpointDir(file(QStringLiteral("auto")));
    c.setCheckpointEvery(1);
    QSignalSpy saved(&c, &SessionController::checkpointSaved);
    QSignalSpy finished(&c, &SessionController::runFinished);
    c.start(tiny(4));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    QTRY_COMPARE_WITH_TIMEOUT(saved.count(), 1, 10000);  // the run is far shorter than a minute: its end
    const QString path = saved.at(0).at(0).toString();
    QVERIFY2(path.startsWith(file(QStringLiteral("auto/tiny-"))) && path.endsWith(QStringLiteral(".ckpt")), qPrintable(path));
    QCOMPARE(saved.at(0).at(1).toLongLong(), 4LL);
    QCOMPARE(checkpoint_config(path.toStdString()).steps, std::int64_t(4));
    // Off again: the next session is built without checkpoints (the setting is part of what is prepared).
    c.setCheckpointEvery(0);
    c.start(tiny(4));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 60000);
    QTest::qWait(100);
    QCOMPARE(saved.count(), 1);
    QVERIFY(!c.lastCheckpoint().has_value());
  }

  void transfersReachTheTimeline() {
    MainWindow window;
    window.setSaveSettingsOnClose(false);
    window.show();
    QVERIFY(window.loadPreset(kTiny, {QStringLiteral("steps=4")}));
    QSignalSpy finished(window.controller(), &SessionController::runFinished);
    std::size_t delivered = 0;
    connect(window.controller(), &SessionController::telemetry, this,
            [&](const TelemetryBatch& b) { delivered += b.transfers.size(); });
    window.startRun();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    const auto& model = window.pipelinePage()->timeline()->model();
    QCOMPARE(model.laneCount(), 1);
    const auto& lane = model.transfers(0);
    QVERIFY2(!lane.empty(), "the engine's transfers must reach the timeline");
    QCOMPARE(lane.size(), delivered);
    bool activation = false, gradient = false;
    for (const TransferEvent& e : lane) {
      QVERIFY(e.t_end_ns >= e.t_start_ns);
      QVERIFY(e.bytes > 0);
      activation |= !e.gradient && e.from_stage == 0 && e.to_stage == 1;
      gradient |= e.gradient && e.from_stage == 1 && e.to_stage == 0;
    }
    QVERIFY(activation && gradient);
    // 4 minibatches through 2 stages: one activation and one gradient each.
    QCOMPARE(lane.size(), std::size_t(2 * 4));
  }
};

PS_WIDGET_TEST_MAIN(TestCheckpointActions)
#include "tst_checkpoint_actions.moc"
