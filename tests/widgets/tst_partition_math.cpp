// Per-stage totals, bottleneck, efficiency and boundary edits behind the partition editor.
#include <QtTest>

#include "engine/partition/partition.h"
#include "fixtures.h"
#include "widgets/partition_math.h"
#include "widget_test_main.h"

using namespace ps;
using namespace ps::ui;

class TestPartitionMath : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void stashHoldsOneCopyPerVersionInFlight() {
    for (int k = 0; k < 4; ++k) QCOMPARE(weight_copies_estimate("stash", 4, k), 4 - k);
  }
  void latestHoldsOnlyTheLiveWeights() {
    for (int k = 0; k < 4; ++k) QCOMPARE(weight_copies_estimate("latest", 4, k), 1);
  }
  void predictingStrategiesAddOneTemporaryCopy() {
    for (const char* s : {"spectrain", "nesterov", "adam-predict", "2bw", "pipemare"})
      QCOMPARE(weight_copies_estimate(s, 4, 0), 2);
    QCOMPARE(weight_copies_estimate("i-timeprest", 3, 0), 4);  // stash of 3 plus the intermediate
    QCOMPARE(weight_copies_estimate("v-timeprest", 3, 0), 1);
  }

  void totalsSumTheStageUnits() {
    const ModelInfo m = test::make_model(6, {1e6, 5e6, 2e6});
    const PartitionStats stats = partition_stats(m, {2, 4}, "stash");
    QCOMPARE(stats.stages.size(), std::size_t(3));
    double max_cost = 0, sum_cost = 0;
    int argmax = -1;
    for (int k = 0; k < 3; ++k) {
      const StageTotals& t = stats.stages[std::size_t(k)];
      QCOMPARE(t.first_unit, 2 * k);
      QCOMPARE(t.last_unit, 2 * k + 1);
      const double cost = unit_cost(m.units[std::size_t(2 * k)]) + unit_cost(m.units[std::size_t(2 * k + 1)]);
      QCOMPARE(t.cost, cost);
      QCOMPARE(t.params, m.units[std::size_t(2 * k)].params + m.units[std::size_t(2 * k + 1)].params);
      QCOMPARE(t.weight_copies, 3 - k);
      QCOMPARE(t.weight_bytes, t.params * 4 * (3 - k));
      sum_cost += cost;
      if (cost > max_cost) max_cost = cost, argmax = k;
    }
    QCOMPARE(stats.bottleneck_stage, argmax);
    QCOMPARE(stats.efficiency, sum_cost / 3 / max_cost);
  }

  void oneStageIsPerfectlyEfficient() {
    const PartitionStats stats = partition_stats(test::make_model(5), {}, "latest");
    QCOMPARE(stats.stages.size(), std::size_t(1));
    QCOMPARE(stats.efficiency, 1.0);
    QCOMPARE(stats.bottleneck_stage, 0);
  }

  void moveBoundaryKeepsStagesNonEmpty() {
    QCOMPARE(move_boundary({2, 5}, 0, 7, 8), (std::vector<int>{4, 5}));
    QCOMPARE(move_boundary({2, 5}, 0, 0, 8), (std::vector<int>{1, 5}));
    QCOMPARE(move_boundary({2, 5}, 1, 10, 8), (std::vector<int>{2, 7}));
    QCOMPARE(move_boundary({2, 5}, 1, 3, 8), (std::vector<int>{2, 3}));
    QCOMPARE(move_boundary({2, 5}, 2, 3, 8), (std::vector<int>{2, 5}));  // no such boundary
  }

  void addAndRemoveBoundaries() {
    QCOMPARE(add_boundary({3}, 5, 8), (std::vector<int>{3, 5}));
    QCOMPARE(add_boundary({3}, 1, 8), (std::vector<int>{1, 3}));
    QCOMPARE(add_boundary({3}, 3, 8), (std::vector<int>{3}));
    QCOMPARE(add_boundary({3}, 0, 8), (std::vector<int>{3}));
    QCOMPARE(add_boundary({3}, 8, 8), (std::vector<int>{3}));
    QCOMPARE(remove_boundary({3, 5}, 0), (std::vector<int>{5}));
    QCOMPARE(remove_boundary({3, 5}, 2), (std::vector<int>{3, 5}));
  }
};

PS_WIDGET_TEST_MAIN(TestPartitionMath)
#include "tst_partition_math.moc"
