// The modern schedules (SCHEDULES.md): literal tables from the reference, then the properties over a grid.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <tuple>

#include "engine/schedule/schedule.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

std::vector<std::string> table(const std::string& name, int S, int M, int v) {
  const auto lists = make_schedule(name, S, M, 1, v);
  std::vector<std::string> out;
  for (int d = 0; d < S; ++d) out.push_back(torch_notation(lists[d], d));
  return out;
}

TEST(ModernSchedule, InterleavedMatchesTheReferenceTables) {
  EXPECT_EQ(table("interleaved-1f1b", 2, 4, 2),
            (std::vector<std::string>{"0F0 0F1 2F0 2F1 0F2 2B0 0F3 2B1 2F2 0B0 2F3 0B1 2B2 2B3 0B2 0B3",
                                      "1F0 1F1 3F0 3B0 3F1 3B1 1F2 1B0 1F3 1B1 3F2 3B2 3F3 3B3 1B2 1B3"}));
  EXPECT_EQ(table("interleaved-1f1b", 4, 4, 2),
            (std::vector<std::string>{"0F0 0F1 0F2 0F3 4F0 4F1 4F2 4F3 4B0 4B1 4B2 4B3 0B0 0B1 0B2 0B3",
                                      "1F0 1F1 1F2 1F3 5F0 5F1 5F2 5F3 5B0 5B1 5B2 5B3 1B0 1B1 1B2 1B3",
                                      "2F0 2F1 2F2 2F3 6F0 6F1 6F2 6B0 6F3 6B1 6B2 6B3 2B0 2B1 2B2 2B3",
                                      "3F0 3F1 3F2 3F3 7F0 7B0 7F1 7B1 7F2 7B2 7F3 7B3 3B0 3B1 3B2 3B3"}));
}

TEST(ModernSchedule, LoopedBfsRunsEveryForwardThenBackwardsInReverse) {
  EXPECT_EQ(table("looped-bfs", 2, 3, 2),
            (std::vector<std::string>{"0F0 0F1 0F2 2F0 2F1 2F2 2B2 2B1 2B0 0B2 0B1 0B0",
                                      "1F0 1F1 1F2 3F0 3F1 3F2 3B2 3B1 3B0 1B2 1B1 1B0"}));
}

TEST(ModernSchedule, ZeroBubbleH1AndH2MatchTheReferenceTables) {
  EXPECT_EQ(table("zb-h1", 2, 4, 1), (std::vector<std::string>{"0F0 0F1 0I0 0W0 0F2 0I1 0W1 0F3 0I2 0W2 0I3 0W3",
                                                               "1F0 1I0 1F1 1I1 1W0 1F2 1I2 1W1 1F3 1I3 1W2 1W3"}));
  EXPECT_EQ(table("zb-h2", 2, 4, 1), (std::vector<std::string>{"0F0 0F1 0F2 0I0 0W0 0I1 0F3 0I2 0W1 0W2 0I3 0W3",
                                                               "1F0 1I0 1F1 1I1 1F2 1I2 1W0 1F3 1I3 1W1 1W2 1W3"}));
}

TEST(ModernSchedule, InterleavedZeroBubbleZbvAndDualPipeVMatchTheReferenceTables) {
  EXPECT_EQ(table("zb1p-interleaved", 2, 4, 2),
            (std::vector<std::string>{
                "0F0 0F1 2F0 2F1 2I0 2W0 0F2 2I1 2W1 0F3 0I0 0W0 2F2 0I1 0W1 2F3 2I2 2W2 2I3 2W3 0I2 0W2 0I3 0W3",
                "1F0 1F1 3F0 3I0 3F1 3I1 3W0 1F2 1I0 3W1 1F3 1I1 1W0 3F2 3I2 1W1 3F3 3I3 3W2 1I2 3W3 1I3 1W2 1W3"}));
  EXPECT_EQ(table("zbv", 2, 4, 2),
            (std::vector<std::string>{
                "0F0 0F1 0F2 3F0 3I0 3W0 3F1 3I1 3W1 0F3 0I0 0W0 3F2 3I2 3W2 0I1 0W1 3F3 3I3 3W3 0I2 0W2 0I3 0W3",
                "1F0 2F0 1F1 2F1 2I0 2W0 1F2 1I0 1W0 2F2 2I1 2W1 1F3 1I1 1W1 2F3 2I2 2W2 1I2 2I3 1I3 1W2 2W3 1W3"}));
  EXPECT_EQ(table("dualpipev", 2, 4, 2),
            (std::vector<std::string>{
                "0F0 0F1 0F2 3F0 3I0 3W0 3F1 (0F3;3B1) (3F2;0B0) 3B2 (3F3;0B1) 3B3 0I2 0W2 0I3 0W3",
                "1F0 2F0 1F1 2F1 1F2 2B0 (2F2;1B0) (1F3;2B1) (2F3;1B1) 2B2 1B2 2I3 1I3 2W3 1W3"}));
}

TEST(ModernSchedule, NamesCarryTheChunkOnlyWhenThereAreSeveral) {
  const auto interleaved = make_schedule("interleaved-1f1b", 2, 4, 2, 2);
  EXPECT_EQ(op_name(interleaved[0][2]), "F0.0@2");
  EXPECT_EQ(op_name(interleaved[1].back()), "U1");
  const auto zb = make_schedule("zb-h1", 2, 4, 1, 1);
  EXPECT_EQ(op_name(zb[0][2]), "I0.0");
  EXPECT_EQ(op_name(zb[0][3]), "W0.0");
  EXPECT_EQ(zb[0][2].chunk, -1);
}

TEST(ModernSchedule, PlacementsPutChunksOnTheirDevices) {
  EXPECT_EQ(chunk_devices("interleaved-1f1b", 3, 2), (std::vector<int>{0, 1, 2, 0, 1, 2}));
  EXPECT_EQ(chunk_devices("zbv", 3, 2), (std::vector<int>{0, 1, 2, 2, 1, 0}));  // the loss on device 0
  EXPECT_EQ(chunk_devices("1f1b-flush", 3, 1), (std::vector<int>{0, 1, 2}));
}

TEST(ModernSchedule, IdealBubblesMatchThePublishedFormulas) {
  for (int S : {2, 3, 4})
    for (int M : {4, 8, 12}) {
      if (M % S) continue;
      for (int v : {2, 3}) {
        EXPECT_NEAR(ideal_bubble_fraction("interleaved-1f1b", S, M, v), double(S - 1) / (v * M + S - 1), 1e-9)
            << "S=" << S << " M=" << M << " v=" << v;
        EXPECT_NEAR(ideal_bubble_fraction("zb1p-interleaved", S, M, v), double(S - 1) / (3 * v * M + S - 1), 1e-9)
            << "S=" << S << " M=" << M << " v=" << v;
      }
      EXPECT_NEAR(ideal_bubble_fraction("zb-h1", S, M, 1), double(S - 1) / (3 * M + S - 1), 1e-9) << S << " " << M;
    }
  // Zero bubble's point: a third of 1F1B's at the same S and M.
  EXPECT_NEAR(ideal_bubble_fraction("zb-h1", 4, 8, 1) / ideal_bubble_fraction("1f1b-flush", 4, 8), 11.0 / 27.0, 1e-9);
}

// The properties of SCHEDULES.md section 2, over a grid of (S, v, M).
void check_properties(const std::string& name, int S, int M, int v) {
  SCOPED_TRACE(name + " S=" + std::to_string(S) + " M=" + std::to_string(M) + " v=" + std::to_string(v));
  const auto lists = make_schedule(name, S, M, 2, v);
  const auto device = chunk_devices(name, S, v);
  const int C = S * v;
  std::map<int, int> forwards, backs, inputs, weights;
  for (int d = 0; d < S; ++d) {
    std::set<std::tuple<int, int, int>> seen_f, seen_i;  // (minibatch, chunk, micro)
    int updates = 0;
    for (std::size_t n = 0; n < lists[d].size(); ++n) {
      const Op& op = lists[d][n];
      if (op.kind == OpKind::Update) {
        ++updates;
        continue;
      }
      const int c = op.chunk < 0 ? d : op.chunk;
      ASSERT_GE(c, 0);
      ASSERT_LT(c, C);
      ASSERT_EQ(device[c], d) << op_name(op) << " runs on the wrong device";
      const auto key = std::make_tuple(op.minibatch, c, op.micro);
      if (op.minibatch == 0) {
        if (op.kind == OpKind::Forward) ++forwards[c];
        if (op.kind == OpKind::Backward) ++backs[c];
        if (op.kind == OpKind::InputGrad) ++inputs[c];
        if (op.kind == OpKind::WeightGrad) ++weights[c];
      }
      if (op.kind == OpKind::Forward) EXPECT_TRUE(seen_f.insert(key).second) << "two forwards of " << op_name(op);
      if (sends_gradient(op.kind)) EXPECT_TRUE(seen_f.count(key)) << op_name(op) << " before its forward";
      if (op.kind == OpKind::InputGrad) seen_i.insert(key);
      if (op.kind == OpKind::WeightGrad) EXPECT_TRUE(seen_i.count(key)) << op_name(op) << " before its I";
      if (op.overlap_next) {
        ASSERT_LT(n + 1, lists[d].size());
        EXPECT_EQ(op.kind, OpKind::Forward);
        EXPECT_EQ(lists[d][n + 1].kind, OpKind::Backward);
      }
    }
    EXPECT_EQ(updates, 2);
    EXPECT_EQ(lists[d].back().kind, OpKind::Update);
  }
  for (int c = 0; c < C; ++c) {
    EXPECT_EQ(forwards[c], M) << "chunk " << c;
    EXPECT_EQ(backs[c] + inputs[c], M) << "chunk " << c;
    EXPECT_EQ(weights[c], inputs[c]) << "chunk " << c;
  }
  // A replay with the dependencies of section 1 never deadlocks (it throws if it does).
  const double bubble = ideal_bubble_fraction(name, S, M, v);
  EXPECT_GE(bubble, 0.0);
  EXPECT_LT(bubble, 1.0);
}

TEST(ModernSchedule, EveryScheduleKeepsItsPropertiesOverAGrid) {
  int checked = 0, refused = 0;
  for (const auto& info : schedule_catalog()) {
    if (info.placement == Placement::OnePerDevice && !info.split_backward) continue;
    for (int S : {2, 3, 4})
      for (int v : {1, 2, 3, 4, 8})
        for (int M : {1, 2, 3, 4, 5, 6, 8, 12, 16, 32}) {
          try {
            check_schedule(info.name, S, M, v);
          } catch (const InputError& e) {
            ++refused;
            const std::string field = e.field();
            EXPECT_TRUE(field == "chunks" || field == "microbatches") << info.name << ": " << e.what();
            continue;
          }
          check_properties(info.name, S, M, v);
          ++checked;
        }
  }
  EXPECT_GT(checked, 300);
  EXPECT_GT(refused, 0);
}

TEST(ModernSchedule, InvalidCombinationsAreRefusedNamingTheField) {
  auto field_of = [](auto&& f) {
    try {
      f();
    } catch (const InputError& e) {
      return e.field();
    }
    return std::string("(accepted)");
  };
  EXPECT_EQ(field_of([] { make_schedule("zbv", 2, 4, 1, 3); }), "chunks");
  EXPECT_EQ(field_of([] { make_schedule("dualpipev", 4, 6, 1, 2); }), "microbatches");
  EXPECT_EQ(field_of([] { make_schedule("interleaved-1f1b", 4, 9, 1, 2); }), "microbatches");  // 2 rounds of 4.5
  EXPECT_EQ(field_of([] { make_schedule("zb1p-interleaved", 2, 7, 1, 2); }), "microbatches");  // 3 rounds
  EXPECT_EQ(field_of([] { make_schedule("1f1b-flush", 2, 4, 1, 2); }), "chunks");
  EXPECT_EQ(field_of([] { make_schedule("interleaved-1f1b", 2, 4, 1, 1); }), "chunks");
  EXPECT_EQ(field_of([] { make_schedule("interleaved-1f1b", 4, 8, 1, 2); }), "(accepted)");
}

}  // namespace
}  // namespace ps
