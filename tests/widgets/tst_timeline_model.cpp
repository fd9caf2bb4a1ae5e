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
  // ---- the schedule clock --------------------------------------------------------------------------

  // Two stages, one minibatch: F0 and F1 on stage 0, then a long pause (a teacher talking) before stage 1
  // runs them, and B back. On the compute clock the pause is gone; on the slot clock every op is one unit.
  static TelemetryBatch paused_pipeline() {
    TelemetryBatch b;
    b.ops.push_back(test::make_op(0, OpKind::Forward, 0, 0, 100));
    b.ops.push_back(test::make_op(1, OpKind::Forward, 0, 10'000, 10'100));  // 9.9 us of pause
    b.ops.push_back(test::make_op(1, OpKind::Backward, 0, 10'100, 10'300));
    b.ops.push_back(test::make_op(0, OpKind::Backward, 0, 50'000, 50'200));
    b.ops.push_back(test::make_op(0, OpKind::Update, 0, 50'200, 50'210));
    return b;
  }

  void theComputeClockKeepsDurationsAndDropsWaiting() {
    TimelineModel model;
    model.append(paused_pipeline());
    model.setClock(TimelineClock::Compute);
    QCOMPARE(model.laidOut(0), std::size_t(3));
    QCOMPARE(model.laidOut(1), std::size_t(2));
    auto span = [&](int stage, std::size_t i) { return std::pair{model.span(stage, i).t_start_ns, model.span(stage, i).t_end_ns}; };
    QCOMPARE(span(0, 0), (std::pair<std::int64_t, std::int64_t>{0, 100}));
    QCOMPARE(span(1, 0), (std::pair<std::int64_t, std::int64_t>{100, 200}));   // right after its input's forward
    QCOMPARE(span(1, 1), (std::pair<std::int64_t, std::int64_t>{200, 400}));
    QCOMPARE(span(0, 1), (std::pair<std::int64_t, std::int64_t>{400, 600}));   // after the gradient it needs
    QCOMPARE(span(0, 2), (std::pair<std::int64_t, std::int64_t>{600, 610}));   // the update
    QCOMPARE(model.endNs(), std::int64_t(610));
    QCOMPARE(model.visibleOps(0, 150, 390).size(), std::size_t(0));  // stage 0 waits for the gradient: a bubble
    // The wall clock still has the pause.
    model.setClock(TimelineClock::Wall);
    QCOMPARE(model.endNs(), std::int64_t(50'210));
    QCOMPARE(model.span(1, 0).t_start_ns, std::int64_t(10'000));
  }

  void opSlotsAreOneUnitPerOpInDependencyOrder() {
    TimelineModel model;
    model.append(paused_pipeline());
    model.setClock(TimelineClock::Slots);
    QCOMPARE(model.span(0, 0).t_start_ns, std::int64_t(0));
    QCOMPARE(model.span(1, 0).t_start_ns, 1 * kSlotUnits);
    QCOMPARE(model.span(1, 1).t_start_ns, 2 * kSlotUnits);
    QCOMPARE(model.span(0, 1).t_start_ns, 3 * kSlotUnits);
    QCOMPARE(model.span(0, 1).t_end_ns, 4 * kSlotUnits);
    QCOMPARE(model.span(0, 2).t_end_ns - model.span(0, 2).t_start_ns, std::int64_t(0));  // U: a tick, no slot
    QCOMPARE(model.endNs(), 4 * kSlotUnits);
    QCOMPARE(model.opAt(1, 2 * kSlotUnits + kSlotUnits / 2), std::optional<std::size_t>(1));
  }

  void anOpWaitsForADependencyStillToCome() {
    TimelineModel model;
    model.setClock(TimelineClock::Compute);
    TelemetryBatch first;
    first.ops.push_back(test::make_op(1, OpKind::Forward, 0, 200, 300));  // stage 0's forward not delivered yet
    model.append(first);
    QCOMPARE(model.laidOut(1), std::size_t(0));
    TelemetryBatch second;
    second.ops.push_back(test::make_op(0, OpKind::Forward, 0, 0, 150));
    model.append(second);
    QCOMPARE(model.laidOut(1), std::size_t(1));
    QCOMPARE(model.span(1, 0).t_start_ns, std::int64_t(150));
    // A dependency that never comes (its device already delivered later ops): placed at once.
    TelemetryBatch third;
    third.ops.push_back(test::make_op(0, OpKind::Forward, 2, 700, 800));
    third.ops.push_back(test::make_op(1, OpKind::Forward, 1, 600, 700));  // F1 on stage 0 was dropped
    model.append(third);
    QCOMPARE(model.laidOut(1), std::size_t(2));
    QCOMPARE(model.span(1, 1).t_start_ns, std::int64_t(250));
  }

  void settleLaysOutWhatStillWaits() {
    TimelineModel model;
    model.setClock(TimelineClock::Slots);
    model.addOp(test::make_op(1, OpKind::Forward, 0, 200, 300));
    QCOMPARE(model.laidOut(1), std::size_t(0));
    QVERIFY(model.visibleOps(1, 0, 10 * kSlotUnits).size() == 0);
    model.settle();
    QCOMPARE(model.laidOut(1), std::size_t(1));
    QCOMPARE(model.span(1, 0).t_start_ns, std::int64_t(0));
  }

  void theScheduleBubbleIsTheIdleShareOfTheComputeClock() {
    TimelineModel model;
    QVERIFY(!model.scheduleBubble());
    model.append(paused_pipeline());
    // Busy 100+200+10 on stage 0 and 100+200 on stage 1 = 610 of 2 x 610.
    QVERIFY(std::abs(*model.scheduleBubble() - 0.5) < 1e-12);
    model.setClock(TimelineClock::Wall);  // whatever is shown
    QVERIFY(std::abs(*model.scheduleBubble() - 0.5) < 1e-12);
  }

  void aDeviceRowHoldsAllItsChunks() {
    // Loop placement, 2 devices, 4 chunks: chunk c on device c mod 2.
    TimelineModel model;
    TelemetryBatch b;
    std::int64_t t = 0;
    for (int c = 0; c < 4; ++c) {
      OpEvent e = test::make_op(c, OpKind::Forward, 0, t, t + 100);
      e.device = c % 2;
      b.ops.push_back(e);
      t += 1000;  // waiting between the chunks
    }
    model.append(b);
    QCOMPARE(model.stageCount(), 2);
    QCOMPARE(model.ops(0).size(), std::size_t(2));
    QCOMPARE(model.ops(1).back().stage, 3);
    QCOMPARE(model.maxChunk(), 3);
    model.setClock(TimelineClock::Slots);
    QCOMPARE(model.span(0, 1).t_start_ns, 2 * kSlotUnits);  // chunk 2 after chunk 1 (device 1)
    QCOMPARE(model.span(1, 1).t_start_ns, 3 * kSlotUnits);
  }

  void versionsVaryOnlyWhenAPassReadOtherWeights() {
    TimelineModel model;
    model.addOp(test::make_op(0, OpKind::Forward, 0, 0, 10, 0, 0, 0));
    model.addOp(test::make_op(0, OpKind::Backward, 0, 10, 20, 0, 0, 0));
    QVERIFY(!model.versionsVary());
    model.addOp(test::make_op(0, OpKind::Forward, 61, 30, 40, 58, 58, 61));
    QVERIFY(model.versionsVary());
    QCOMPARE(model.maxVersion(), std::int64_t(58));
    QCOMPARE(model.maxMinibatch(), 61);
  }

  void lastAppendedIsTheLatestBatch() {
    TimelineModel model;
    model.append(test::make_stream(2, 2, 100));
    TelemetryBatch step;
    step.ops.push_back(test::make_op(1, OpKind::Forward, 5, 10'000, 10'100));
    model.append(step);
    QCOMPARE(model.lastAppended(0).size(), std::size_t(0));
    const IndexRange r = model.lastAppended(1);
    QCOMPARE(r.size(), std::size_t(1));
    QCOMPARE(model.ops(1)[r.first].minibatch, 5);
  }

  void overlappedPairsAreKnownFromTheSchedule() {
    TimelineModel model;
    std::vector<std::vector<Op>> lists(2);
    lists[0] = {Op{OpKind::Forward, 0, 0, 0, false}, Op{OpKind::Forward, 0, 3, 0, true}, Op{OpKind::Backward, 0, 1, 3, false}};
    model.setOverlapOps(lists);
    OpEvent f = test::make_op(0, OpKind::Forward, 7, 0, 10);
    f.micro = 3;
    OpEvent b = test::make_op(3, OpKind::Backward, 7, 10, 20);
    b.micro = 1;
    b.device = 0;
    OpEvent alone = test::make_op(0, OpKind::Forward, 7, 20, 30);
    alone.micro = 0;
    QVERIFY(model.isOverlapped(f));
    QVERIFY(model.isOverlapped(b));
    QVERIFY(!model.isOverlapped(alone));
  }

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
