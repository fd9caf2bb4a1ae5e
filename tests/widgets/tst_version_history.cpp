// Staleness series, divergence heatmap and the in-flight table derived from op events.
#include <QtTest>
#include <cmath>

#include "fixtures.h"
#include "widgets/version_history.h"
#include "widget_test_main.h"

using namespace ps;
using namespace ps::ui;

class TestVersionHistory : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void stalenessIsTargetMinusBasisPerKind() {
    VersionHistory h;
    h.add(test::make_op(1, OpKind::Forward, 5, 1000000000, 1100000000, 3, 3, 5));
    h.add(test::make_op(1, OpKind::Backward, 5, 2000000000, 2100000000, 4, 3, 5));
    h.add(test::make_op(1, OpKind::Update, 5, 2100000000, 2200000000, 4, 4, 5));  // no staleness for U
    QCOMPARE(h.stageCount(), 2);
    QCOMPARE(h.staleness(1, OpKind::Forward).v(), (std::vector<double>{2}));
    QCOMPARE(h.staleness(1, OpKind::Forward).t(), (std::vector<double>{1.0}));
    QCOMPARE(h.staleness(1, OpKind::Backward).v(), (std::vector<double>{2}));
    QVERIFY(h.staleness(0, OpKind::Forward).empty());
  }

  void inFlightHoldsForwardsWithoutTheirBackward() {
    VersionHistory h;
    h.add(test::make_op(0, OpKind::Forward, 0, 0, 10, 0, 0, 0));
    h.add(test::make_op(0, OpKind::Forward, 1, 10, 20, 0, 0, 1));
    h.add(test::make_op(1, OpKind::Forward, 0, 20, 30, 0, 0, 0));
    h.add(test::make_op(1, OpKind::Backward, 0, 30, 40, 0, 0, 0));
    h.add(test::make_op(0, OpKind::Forward, 2, 40, 50, 0, 0, 2));
    h.add(test::make_op(0, OpKind::Backward, 0, 50, 60, 0, 0, 0));
    const auto entries = h.inFlight();
    QCOMPARE(entries.size(), std::size_t(2));
    QCOMPARE(entries[0].stage, 0);
    QCOMPARE(entries[0].minibatch, 1);
    QCOMPARE(entries[1].minibatch, 2);
    QCOMPARE(entries[1].staleness(), std::int64_t(2));
  }

  void aWholeMinibatchBackwardRetiresItsMicrobatches() {
    VersionHistory h;
    for (int micro = 0; micro < 3; ++micro) {
      OpEvent f = test::make_op(0, OpKind::Forward, 4, micro * 10, micro * 10 + 5);
      f.micro = micro;
      h.add(f);
    }
    OpEvent f_other = test::make_op(0, OpKind::Forward, 5, 40, 45);
    f_other.micro = 0;
    h.add(f_other);
    OpEvent b_one = test::make_op(0, OpKind::Backward, 4, 50, 55);
    b_one.micro = 1;
    h.add(b_one);
    QCOMPARE(h.inFlight().size(), std::size_t(3));
    h.add(test::make_op(0, OpKind::Backward, 4, 60, 70));  // micro -1: the group
    const auto entries = h.inFlight();
    QCOMPARE(entries.size(), std::size_t(1));
    QCOMPARE(entries[0].minibatch, 5);
  }

  void divergenceAppearsOnlyWhereMeasured() {
    VersionHistory h;
    h.add(test::make_op(0, OpKind::Forward, 0, 0, 10));
    QVERIFY(!h.hasDivergence());
    OpEvent f = test::make_op(0, OpKind::Forward, 1, 100000000, 100000010);
    f.divergence = 0.25;
    f.prediction_gain = 1.5;
    h.add(f);
    QVERIFY(h.hasDivergence());
    QVERIFY(h.hasPredictionGain());
    QCOMPARE(h.divergence(0).v(), (std::vector<double>{0.25}));
    QCOMPARE(h.predictionGain(0).v(), (std::vector<double>{1.5}));
  }

  void heatmapAveragesPerBinAndWidensWithoutLosingData() {
    VersionHistory h(1000, 10);
    const double bin0 = h.heatmapBinSeconds();
    auto add_div = [&](int stage, double t_s, double value) {
      OpEvent e = test::make_op(stage, OpKind::Backward, 0, std::int64_t(t_s * 1e9), std::int64_t(t_s * 1e9) + 1);
      e.divergence = value;
      h.add(e);
    };
    add_div(0, 0.1 * bin0, 0.2);
    add_div(0, 0.5 * bin0, 0.4);
    add_div(1, 3.5 * bin0, 1.0);
    QCOMPARE(h.heatmapValue(0, 0), 0.3);
    QCOMPARE(h.heatmapValue(1, 3), 1.0);
    QVERIFY(std::isnan(h.heatmapValue(1, 0)));
    add_div(0, 25 * bin0, 0.6);  // past 10 bins: width doubles twice
    QCOMPARE(h.heatmapBinSeconds(), 4 * bin0);
    QCOMPARE(h.heatmapValue(0, 0), 0.3);  // the first two points stay in bin 0
    QCOMPARE(h.heatmapValue(1, 0), 1.0);  // 3.5 bins -> bin 0 at 4x width
    QCOMPARE(h.heatmapValue(0, 6), 0.6);  // 25 / 4 = 6.25
  }

  void forwardAndBackwardDivergenceAreSeparateSeries() {
    // 'latest': the forward read stale weights (divergence > 0), the backward the latest (0). One series
    // per kind: the forward's line never drops to the backward's zeros.
    VersionHistory h;
    for (int i = 0; i < 3; ++i) {
      OpEvent f = test::make_op(0, OpKind::Forward, i, i * 100, i * 100 + 10, i, i, i + 2);
      f.divergence = 0.01 * (i + 1);
      OpEvent b = test::make_op(0, OpKind::Backward, i, i * 100 + 50, i * 100 + 60, i + 2, i + 2, i + 2);
      b.divergence = 0;
      h.add(f);
      h.add(b);
    }
    QCOMPARE(h.divergence(0, OpKind::Forward).v(), (std::vector<double>{0.01, 0.02, 0.03}));
    QCOMPARE(h.divergence(0, OpKind::Backward).v(), (std::vector<double>{0, 0, 0}));
  }

  void inconsistencyIsTheBackwardsBasisMinusTheForwards() {
    VersionHistory h;
    h.add(test::make_op(1, OpKind::Forward, 61, 0, 10, 58, 58, 61));
    h.add(test::make_op(1, OpKind::Backward, 61, 20, 30, 61, 61, 61));  // latest: B reads v61, F read v58
    QCOMPARE(h.inconsistency(1).v(), (std::vector<double>{3}));
    QVERIFY(h.hasInconsistency());
    VersionHistory stash;  // the backward reads the forward's weights: 0, and nothing to show
    stash.add(test::make_op(0, OpKind::Forward, 5, 0, 10, 2, 2, 5));
    stash.add(test::make_op(0, OpKind::Backward, 5, 20, 30, 5, 2, 5));
    QCOMPARE(stash.inconsistency(0).v(), (std::vector<double>{0}));
    QVERIFY(!stash.hasInconsistency());
  }

  void weightCopiesAreCountedLivePerStage() {
    VersionHistory h;
    QVERIFY(!h.hasWeightMemory());
    for (int copies : {1, 2, 3, 4, 3}) {
      OpEvent e = test::make_op(0, OpKind::Forward, copies, copies * 10, copies * 10 + 5);
      e.weight_copies = copies;
      e.weight_bytes = copies * 1000;
      h.add(e);
    }
    OpEvent u = test::make_op(1, OpKind::Update, 0, 0, 5);
    u.weight_copies = 1;
    u.weight_bytes = 800;
    h.add(u);
    QVERIFY(h.hasWeightMemory());
    QCOMPARE(h.weightMemory(0).copies, 3);
    QCOMPARE(h.weightMemory(0).peak_copies, 4);
    QCOMPARE(h.weightMemory(0).bytes, std::int64_t(3000));
    QCOMPARE(h.weightMemory(0).peak_bytes, std::int64_t(4000));
    QCOMPARE(h.weightMemory(1).copies, 1);
  }

  void seriesStayBounded() {
    DecimatingSeries s(100);
    for (int i = 0; i < 10000; ++i) s.add(i, i);
    QVERIFY(s.size() <= 100);
    QVERIFY(s.size() >= 50);
    for (std::size_t i = 1; i < s.size(); ++i) QVERIFY(s.t()[i] > s.t()[i - 1]);
    QCOMPARE(s.t().front(), 0.0);
  }
};

PS_WIDGET_TEST_MAIN(TestVersionHistory)
#include "tst_version_history.moc"
