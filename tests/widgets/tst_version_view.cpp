// The weight-version page as a lesson: forward and backward staleness as separate series (neither hidden
// under the other), divergence only where defined, the heatmap's colour scale following the data, the
// inconsistency of 'latest' and the live weight-copies counter.
#include <QLabel>
#include <QtTest>

#include "fixtures.h"
#include "widgets/qcp.h"
#include "widgets/version_view.h"
#include "widget_test_main.h"

using namespace ps;
using namespace ps::ui;

namespace {

// 'latest' on 2 stages: forwards read v(i-2) (staleness 2, divergence small), backwards the live v(i).
TelemetryBatch latest_run(int minibatches, double divergence) {
  TelemetryBatch batch;
  for (int i = 0; i < minibatches; ++i)
    for (int k = 0; k < 2; ++k) {
      const std::int64_t t = (i * 4 + k) * 1'000'000;
      OpEvent f = test::make_op(k, OpKind::Forward, i, t, t + 500'000, std::max(0, i - 2), std::max(0, i - 2), i);
      f.divergence = divergence * (k + 1);
      f.weight_copies = 1;
      f.weight_bytes = 4096;
      OpEvent b = test::make_op(k, OpKind::Backward, i, t + 2'000'000, t + 2'500'000, i, i, i);
      b.divergence = 0;
      b.weight_copies = 1;
      b.weight_bytes = 4096;
      batch.ops.push_back(f);
      batch.ops.push_back(b);
    }
  return batch;
}

}  // namespace

class TestVersionView : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void forwardAndBackwardAreSeparateVisibleSeries() {
    VersionView view;
    view.resize(1200, 700);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.appendBatch(latest_run(10, 0.02));
    for (int k = 0; k < 2; ++k) {
      QCPGraph* f = view.graph(k, VersionView::StalenessF);
      QCPGraph* b = view.graph(k, VersionView::StalenessB);
      QVERIFY(f && b);
      QCOMPARE(f->dataCount(), 10);
      QCOMPARE(b->dataCount(), 10);
      // B: markers only, drawn after (over) the F line, in another style.
      QCOMPARE(b->lineStyle(), QCPGraph::lsNone);
      QVERIFY(!b->scatterStyle().isNone());
      QVERIFY(f->scatterStyle().isNone());
      QVERIFY(b->layer() == f->layer());
      QVERIFY(view.seriesPlot()->graph(k * VersionView::kSeriesPerStage + VersionView::StalenessB) == b);
      // Divergence: the forwards' line has no zeros from the backwards.
      QCPGraph* df = view.graph(k, VersionView::DivergenceF);
      for (auto it = df->data()->constBegin(); it != df->data()->constEnd(); ++it) QVERIFY(it->value > 0);
      QCOMPARE(view.graph(k, VersionView::DivergenceB)->lineStyle(), QCPGraph::lsNone);
      // 'latest': backwards read 2 versions later than their forwards.
      QCPGraph* inc = view.graph(k, VersionView::Inconsistency);
      QVERIFY(inc->visible());
      QCOMPARE(inc->data()->at(inc->dataCount() - 1)->value, 2.0);
    }
  }

  void theHeatmapScaleFollowsTheData() {
    VersionView view;
    view.resize(1200, 700);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.appendBatch(latest_run(10, 0.01));  // forwards 0.01 (stage 0) and 0.02 (stage 1), backwards 0
    const QCPRange r = view.heatmap()->dataRange();
    QVERIFY2(r.upper <= 0.04 && r.upper > 0.005, qPrintable(QString::number(r.upper)));
    QVERIFY(r.lower >= 0 && r.lower < r.upper);
    view.clear();
    view.appendBatch(latest_run(10, 3.0));  // a different run: the scale moves with it
    QVERIFY(view.heatmap()->dataRange().upper > 1.0);
  }

  void theWeightCopiesCounterIsLive() {
    VersionView view;
    view.resize(1200, 700);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QVERIFY(view.weightMemoryText().isEmpty());
    TelemetryBatch batch;
    for (int copies : {1, 2, 4, 3}) {
      OpEvent e = test::make_op(0, OpKind::Forward, copies, copies * 10, copies * 10 + 5);
      e.weight_copies = copies;
      e.weight_bytes = copies * 2048;
      batch.ops.push_back(e);
    }
    view.appendBatch(batch);
    QVERIFY2(view.weightMemoryText().contains(QStringLiteral("stage 0: <b>3</b> (peak 4)")), qPrintable(view.weightMemoryText()));
    auto* label = view.findChild<QLabel*>(QStringLiteral("weightMemory"));
    QVERIFY(label && label->isVisible());
    QCOMPARE(label->text(), view.weightMemoryText());
  }
};

PS_WIDGET_TEST_MAIN(TestVersionView)
#include "tst_version_view.moc"
