// Literal tables pin every schedule (torchgpipe's clock_cycles test is the model).
#include <gtest/gtest.h>

#include "engine/schedule/schedule.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

std::string join(const StageOps& ops, std::size_t limit = 1000) {
  std::string s;
  for (std::size_t i = 0; i < ops.size() && i < limit; ++i) s += (i ? " " : "") + op_name(ops[i]);
  return s;
}

TEST(Schedule, OneFOneBAsyncThreeStages) {
  auto s = make_schedule("1f1b-async", 3, 1, 5);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(join(s[0]), "F0 F1 F2 B0 U0 F3 B1 U1 F4 B2 U2 B3 U3 B4 U4");
  EXPECT_EQ(join(s[1]), "F0 F1 B0 U0 F2 B1 U1 F3 B2 U2 F4 B3 U3 B4 U4");
  EXPECT_EQ(join(s[2]), "F0 B0 U0 F1 B1 U1 F2 B2 U2 F3 B3 U3 F4 B4 U4");
}

TEST(Schedule, OneFOneBAsyncFewerMinibatchesThanStages) {
  auto s = make_schedule("1f1b-async", 4, 1, 2);
  EXPECT_EQ(join(s[0]), "F0 F1 B0 U0 B1 U1");
  EXPECT_EQ(join(s[3]), "F0 B0 U0 F1 B1 U1");
}

TEST(Schedule, GPipeTwoMicrobatches) {
  auto s = make_schedule("gpipe", 2, 2, 2);
  EXPECT_EQ(join(s[0]), "F0.0 F0.1 B0.0 B0.1 U0 F1.0 F1.1 B1.0 B1.1 U1");
  EXPECT_EQ(join(s[1]), join(s[0]));
}

TEST(Schedule, OneFOneBFlushMegatronOrder) {
  auto s = make_schedule("1f1b-flush", 3, 4, 1);
  EXPECT_EQ(join(s[0]), "F0.0 F0.1 F0.2 B0.0 F0.3 B0.1 B0.2 B0.3 U0");
  EXPECT_EQ(join(s[1]), "F0.0 F0.1 B0.0 F0.2 B0.1 F0.3 B0.2 B0.3 U0");
  EXPECT_EQ(join(s[2]), "F0.0 B0.0 F0.1 B0.1 F0.2 B0.2 F0.3 B0.3 U0");
}

TEST(Schedule, OneFOneBFlushWarmupCappedByMicrobatches) {
  auto s = make_schedule("1f1b-flush", 4, 2, 1);
  EXPECT_EQ(join(s[0]), "F0.0 F0.1 B0.0 B0.1 U0");
  EXPECT_EQ(join(s[2]), "F0.0 F0.1 B0.0 B0.1 U0");  // warm-up min(1, 2) = 1
  EXPECT_EQ(join(s[3]), "F0.0 B0.0 F0.1 B0.1 U0");
}

TEST(Schedule, NF1BGroupsMicrobatchesAndKeepsVersionGap) {
  // W=4 workers, N=2 microbatches: version gap v = floor((W+N-2)/N) = 2 at stage 0: two groups are
  // forwarded ahead, so the group after them reads a version two updates old.
  auto s = make_schedule("nf1b", 4, 2, 4);
  EXPECT_EQ(join(s[0]), "F0.0 F0.1 F1.0 F1.1 F2.0 F2.1 B0 U0 F3.0 F3.1 B1 U1 B2 U2 B3 U3");
  EXPECT_EQ(join(s[2]), "F0.0 F0.1 F1.0 F1.1 B0 U0 F2.0 F2.1 B1 U1 F3.0 F3.1 B2 U2 B3 U3");
  EXPECT_EQ(join(s[3]), "F0.0 F0.1 B0 U0 F1.0 F1.1 B1 U1 F2.0 F2.1 B2 U2 F3.0 F3.1 B3 U3");
  EXPECT_EQ(warmup_minibatches("nf1b", 4, 0, 2), 2);
  EXPECT_EQ(warmup_minibatches("nf1b", 4, 0, 3), 1);  // N >= W-1: gap 1
  EXPECT_EQ(warmup_minibatches("nf1b", 5, 0, 1), 4);  // N = 1 is 1f1b-async
}

TEST(Schedule, NF1BWithOneMicrobatchIsOneFOneBAsyncWithoutMicroIds) {
  auto a = make_schedule("nf1b", 3, 1, 4);
  auto b = make_schedule("1f1b-async", 3, 1, 4);
  for (int k = 0; k < 3; ++k) EXPECT_EQ(join(a[k]), join(b[k]));
}

TEST(Schedule, SequentialAndDataParallelPerMinibatch) {
  for (const char* name : {"sequential", "data-parallel"}) {
    auto s = make_schedule(name, 3, 1, 2);
    ASSERT_EQ(s.size(), 3u);
    for (const auto& ops : s) EXPECT_EQ(join(ops), "F0 B0 U0 F1 B1 U1") << name;
  }
}

TEST(Schedule, EveryScheduleHasOneUpdatePerMinibatchInOrder) {
  for (const auto& info : schedule_catalog()) {
    const int M = std::max(info.takes_microbatches ? 3 : 1, info.min_microbatches(4));
    auto s = make_schedule(info.name, 4, M, 7);
    const int chunks = info.default_chunks();
    for (const auto& ops : s) {
      int next_update = 0, forwards = 0, backwards = 0;
      for (const auto& op : ops) {
        if (op.kind == OpKind::Update) EXPECT_EQ(op.minibatch, next_update++) << info.name;
        if (op.kind == OpKind::Forward) ++forwards;
        if (sends_gradient(op.kind)) ++backwards;
      }
      EXPECT_EQ(next_update, 7) << info.name;
      EXPECT_EQ(forwards, 7 * M * chunks) << info.name;
      EXPECT_EQ(backwards, info.name == "nf1b" ? 7 : 7 * M * chunks) << info.name;
    }
  }
}

TEST(Schedule, RefusesBadArguments) {
  EXPECT_THROW(make_schedule("zigzag", 2, 1, 1), InputError);
  EXPECT_THROW(make_schedule("gpipe", 0, 1, 1), InputError);
  try {
    make_schedule("1f1b-async", 2, 4, 1);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "microbatches");
    EXPECT_NE(std::string(e.what()).find("nf1b"), std::string::npos);
  }
}

TEST(Schedule, IdealBubble) {
  EXPECT_DOUBLE_EQ(ideal_bubble_fraction("gpipe", 4, 4), 3.0 / 7.0);
  EXPECT_DOUBLE_EQ(ideal_bubble_fraction("1f1b-flush", 2, 8), 1.0 / 9.0);
  EXPECT_DOUBLE_EQ(ideal_bubble_fraction("1f1b-async", 4, 1), 0.0);
  EXPECT_DOUBLE_EQ(ideal_bubble_fraction("sequential", 4, 1), 0.75);
}

TEST(Schedule, OpNames) {
  EXPECT_EQ(op_name({OpKind::Forward, 3, -1}), "F3");
  EXPECT_EQ(op_name({OpKind::Backward, 3, 1}), "B3.1");
  EXPECT_EQ(op_name({OpKind::Update, 12, -1}), "U12");
}

}  // namespace
}  // namespace ps
