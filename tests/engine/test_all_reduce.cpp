// The replicas' gradient sum (AllReduce) across a checkpoint: rounds that arrive from another process
// before the checkpoint is loaded are kept, and the views of the replicas' processes merge into the
// rounds one process holding every replica has.
#include <gtest/gtest.h>

#include "engine/runtime/all_reduce.h"
#include "engine/session/checkpoint.h"

namespace ps {
namespace {

std::vector<at::Tensor> grads(float v) { return {torch::full({3}, v)}; }

float sum_of(AllReduce& a, std::int64_t mb) {
  std::vector<at::Tensor> out;
  EXPECT_TRUE(a.sum(mb, out, [] { return true; }));  // complete: no wait
  return out.empty() ? -1.f : out[0][0].item<float>();
}

// Resumed as processes, a rank whose peer started first receives that peer's gradients before it loads
// the checkpoint: the load keeps them (it used to clear them, and the round never completed).
TEST(AllReduceCheckpoint, GradientsReceivedBeforeTheLoadJoinTheLoadedRounds) {
  AllReduce saved(2, 1);
  saved.deposit(7, 0, grads(1.f));  // replica 0 here deposited round 7 before the cut
  Checkpoint c;
  saved.save(c, "t");

  AllReduce resumed(2, 1);
  resumed.receive(7, 1, grads(2.f));  // replica 1's process got going first
  EXPECT_FALSE(resumed.complete(7));
  resumed.load(c, "t");
  ASSERT_TRUE(resumed.complete(7));
  EXPECT_FLOAT_EQ(sum_of(resumed, 7), 3.f);
}

// Each replica's process sees the rounds its way: replica 0 took round 4's sum and dropped it, replica
// 1 has it still (both deposits) and has deposited round 5, which replica 0 also received.
TEST(AllReduceCheckpoint, TheReplicasViewsMergeIntoOneProcesssRounds) {
  AllReduce r0(2, 1), r1(2, 1);
  r0.deposit(4, 0, grads(1.f));
  r0.receive(4, 1, grads(2.f));
  r1.receive(4, 0, grads(1.f));
  r1.deposit(4, 1, grads(2.f));
  EXPECT_FLOAT_EQ(sum_of(r0, 4), 3.f);  // replica 0 updated with round 4
  r1.deposit(5, 1, grads(5.f));
  r0.receive(5, 1, grads(5.f));
  Checkpoint v0, v1;
  r0.save(v0, "p0");
  r1.save(v1, "p0");

  AllReduce merged(2);  // as rank 0 writes it: the threaded form
  merged.load_merged({&v0, &v1}, "p0");
  Checkpoint out;
  merged.save(out, "");
  const auto& rounds = out.meta["all_reduce"];
  ASSERT_EQ(rounds.size(), 2u);
  EXPECT_EQ(rounds[0]["minibatch"], 4);
  EXPECT_EQ(rounds[0]["deposited"], 2);
  EXPECT_EQ(rounds[0]["consumed"], 1);  // replica 0's
  EXPECT_EQ(rounds[1]["minibatch"], 5);
  EXPECT_EQ(rounds[1]["deposited"], 1);
  EXPECT_EQ(rounds[1]["consumed"], 0);
  // Replica 1 still takes round 4's sum; then both take round 5's once replica 0 deposits.
  EXPECT_FLOAT_EQ(sum_of(merged, 4), 3.f);
  EXPECT_FALSE(merged.complete(4));  // taken by both: gone
  merged.deposit(5, 0, grads(6.f));
  EXPECT_FLOAT_EQ(sum_of(merged, 5), 11.f);
}

}  // namespace
}  // namespace ps
