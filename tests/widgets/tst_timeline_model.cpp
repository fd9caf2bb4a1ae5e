// Visibility queries and hit tests of the timeline's data, checked against a brute-force scan.
#include <QtTest>
#include <random>

#include "fixtures.h"
#include "widgets/timeline_model.h"
#include "widget_test_main.h"

using namespace ps;
using namespace ps::ui;

namespace {

std::vector<std::size_t> brute_force_visible(const std::vector<OpEvent>& ops, std::int64_t t0, std::int64_t t1) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < ops.size(); ++i)
    if (ops[i].t_start_ns < t1 && (ops[i].t_end_ns > t0 || ops[i].t_start_ns >= t0)) out.push_back(i);
  return out;
}

std::vector<std::size_t> as_indices(IndexRange r) {
  std::vector<std::size_t> out;
  for (std::size_t i = r.first; i < r.last; ++i) out.push_back(i);
  return out;
}

}  // namespace

class TestTimelineModel : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void eventsLandInPerStageRowsSortedByStart() {
    TimelineModel model;
    model.append(test::make_stream(3, 5, 1000));
    QCOMPARE(model.stageCount(), 3);
    QCOMPARE(model.opCount(), std::size_t(3 * 5 * 3));
    for (int k = 0; k < 3; ++k) {
      const auto& ops = model.ops(k);
      for (std::size_t i = 1; i < ops.size(); ++i) QVERIFY(ops[i - 1].t_start_ns <= ops[i].t_start_ns);
      for (const auto& op : ops) QCOMPARE(op.stage, k);
    }
    QCOMPARE(model.startNs(), std::int64_t(0));
    QCOMPARE(model.endNs(), model.ops(2).back().t_end_ns);
  }

  void lateEventsAreInsertedInOrder() {
    TimelineModel model;
    model.addOp(test::make_op(0, OpKind::Forward, 0, 0, 10));
    model.addOp(test::make_op(0, OpKind::Forward, 2, 40, 50));
    model.addOp(test::make_op(0, OpKind::Forward, 1, 20, 30));
    QCOMPARE(model.ops(0).at(1).minibatch, 1);
    QCOMPARE(model.ops(0).at(2).minibatch, 2);
  }

  void visibleRangeMatchesABruteForceScan() {
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> gap(0, 500), len(1, 3000), pick(0, 400000);
    TimelineModel model;
    std::int64_t t = 0;
    for (int i = 0; i < 2000; ++i) {
      t += gap(rng);
      const std::int64_t end = t + len(rng);
      model.addOp(test::make_op(0, i % 3 == 2 ? OpKind::Update : OpKind::Forward, i, t, end));
      t = end;
    }
    for (int trial = 0; trial < 500; ++trial) {
      std::int64_t a = pick(rng), b = pick(rng);
      if (a > b) std::swap(a, b);
      QCOMPARE(as_indices(model.visibleOps(0, a, b + 1)), brute_force_visible(model.ops(0), a, b + 1));
    }
  }

  void aLongOpStartingBeforeTheRangeIsStillVisible() {
    TimelineModel model;
    model.addOp(test::make_op(0, OpKind::Forward, 0, 0, 100000));  // long
    for (int i = 1; i <= 50; ++i) model.addOp(test::make_op(0, OpKind::Backward, i, 100000 + i * 10, 100005 + i * 10));
    const IndexRange r = model.visibleOps(0, 50000, 60000);
    QCOMPARE(r.size(), std::size_t(1));
    QCOMPARE(model.ops(0)[r.first].minibatch, 0);
  }

  void hitTestFindsTheBoxOrTheNearestWithinTolerance() {
    TimelineModel model;
    model.addOp(test::make_op(1, OpKind::Forward, 7, 1000, 2000));
    model.addOp(test::make_op(1, OpKind::Backward, 7, 3000, 4000));
    QCOMPARE(model.opAt(1, 1500).value(), std::size_t(0));
    QCOMPARE(model.opAt(1, 3999).value(), std::size_t(1));
    QVERIFY(!model.opAt(1, 2500).has_value());
    QCOMPARE(model.opAt(1, 2100, 200).value(), std::size_t(0));  // in the gap, near the F
    QCOMPARE(model.opAt(1, 2900, 200).value(), std::size_t(1));  // in the gap, near the B
    QVERIFY(!model.opAt(0, 1500).has_value());                   // another stage
    QVERIFY(!model.opAt(5, 1500).has_value());                   // no such stage
  }

  void transfersGoToTheLaneBetweenNeighbours() {
    TimelineModel model;
    model.setStageCount(3);
    TransferEvent forward{0, 1, false, 4, -1, 10, 20, 1024};
    TransferEvent backward{2, 1, true, 4, -1, 30, 40, 1024};
    TransferEvent skip{0, 2, false, 4, -1, 10, 20, 1024};
    model.addTransfer(forward);
    model.addTransfer(backward);
    model.addTransfer(skip);
    QCOMPARE(model.laneCount(), 2);
    QCOMPARE(model.transfers(0).size(), std::size_t(1));
    QCOMPARE(model.transfers(1).size(), std::size_t(1));
    QVERIFY(model.transfers(1).at(0).gradient);
    QCOMPARE(model.visibleTransfers(1, 0, 35).size(), std::size_t(1));
    QCOMPARE(model.visibleTransfers(1, 0, 25).size(), std::size_t(0));
  }

  void memoryStaysBounded() {
    TimelineModel model(100);
    for (int i = 0; i < 1000; ++i) model.addOp(test::make_op(0, OpKind::Forward, i, i * 10, i * 10 + 5));
    QVERIFY(model.ops(0).size() <= 100);
    QCOMPARE(model.droppedOps() + std::int64_t(model.ops(0).size()), std::int64_t(1000));
    QCOMPARE(model.ops(0).back().minibatch, 999);  // the newest are kept
  }

  void marksAreKeptInTimeOrderAndFoundNearTheirTime() {
    TimelineModel model;
    TelemetryBatch b = test::make_stream(2, 3, 100);
    b.marks.push_back(RunMark{500, 4, "repartition", "partition 2 -> 3 at step 4", {2}, {3}});
    model.append(b);
    TelemetryBatch later;
    later.marks.push_back(RunMark{200, 1, "repartition", "earlier", {3}, {2}});  // out of order: sorted in
    model.append(later);
    QCOMPARE(model.marks().size(), std::size_t(2));
    QCOMPARE(model.marks()[0].t_ns, std::int64_t(200));
    QCOMPARE(model.marks()[1].after, (std::vector<int>{3}));
    QCOMPARE(model.markAt(510, 20), std::optional<std::size_t>(1));
    QCOMPARE(model.markAt(190, 20), std::optional<std::size_t>(0));
    QVERIFY(!model.markAt(350, 20).has_value());
    QCOMPARE(model.endNs(), model.ops(1).back().t_end_ns);  // a mark is not an op: the run's span is unchanged
  }

  void theGhostIsKeptApartFromTheMeasuredOps() {
    TimelineModel model;
    model.append(test::make_stream(2, 3, 100));
    const std::size_t measured = model.opCount();
    const TelemetryBatch predicted = test::make_stream(3, 4, 50);
    model.setGhostOps(predicted.ops);
    QVERIFY(model.hasGhost());
    QCOMPARE(model.ghostOpCount(), predicted.ops.size());
    QCOMPARE(model.opCount(), measured);  // the ghost never counts as measured
    QCOMPARE(model.stageCount(), 2);
    QCOMPARE(model.ghostOps(2).size(), std::size_t(4 * 3));
    QVERIFY(model.ghostOps(7).empty());
    const auto& row = model.ghostOps(1);
    QCOMPARE(as_indices(model.visibleGhostOps(1, 120, 260)), brute_force_visible(row, 120, 260));
    const auto hit = model.ghostOpAt(1, row[2].t_start_ns + 1);
    QVERIFY(hit.has_value());
    QCOMPARE(*hit, std::size_t(2));
    model.setGhostOps({});  // replaced as a whole
    QVERIFY(!model.hasGhost());
  }

  void clearEmptiesEverything() {
    TimelineModel model;
    TelemetryBatch b = test::make_stream(2, 3, 100);
    b.marks.push_back(RunMark{150, 1, "repartition", "", {1}, {2}});
    model.append(b);
    model.setGhostOps(test::make_stream(2, 3, 100).ops);
    model.clear();
    QVERIFY(model.empty());
    QCOMPARE(model.stageCount(), 0);
    QVERIFY(model.marks().empty());
    QVERIFY(!model.hasGhost());
  }
};

PS_WIDGET_TEST_MAIN(TestTimelineModel)
#include "tst_timeline_model.moc"
