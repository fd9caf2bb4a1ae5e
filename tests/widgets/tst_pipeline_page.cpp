// The pipeline page's clock and bubble figures: stepping and slow motion switch to op slots by
// themselves (the user may switch back), full speed undoes an automatic switch, and the bubble is split
// into ideal, schedule (compute clock) and wall, with the reason they differ.
#include <QComboBox>
#include <QtTest>

#include "app/gui/pipeline_page.h"
#include "fixtures.h"
#include "widgets/timeline_view.h"
#include "widget_test_main.h"

using namespace ps;
using namespace ps::gui;
using ui::TimelineClock;

class TestPipelinePage : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void steppingAndSlowMotionSwitchToOpSlots() {
    PipelinePage page;
    auto* timeline = page.timeline();
    QCOMPARE(timeline->clock(), TimelineClock::Wall);  // full speed: wall time
    page.setPacing(PipelinePage::Pacing::Stepping);
    QCOMPARE(timeline->clock(), TimelineClock::Slots);
    QVERIFY(timeline->markLatest());
    QCOMPARE(page.clockCombo()->currentData().toInt(), static_cast<int>(TimelineClock::Slots));
    page.setPacing(PipelinePage::Pacing::FullSpeed);  // the automatic switch is undone
    QCOMPARE(timeline->clock(), TimelineClock::Wall);
    QVERIFY(!timeline->markLatest());
    page.setPacing(PipelinePage::Pacing::SlowMotion);
    QCOMPARE(timeline->clock(), TimelineClock::Slots);
    QVERIFY(!timeline->markLatest());
  }

  void theUsersChoiceStays() {
    PipelinePage page;
    page.setPacing(PipelinePage::Pacing::Stepping);
    // The user goes back to wall time while stepping: it stays, and full speed does not touch it either.
    page.clockCombo()->setCurrentIndex(page.clockCombo()->findData(static_cast<int>(TimelineClock::Wall)));
    Q_EMIT page.clockCombo()->activated(page.clockCombo()->currentIndex());
    QCOMPARE(page.timeline()->clock(), TimelineClock::Wall);
    page.setPacing(PipelinePage::Pacing::Stepping);  // no change of pacing: no switch
    QCOMPARE(page.timeline()->clock(), TimelineClock::Wall);
    // Compute time chosen at full speed survives slow motion and the return to full speed.
    page.setPacing(PipelinePage::Pacing::FullSpeed);
    page.clockCombo()->setCurrentIndex(page.clockCombo()->findData(static_cast<int>(TimelineClock::Compute)));
    Q_EMIT page.clockCombo()->activated(page.clockCombo()->currentIndex());
    page.setPacing(PipelinePage::Pacing::SlowMotion);
    QCOMPARE(page.timeline()->clock(), TimelineClock::Compute);
    page.setPacing(PipelinePage::Pacing::FullSpeed);
    QCOMPARE(page.timeline()->clock(), TimelineClock::Compute);
  }

  void theBubbleIsSplitWithItsReason() {
    PipelinePage page;
    page.setCores(2);
    TelemetryBatch b;  // 2 stages: the compute clock's bubble is 50% (see tst_timeline_model)
    b.ops.push_back(test::make_op(0, OpKind::Forward, 0, 0, 100));
    b.ops.push_back(test::make_op(1, OpKind::Forward, 0, 10'000, 10'100));
    b.ops.push_back(test::make_op(1, OpKind::Backward, 0, 10'100, 10'300));
    b.ops.push_back(test::make_op(0, OpKind::Backward, 0, 50'000, 50'200));
    b.ops.push_back(test::make_op(0, OpKind::Update, 0, 50'200, 50'210));
    page.timeline()->appendBatch(b);
    RunSummary s;
    s.stages = 4;
    for (int k = 0; k < 4; ++k) {
      StageSummary st;
      st.stage = k;
      st.device = "cpu";
      s.per_stage.push_back(st);
    }
    s.bubble_fraction_ideal = 0;
    s.bubble_fraction_measured = 0.79;
    page.showSummary(s);
    const QString text = page.figuresText();
    QVERIFY2(text.contains(QStringLiteral("ideal 0")), qPrintable(text));
    QVERIFY2(text.contains(QStringLiteral("schedule 50")), qPrintable(text));
    QVERIFY2(text.contains(QStringLiteral("wall 79")), qPrintable(text));
    QVERIFY2(text.contains(QStringLiteral("4 stages share 2 cores")), qPrintable(text));
    page.setCores(4);
    QVERIFY(!page.figuresText().contains(QStringLiteral("share")));
    page.setPacing(PipelinePage::Pacing::SlowMotion);
    QVERIFY(page.bubbleReason().contains(QStringLiteral("slow motion")));
  }
};

PS_WIDGET_TEST_MAIN(TestPipelinePage)
#include "tst_pipeline_page.moc"
