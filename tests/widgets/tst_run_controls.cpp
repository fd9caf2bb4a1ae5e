// Run controls: the slow-motion mapping and which buttons a status allows.
#include <QApplication>
#include <QPushButton>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QtTest>

#include "widgets/run_controls.h"
#include "widget_test_main.h"

using namespace ps;
using namespace ps::ui;

class TestRunControls : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void slowMotionStartsAtFullSpeedAndGrowsMonotonically() {
    QCOMPARE(slow_motion_delay(0).count(), 0);
    QVERIFY(slow_motion_delay(1).count() > 0);
    for (int v = 1; v <= RunControls::kSliderMax; ++v)
      QVERIFY(slow_motion_delay(v).count() > slow_motion_delay(v - 1).count());
    QCOMPARE(slow_motion_delay(RunControls::kSliderMax).count(), 500000);
    QCOMPARE(slow_motion_delay(RunControls::kSliderMax + 50).count(), 500000);
  }

  void sliderEmitsTheDelay() {
    RunControls c;
    QSignalSpy spy(&c, &RunControls::opDelayChanged);
    c.setSlowMotion(50);
    QCOMPARE(spy.count(), 1);
    QCOMPARE(spy.at(0).at(0).value<std::chrono::microseconds>(), slow_motion_delay(50));
    QCOMPARE(c.opDelay(), slow_motion_delay(50));
  }

  void buttonsFollowTheStatus() {
    RunControls c;
    c.show();
    c.setStatus(RunStatus::Idle);
    QVERIFY(c.startButton()->isVisible() && c.startButton()->isEnabled());
    QVERIFY(!c.stopButton()->isEnabled());
    QVERIFY(!c.stepOpButton()->isEnabled());
    c.setStatus(RunStatus::Running);
    QVERIFY(!c.startButton()->isVisible());
    QVERIFY(c.pauseButton()->isEnabled());
    QVERIFY(c.stopButton()->isEnabled());
    QVERIFY(!c.stepOpButton()->isEnabled());
    c.setStatus(RunStatus::Paused);
    QVERIFY(c.resumeButton()->isVisible());
    QVERIFY(!c.pauseButton()->isVisible());
    QVERIFY(c.stepOpButton()->isEnabled() && c.stepMinibatchButton()->isEnabled());
    c.setStatus(RunStatus::Completed);
    QVERIFY(c.startButton()->isVisible() && c.startButton()->isEnabled());
    QVERIFY(!c.stopButton()->isEnabled());
    c.setStatus(RunStatus::Idle, /*preparing=*/true);
    QVERIFY(!c.startButton()->isEnabled());
  }

  void nothingMovesWhenTheStatusOrTheSlowMotionChanges() {
    RunControls c;
    c.resize(c.sizeHint());
    c.show();
    QVERIFY(QTest::qWaitForWindowExposed(&c));
    const int slot = c.startButton()->width();
    QCOMPARE(c.pauseButton()->width(), slot);
    QCOMPARE(c.resumeButton()->width(), slot);
    auto* slider = c.findChild<QSlider*>();
    const QPoint slider_at = slider->pos();
    const int hint = c.sizeHint().width();
    for (auto [status, preparing] : {std::pair{RunStatus::Idle, true}, std::pair{RunStatus::Running, false},
                                     std::pair{RunStatus::Paused, false}, std::pair{RunStatus::Completed, false}}) {
      c.setStatus(status, preparing);
      QApplication::processEvents();  // the layout settles (a state, no waiting for time)
      QCOMPARE(c.sizeHint().width(), hint);
      QCOMPARE(slider->pos(), slider_at);
      int shown = 0;
      for (QPushButton* b : {c.startButton(), c.pauseButton(), c.resumeButton()}) shown += b->isVisible() ? 1 : 0;
      QCOMPARE(shown, 1);  // one of the three, in one slot
    }
    const QPoint save_at = c.saveCheckpointButton()->pos();
    for (int v : {0, 1, 40, 77, 100}) {
      c.setSlowMotion(v);
      QApplication::processEvents();
      QCOMPARE(c.saveCheckpointButton()->pos(), save_at);
    }
  }

  // At zoom 1.5 on a 1280-pixel projector the labels do not fit: the bar keeps every button as an icon
  // (its tooltip names it) instead of forcing the window wider, and gets its labels back when widened.
  void aNarrowBarShowsIconsOnlyAndNeverForcesTheWindowWider() {
    RunControls c;
    QFont big = c.font();
    big.setPointSizeF(big.pointSizeF() * 1.5);
    c.setFont(big);
    const int full = c.sizeHint().width();
    QVERIFY(c.minimumSizeHint().width() < full * 2 / 3);
    c.resize(full, c.sizeHint().height());
    c.show();
    QVERIFY(QTest::qWaitForWindowExposed(&c));
    QVERIFY(!c.isCompact());
    QCOMPARE(c.startButton()->text(), tr("Start"));
    c.resize(full - 40, c.height());
    QTRY_VERIFY(c.isCompact());
    QVERIFY(c.startButton()->text().isEmpty());
    QVERIFY(!c.startButton()->toolTip().isEmpty());
    QVERIFY(!c.startButton()->icon().isNull());
    c.setStatus(RunStatus::Idle, true);  // a status change keeps the bar compact
    QVERIFY(c.startButton()->text().isEmpty());
    c.setStatus(RunStatus::Idle, false);
    QApplication::processEvents();
    for (QPushButton* b : c.findChildren<QPushButton*>())  // every button inside the bar
      if (b->isVisible()) QVERIFY(b->geometry().right() <= c.width());
    c.resize(full + 10, c.height());
    QTRY_VERIFY(!c.isCompact());
    QCOMPARE(c.startButton()->text(), tr("Start"));
  }

  void saveCheckpointOnlyForARunWorthSaving() {
    RunControls c;
    c.show();
    c.setStatus(RunStatus::Idle);
    QVERIFY(!c.saveCheckpointButton()->isEnabled());  // nothing to save
    c.setStatus(RunStatus::Running);
    QVERIFY(c.saveCheckpointButton()->isEnabled());
    c.setStatus(RunStatus::Paused);
    QVERIFY(c.saveCheckpointButton()->isEnabled());
    c.setStatus(RunStatus::Completed);
    QVERIFY(c.saveCheckpointButton()->isEnabled());
    c.setStatus(RunStatus::Stopped);
    QVERIFY(c.saveCheckpointButton()->isEnabled());
    c.setStatus(RunStatus::Diverged);
    QVERIFY(!c.saveCheckpointButton()->isEnabled());
    c.setStatus(RunStatus::Failed);
    QVERIFY(!c.saveCheckpointButton()->isEnabled());
    c.setStatus(RunStatus::Running);
    QSignalSpy save(&c, &RunControls::saveCheckpointRequested);
    QTest::mouseClick(c.saveCheckpointButton(), Qt::LeftButton);
    QCOMPARE(save.count(), 1);
  }

  void checkpointPeriodIsOffUntilSet() {
    RunControls c;
    QCOMPARE(c.checkpointEvery(), 0);
    QCOMPARE(c.checkpointEveryBox()->text(), QStringLiteral("off"));
    QSignalSpy spy(&c, &RunControls::checkpointEveryChanged);
    c.setCheckpointEvery(5);
    QCOMPARE(spy.count(), 1);
    QCOMPARE(spy.at(0).at(0).toInt(), 5);
    QCOMPARE(c.checkpointEvery(), 5);
  }

  void clicksBecomeRequests() {
    RunControls c;
    c.show();
    c.setStatus(RunStatus::Paused);
    QSignalSpy step(&c, &RunControls::stepOpRequested);
    QSignalSpy resume(&c, &RunControls::resumeRequested);
    QTest::mouseClick(c.stepOpButton(), Qt::LeftButton);
    QTest::mouseClick(c.resumeButton(), Qt::LeftButton);
    QCOMPARE(step.count(), 1);
    QCOMPARE(resume.count(), 1);
  }
};

PS_WIDGET_TEST_MAIN(TestRunControls)
#include "tst_run_controls.moc"
