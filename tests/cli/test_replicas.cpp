// Pipeline x data parallel (issue 13, item 2): `--replicas R` gives every stage R replicas (devices =
// stages x R), each taking 1/R of every minibatch, the replicas of a stage summing their gradients in
// replica order before its update. R replicas train the model R = 1 trains (the same minibatch
// gradient, up to the order of the floating-point sum). That threaded, sequential and processes (one
// rank per stage and replica) end with the same weights, bit for bit, is checked with every other
// schedule in tests/cli/test_processes.cpp.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <string>

#include "cli_runner.h"

namespace {

using RunResult = ps::test::TinyRun;
const auto run = ps::test::run_tiny;

TEST(CliReplicas, ReplicasTrainTheModelOneReplicaTrainsAndSayWhichChunkIsWhose) {
  const std::string args = "--schedule gpipe --microbatches 2 --stages 2 --steps 20";
  const RunResult one = run("one", args);
  const RunResult two = run("two", args + " --replicas 2");
  ASSERT_EQ(one.code, 0) << one.log;
  ASSERT_EQ(two.code, 0) << two.log;
  // Each replica takes half of every minibatch: every sample is seen once per step, as with one replica.
  EXPECT_EQ(two.summary["samples"], one.summary["samples"]);
  // The same minibatch gradient, summed in another order: the same training to float precision, not
  // the same bits (the digests differ; a replica that dropped or doubled its share would be far off).
  const double l1 = one.summary["final_train_loss"], l2 = two.summary["final_train_loss"];
  EXPECT_NEAR(l2, l1, 1e-5 * std::abs(l1)) << two.log;
  EXPECT_NE(two.summary["weights_digest"], one.summary["weights_digest"]);
  // 2 stages x 2 replicas: four devices, two per replica, each holding its stage's layers.
  EXPECT_EQ(two.summary["stages"], 4);
  EXPECT_EQ(two.summary["replicas"], 2);
  EXPECT_FALSE(one.summary.contains("replicas"));
  ASSERT_EQ(two.summary["per_stage"].size(), 4u);
  for (int k = 0; k < 4; ++k) {
    const auto& st = two.summary["per_stage"][static_cast<std::size_t>(k)];
    EXPECT_EQ(st["replica"], k / 2) << st.dump();
    const auto& same = one.summary["per_stage"][static_cast<std::size_t>(k % 2)];
    EXPECT_EQ(st["first_layer"], same["first_layer"]) << st.dump();
    EXPECT_EQ(st["last_layer"], same["last_layer"]) << st.dump();
    EXPECT_GT(st["utilization"].get<double>(), 0) << st.dump();
  }
  // The ideal bubble is one replica's pipeline's: gpipe, 2 stages, 2 microbatches = 1/3.
  EXPECT_NEAR(two.summary["bubble_fraction_ideal"].get<double>(), one.summary["bubble_fraction_ideal"].get<double>(), 1e-12);
}

TEST(CliReplicas, BadReplicaCountsExitTwoNamingTheField) {
  const RunResult dp = run("bad_dp", "--schedule data-parallel --stages 2 --replicas 2 --steps 2");
  EXPECT_EQ(dp.code, 2) << dp.log;
  EXPECT_NE(dp.log.find("replicas"), std::string::npos) << dp.log;
  EXPECT_NE(dp.log.find("stages"), std::string::npos) << dp.log;
  const RunResult zero = run("bad_zero", "--replicas 0 --steps 2");
  EXPECT_EQ(zero.code, 2) << zero.log;
  EXPECT_NE(zero.log.find("replicas"), std::string::npos) << zero.log;
  const RunResult small = run("bad_batch", "--replicas 4 --microbatches 1 --set batch_size=3 --steps 2");
  EXPECT_EQ(small.code, 2) << small.log;
  EXPECT_NE(small.log.find("batch_size"), std::string::npos) << small.log;
  // One process per stage and replica.
  const RunResult procs = run("bad_procs", "--stages 2 --replicas 2 --procs 2 --steps 2");
  EXPECT_EQ(procs.code, 2) << procs.log;
  EXPECT_NE(procs.log.find("--procs 4"), std::string::npos) << procs.log;
}

}  // namespace
