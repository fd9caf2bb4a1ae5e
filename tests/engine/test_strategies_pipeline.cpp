// The weight-staleness strategies in toy pipelines: the versions and prediction distances they give,
// the weights they read (checked through divergence against recorded versions), their weight memory,
// threaded == sequential, that each of them trains, and that each runs through the real session.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/config/run_config.h"
#include "engine/session/session.h"
#include "engine/strategy/strategy_info.h"
#include "pipeline_fixture.h"

namespace ps {
namespace {

using testing::ToyOptions;
using testing::ToyPipeline;
using Params = std::map<std::string, std::string>;

OpEvent find_op(const std::vector<OpEvent>& events, int stage, OpKind kind, int mb) {
  for (const auto& e : events)
    if (e.stage == stage && e.kind == kind && e.minibatch == mb) return e;
  ADD_FAILURE() << "no " << op_name({kind, mb}) << " at stage " << stage;
  return OpEvent{};
}

// A toy pipeline whose optimizer fits the strategy (Adam for adam-predict, Nesterov for nesterov).
ToyOptions options_for(const std::string& strategy, Params params = {}) {
  ToyOptions o;
  o.strategy = strategy;
  o.strategy_params = std::move(params);
  if (strategy == "adam-predict") {
    o.optimizer = "adam";
    o.lr = 0.01;
  }
  if (strategy == "nesterov") o.nesterov = true;
  return o;
}

std::vector<std::string> all_strategies() {
  std::vector<std::string> names;
  for (const auto& s : strategy_catalog()) names.push_back(s.name);
  return names;
}

// STRATEGIES.md's worked check, S=3, 1F1B async: the exact distance is target - live at the op.
TEST(StrategyPipeline, WorkedCheckPredictionDistances) {
  for (const char* name : {"spectrain", "nesterov", "adam-predict"}) {
    SCOPED_TRACE(name);
    ToyOptions o = options_for(name);
    o.stages = 3;
    ToyPipeline p(o);
    ASSERT_TRUE(p.run(8));
    const auto ev = p.events();
    EXPECT_EQ(find_op(ev, 0, OpKind::Forward, 2).prediction_distance, 2);
    EXPECT_EQ(find_op(ev, 0, OpKind::Backward, 0).prediction_distance, 0);
    EXPECT_EQ(find_op(ev, 0, OpKind::Forward, 3).prediction_distance, 2);
    EXPECT_EQ(find_op(ev, 0, OpKind::Forward, 3).live_version, 1);
    EXPECT_EQ(find_op(ev, 1, OpKind::Forward, 2).prediction_distance, 1);
    EXPECT_EQ(find_op(ev, 1, OpKind::Forward, 2).live_version, 1);
    for (const auto& e : ev) {
      if (e.kind == OpKind::Update) continue;
      EXPECT_EQ(e.prediction_distance, double(e.target_version - e.live_version)) << op_name({e.kind, e.minibatch});
      EXPECT_EQ(e.basis_version, e.live_version);  // predicted from the live weights
    }
  }
}

TEST(StrategyPipeline, SpecTrainPaperAndV2DistancesInTheLedger) {
  const int S = 4;
  for (const char* mode : {"paper", "v2"}) {
    SCOPED_TRACE(mode);
    ToyOptions o = options_for("spectrain", {{"distance", mode}});
    o.stages = S;
    ToyPipeline p(o);
    ASSERT_TRUE(p.run(10));
    for (const auto& e : p.events()) {
      const int k = e.stage;
      if (e.kind == OpKind::Forward)
        EXPECT_EQ(e.prediction_distance, std::string(mode) == "paper" ? k / 2 + S - k - 1 : S - k - 1);
      if (e.kind == OpKind::Backward && std::string(mode) == "paper") EXPECT_EQ(e.prediction_distance, k / 2);
    }
    if (std::string(mode) == "v2")  // the backward reads exactly the forward's predicted weights
      for (const auto& e : p.events())
        if (e.kind == OpKind::Backward)
          EXPECT_EQ(e.basis_version, find_op(p.events(), e.stage, OpKind::Forward, e.minibatch).basis_version);
  }
}

// The weights SpecTrain's forwards read, checked through their divergence against versions the test
// recorded: with momentum SGD at a constant rate lr*buf_v = W_(v-1) - W_v, so
// W_hat = W_v - s*lr*buf_v = W_v + s*(W_v - W_(v-1)).
TEST(StrategyPipeline, SpecTrainReadsThePredictedWeights) {
  ToyOptions o = options_for("spectrain");
  o.stages = 3;
  o.divergence_every = 1;
  o.record_versions = true;
  o.executor = ExecutorKind::Sequential;
  ToyPipeline p(o);
  ASSERT_TRUE(p.run(10));
  int predicted = 0;
  for (const auto& e : p.events()) {
    if (e.kind != OpKind::Forward) continue;
    const std::int64_t v = e.live_version, s = e.target_version - v;
    const at::Tensor live = p.version(e.stage, v), target = p.version(e.stage, e.target_version);
    const at::Tensor used = v == 0 ? live : live + double(s) * (live - p.version(e.stage, v - 1));
    const double expected = ((used - target).norm() / target.norm()).item<double>();
    // float32 weights: the engine's lr*buf and the recorded W_(v-1) - W_v differ by rounding.
    EXPECT_NEAR(e.divergence, expected, 1e-9 + 1e-4 * expected) << op_name({e.kind, e.minibatch});
    if (v > 0 && s > 0) {
      ++predicted;
      const double gain = ((live - target).norm() / (used - target).norm()).item<double>();
      EXPECT_NEAR(e.prediction_gain, gain, 1e-4 * gain) << op_name({e.kind, e.minibatch});
    }
  }
  EXPECT_GE(predicted, 10);
}

// Divergence of every op = ||W(basis) - W(target)|| / ||W(target)||: the op read a recorded version.
void expect_reads_recorded_versions(ToyPipeline& p, const std::string& what) {
  for (const auto& e : p.events()) {
    if (e.kind == OpKind::Update) continue;
    ASSERT_GE(e.divergence, 0) << what;
    const at::Tensor used = p.version(e.stage, e.basis_version), target = p.version(e.stage, e.target_version);
    const double expected = ((used - target).norm() / target.norm()).item<double>();
    EXPECT_NEAR(e.divergence, expected, 1e-9 + 1e-6 * expected)
        << what << " " << op_name({e.kind, e.minibatch}) << " at stage " << e.stage;
  }
}

TEST(StrategyPipeline, VerticalSyncEveryStageReadsStageZerosVersion) {
  struct Case {
    std::string schedule;
    int stages, microbatches;
  };
  for (const Case& c : {Case{"1f1b-async", 3, 1}, Case{"1f1b-async", 4, 1}, Case{"nf1b", 4, 2}}) {
    SCOPED_TRACE(c.schedule + " S=" + std::to_string(c.stages));
    ToyOptions o = options_for("vertical-sync");
    o.stages = c.stages;
    o.schedule = c.schedule;
    o.microbatches = c.microbatches;
    o.divergence_every = 1;
    o.record_versions = true;
    ToyPipeline p(o);
    ASSERT_TRUE(p.run(12));
    const auto ev = p.events();
    int older = 0;
    for (const auto& e : ev) {
      if (e.kind == OpKind::Update) continue;
      const std::int64_t v0 = find_op(ev, 0, OpKind::Forward, e.minibatch).basis_version;
      EXPECT_EQ(e.basis_version, v0) << op_name({e.kind, e.minibatch}) << " at stage " << e.stage;
      if (e.basis_version < e.live_version) ++older;
    }
    EXPECT_GT(older, 12);  // later stages really read versions older than their live one
    expect_reads_recorded_versions(p, "vertical-sync");
  }
}

// With nf1b and M >= S-1 every stage's delay is at most 1: every pass of minibatch i reads version i-1.
TEST(StrategyPipeline, TwoBufferReadsTheVersionBeforeTheTarget) {
  ToyOptions o = options_for("2bw");
  o.stages = 3;
  o.schedule = "nf1b";
  o.microbatches = 2;
  o.divergence_every = 1;
  o.record_versions = true;
  ToyPipeline p(o);
  ASSERT_TRUE(p.run(12));
  for (const auto& e : p.events())
    if (e.kind != OpKind::Update)
      EXPECT_EQ(e.basis_version, std::max(0, e.minibatch - 1)) << op_name({e.kind, e.minibatch}) << " stage " << e.stage;
  expect_reads_recorded_versions(p, "2bw nf1b");
  for (int k = 0; k < 3; ++k) EXPECT_EQ(p.pipeline().stage(k).weight_copies_max(), 2) << "stage " << k;

  // 1f1b-async, S=4: stages 2 and 3 read version i-1; stages 0 and 1 (delay 3, 2) cannot and read live.
  ToyOptions a = options_for("2bw");
  a.stages = 4;
  a.divergence_every = 1;
  a.record_versions = true;
  ToyPipeline q(a);
  ASSERT_TRUE(q.run(12));
  for (const auto& e : q.events()) {
    if (e.kind == OpKind::Update || e.minibatch < 4) continue;
    const std::int64_t expected = e.stage >= 2 ? e.minibatch - 1 : e.minibatch - (3 - e.stage);
    EXPECT_EQ(e.basis_version, expected) << op_name({e.kind, e.minibatch}) << " stage " << e.stage;
  }
  expect_reads_recorded_versions(q, "2bw 1f1b-async");
}

// Where stage 0's delay is 1 (S=2 under 1f1b-async; nf1b with M >= S-1) vertical sync and 2BW both
// read version i-1 at every stage, through different means (the version id carried by the
// activations, the strategy's own rule): the trained weights must agree bit for bit.
TEST(StrategyPipeline, VerticalSyncAndTwoBufferAgreeWhereBothReadTheVersionBefore) {
  struct Case {
    std::string schedule;
    int stages, microbatches;
  };
  for (const Case& c : {Case{"1f1b-async", 2, 1}, Case{"nf1b", 3, 2}, Case{"nf1b", 4, 3}}) {
    SCOPED_TRACE(c.schedule + " S=" + std::to_string(c.stages));
    ToyOptions o = options_for("vertical-sync");
    o.stages = c.stages;
    o.schedule = c.schedule;
    o.microbatches = c.microbatches;
    ToyPipeline vertical(o);
    o.strategy = "2bw";
    ToyPipeline two_buffer(o);
    o.strategy = "stash";
    ToyPipeline stash(o);
    ASSERT_TRUE(vertical.run(12));
    ASSERT_TRUE(two_buffer.run(12));
    ASSERT_TRUE(stash.run(12));
    EXPECT_EQ(vertical.digest(), two_buffer.digest());
    EXPECT_NE(vertical.digest(), stash.digest());  // stashing reads version i at the last stage
  }
}

// PipeMare's backward reads live - gap*delta with delta the EMA of the recorded versions' differences
// (gamma = D^(1/(tau_f - tau_b)), tau_f = S-1-k, tau_b = 0); its divergence from the target (the live
// version at B) is then gap*||delta|| / ||W_target||.
TEST(StrategyPipeline, PipeMareBackwardReadsTheCorrectedWeights) {
  const int S = 3, N = 10;
  ToyOptions o = options_for("pipemare", {{"lr_rescale", "false"}, {"decay", "0.2"}});
  o.stages = S;
  o.divergence_every = 1;
  o.record_versions = true;
  o.executor = ExecutorKind::Sequential;
  ToyPipeline p(o);
  ASSERT_TRUE(p.run(N));
  int corrected = 0;
  for (int k = 0; k < S - 1; ++k) {
    const double gamma = std::pow(0.2, 1.0 / (S - 1 - k));
    std::vector<at::Tensor> delta(1, torch::zeros_like(p.version(k, 0)));  // delta after version v
    for (int v = 1; v <= N; ++v)
      delta.push_back(gamma * delta.back() + (1 - gamma) * (p.version(k, v) - p.version(k, v - 1)));
    for (const auto& e : p.events()) {
      if (e.stage != k || e.kind != OpKind::Backward) continue;
      const std::int64_t gap = e.live_version - find_op(p.events(), k, OpKind::Forward, e.minibatch).live_version;
      EXPECT_EQ(e.prediction_distance, -double(gap));
      EXPECT_EQ(gap, std::min<std::int64_t>(e.minibatch, S - 1 - k));
      const at::Tensor target = p.version(k, e.target_version);
      const double expected = (double(gap) * delta[e.live_version].norm() / target.norm()).item<double>();
      EXPECT_NEAR(e.divergence, expected, 1e-9 + 1e-4 * expected) << op_name({e.kind, e.minibatch}) << " stage " << k;
      if (gap > 0) ++corrected;
    }
  }
  EXPECT_GE(corrected, 2 * (N - 2));
}

// I-TiMePReSt's backward reads W_int = W_live + sigma(d)*(W_stash - W_live): its divergence from the
// target (the live version at B) is sigma(d)*||W_stash - W_live|| / ||W_live||.
TEST(StrategyPipeline, ITimePReStBackwardReadsTheInterpolation) {
  ToyOptions o = options_for("i-timeprest", {{"lambda", "0.3"}});
  o.stages = 3;
  o.divergence_every = 1;
  o.record_versions = true;
  ToyPipeline p(o);
  ASSERT_TRUE(p.run(10));
  int interpolated = 0;
  for (const auto& e : p.events()) {
    if (e.kind != OpKind::Backward) continue;
    const std::int64_t stash = find_op(p.events(), e.stage, OpKind::Forward, e.minibatch).basis_version;
    const std::int64_t d = e.live_version - stash;
    const at::Tensor live = p.version(e.stage, e.live_version);
    const double expected = (std::exp(-0.3 * d) * (p.version(e.stage, stash) - live).norm() / live.norm()).item<double>();
    EXPECT_NEAR(e.divergence, expected, 1e-9 + 1e-5 * expected) << op_name({e.kind, e.minibatch}) << " stage " << e.stage;
    if (d > 0) ++interpolated;
  }
  EXPECT_GE(interpolated, 10);
}

// Weight copies each strategy holds per stage (live included), S=3, 1F1B async.
TEST(StrategyPipeline, WeightMemoryPerStage) {
  const int S = 3;
  struct Case {
    std::string name;
    Params params;
    std::vector<int> copies;  // weight_copies_max per stage
  };
  const std::vector<Case> cases = {
      {"latest", {}, {1, 1, 1}},
      {"stash", {}, {3, 2, 1}},                           // S-k
      {"v-timeprest", {}, {1, 1, 1}},                     // outdated copies dropped at once
      {"spectrain", {}, {2, 2, 1}},                       // live + 1 temporary (last stage: s = 0)
      {"spectrain", {{"distance", "paper"}}, {2, 2, 2}},  // paper: the last stage predicts too
      {"spectrain", {{"distance", "v2"}}, {4, 3, 1}},     // each prediction kept until its backward
      {"nesterov", {}, {2, 2, 1}},
      {"adam-predict", {}, {2, 2, 1}},
      {"adam-predict", {{"passes", "forward"}}, {2, 2, 1}},
      {"pipemare", {}, {2, 2, 1}},    // + the delta buffer (extra bytes) at stages with a delay
      {"i-timeprest", {}, {4, 3, 1}}, // stash (S-k) + 1 temporary; the last stage has no staleness
      {"vertical-sync", {}, {3, 4, 4}},  // S at stage 0, S+1 after (see version_strategies.cpp)
      {"2bw", {}, {3, 2, 2}},         // stage 0 (delay 2) stashes; the others hold two versions
  };
  for (const auto& c : cases) {
    std::string label = c.name;
    for (const auto& [k, v] : c.params) label += " " + k + "=" + v;
    SCOPED_TRACE(label);
    ToyOptions o = options_for(c.name, c.params);
    o.stages = S;
    ToyPipeline p(o);
    ASSERT_TRUE(p.run(16));
    for (int k = 0; k < S; ++k) {
      const StageRuntime& st = p.pipeline().stage(k);
      EXPECT_EQ(st.weight_copies_max(), c.copies[k]) << "stage " << k;
      const bool delta = c.name == "pipemare" && k < S - 1;
      EXPECT_EQ(st.weight_bytes_max(), (c.copies[k] + (delta ? 1 : 0)) * st.param_bytes()) << "stage " << k;
    }
  }
}

TEST(StrategyPipeline, ThreadedEqualsSequentialForEveryStrategy) {
  for (const auto& name : all_strategies()) {
    for (const char* schedule : {"1f1b-async", "nf1b"}) {
      SCOPED_TRACE(name + " on " + schedule);
      ToyOptions o = options_for(name);
      o.stages = 3;
      o.schedule = schedule;
      o.microbatches = std::string(schedule) == "nf1b" ? 2 : 1;
      o.executor = ExecutorKind::Threaded;
      ToyPipeline threaded(o);
      o.executor = ExecutorKind::Sequential;
      ToyPipeline sequential(o);
      ASSERT_TRUE(threaded.run(12));
      ASSERT_TRUE(sequential.run(12));
      EXPECT_NE(threaded.digest(), ToyPipeline(o).digest()) << "training changed nothing";
      EXPECT_EQ(threaded.digest(), sequential.digest());
    }
  }
}

double mean_loss(const std::vector<MinibatchResult>& results, std::int64_t from, std::int64_t to) {
  double sum = 0;
  int n = 0;
  for (const auto& r : results)
    if (r.minibatch >= from && r.minibatch < to) {
      sum += r.loss;
      ++n;
    }
  return n ? sum / n : NAN;
}

TEST(StrategyPipeline, EveryStrategyTrains) {
  const int epochs = 6, per_epoch = 32;  // 256 samples, batch 8
  for (const auto& name : all_strategies()) {
    SCOPED_TRACE(name);
    ToyOptions o = options_for(name);
    o.stages = 3;
    o.learnable = true;
    ToyPipeline p(o);
    ASSERT_TRUE(p.run(epochs * per_epoch));
    const double first = mean_loss(p.results(), 0, per_epoch);
    const double last = mean_loss(p.results(), (epochs - 1) * per_epoch, epochs * per_epoch);
    EXPECT_LT(last, 0.75 * first) << "first epoch " << first << ", last epoch " << last;
  }
}

// Every strategy runs through the real session (tiny preset, with the optimizer it needs).
TEST(StrategySession, EveryStrategyCompletesOnTheTinyPreset) {
  const char* env = std::getenv("PIPESCOPE_SOURCE_DIR");
  const std::string dir = env ? env : PIPESCOPE_SOURCE_DIR;
  for (const auto& name : all_strategies()) {
    SCOPED_TRACE(name);
    RunConfig cfg = load_preset(dir + "/presets/tiny.json");
    cfg.steps = 12;
    cfg.strategy.name = name;
    if (name == "nesterov") cfg.optimizer.nesterov = true;
    if (name == "adam-predict") {
      cfg.optimizer.name = "adam";
      cfg.optimizer.lr = 0.01;
    }
    Session s(cfg);
    s.start();
    s.wait();
    const RunSummary sum = s.summary();
    EXPECT_EQ(sum.status, RunStatus::Completed) << sum.error;
    EXPECT_EQ(sum.steps, 12);
  }
}

}  // namespace
}  // namespace ps
