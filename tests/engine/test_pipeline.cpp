// The executor's invariants (ARCHITECTURE.md): versions decided by schedule + strategy, never by
// timing; synchronous schedules are transparent; stashing keeps S-k copies; failures reach the caller
// with stage, op and minibatch; stopping joins every worker.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "engine/util/errors.h"
#include "pipeline_fixture.h"

namespace ps {
namespace {

using testing::ToyOptions;
using testing::ToyPipeline;

struct Combo {
  std::string schedule;
  std::string strategy;
  int microbatches;
};

std::vector<Combo> combos() {
  std::vector<Combo> out;
  for (const auto& s : schedule_catalog()) {
    if (s.replicas) continue;
    for (const char* strategy : {"latest", "stash"})
      out.push_back({s.name, strategy, std::max(s.takes_microbatches ? 2 : 1, s.min_microbatches(3))});
  }
  return out;
}

TEST(PipelineExecutors, ThreadedEqualsSequentialBitForBit) {
  for (const auto& c : combos()) {
    ToyOptions o;
    o.stages = 3;
    o.schedule = c.schedule;
    o.strategy = c.strategy;
    o.microbatches = c.microbatches;
    o.executor = ExecutorKind::Threaded;
    ToyPipeline threaded(o);
    o.executor = ExecutorKind::Sequential;
    ToyPipeline sequential(o);
    ASSERT_TRUE(threaded.run(12));
    ASSERT_TRUE(sequential.run(12));
    const std::string start = ToyPipeline(o).digest();
    EXPECT_NE(threaded.digest(), start) << c.schedule << "/" << c.strategy << ": training changed nothing";
    EXPECT_EQ(threaded.digest(), sequential.digest()) << c.schedule << "/" << c.strategy;
  }
}

// GPipe and 1F1B-flush with M microbatches give the gradient of one device on the whole minibatch.
TEST(PipelineExecutors, SynchronousSchedulesAreTransparent) {
  for (const char* schedule : {"gpipe", "1f1b-flush"}) {
    ToyOptions single;
    single.stages = 1;
    single.units_per_stage = 4;
    single.schedule = "sequential";
    single.lr = 1.0;  // W1 = W0 - g: compare gradients through the weights
    single.momentum = 0;
    ToyPipeline reference(single);
    const auto w0 = reference.flat_weights();
    ASSERT_TRUE(reference.run(1));

    ToyOptions piped = single;
    piped.stages = 4;
    piped.units_per_stage = 1;
    piped.schedule = schedule;
    piped.microbatches = 4;
    ToyPipeline pipeline(piped);
    ASSERT_TRUE(pipeline.run(1));

    testing::expect_same_gradients(w0, reference, pipeline, schedule);
    ASSERT_EQ(reference.results().size(), 1u);
    ASSERT_EQ(pipeline.results().size(), 1u);
    EXPECT_NEAR(reference.results()[0].loss, pipeline.results()[0].loss, 1e-6);
    EXPECT_EQ(reference.results()[0].correct, pipeline.results()[0].correct);
  }
}

// STRATEGIES.md's worked check (S=3, 1F1B async, stash).
TEST(PipelineVersions, WorkedCheckThreeStages) {
  ToyOptions o;
  o.stages = 3;
  ToyPipeline p(o);
  ASSERT_TRUE(p.run(8));
  auto find = [&](int stage, OpKind kind, int mb) {
    for (const auto& e : p.events())
      if (e.stage == stage && e.kind == kind && e.minibatch == mb) return e;
    ADD_FAILURE() << "missing op";
    return OpEvent{};
  };
  OpEvent f2 = find(0, OpKind::Forward, 2);
  EXPECT_EQ(f2.live_version, 0);
  EXPECT_EQ(f2.target_version, 2);
  EXPECT_EQ(f2.staleness(), 2);
  OpEvent b0 = find(0, OpKind::Backward, 0);
  EXPECT_EQ(b0.live_version, 0);
  EXPECT_EQ(b0.target_version, 0);
  OpEvent f3 = find(0, OpKind::Forward, 3);
  EXPECT_EQ(f3.live_version, 1);
  EXPECT_EQ(f3.target_version, 3);
  EXPECT_EQ(f3.staleness(), 2);
  OpEvent s1f2 = find(1, OpKind::Forward, 2);
  EXPECT_EQ(s1f2.live_version, 1);
  EXPECT_EQ(s1f2.staleness(), 1);
}

TEST(PipelineVersions, StashSteadyStateStalenessAndCopies) {
  for (int S : {2, 3, 4}) {
    ToyOptions o;
    o.stages = S;
    o.strategy = "stash";
    ToyPipeline p(o);
    ASSERT_TRUE(p.run(16));
    for (int k = 0; k < S; ++k) {
      for (const auto& e : p.events()) {
        if (e.stage != k || e.kind == OpKind::Update) continue;
        if (e.minibatch < S || e.minibatch >= 16 - S) continue;  // steady state only
        EXPECT_EQ(e.staleness(), S - 1 - k) << "S=" << S << " stage " << k << " " << op_name({e.kind, e.minibatch});
      }
      // Stashing: the backward reads exactly the forward's version.
      for (const auto& b : p.events()) {
        if (b.stage != k || b.kind != OpKind::Backward) continue;
        for (const auto& f : p.events())
          if (f.stage == k && f.kind == OpKind::Forward && f.minibatch == b.minibatch)
            EXPECT_EQ(f.basis_version, b.basis_version);
      }
      EXPECT_EQ(p.pipeline().stage(k).weight_copies_max(), S - k) << "S=" << S << " stage " << k;
    }
  }
}

TEST(PipelineVersions, LatestBackwardReadsNewerWeights) {
  ToyOptions o;
  o.stages = 3;
  o.strategy = "latest";
  ToyPipeline p(o);
  ASSERT_TRUE(p.run(10));
  for (const auto& e : p.events()) {
    if (e.stage == 0 && e.kind == OpKind::Backward && e.minibatch >= 3 && e.minibatch < 7) {
      EXPECT_EQ(e.basis_version, e.minibatch);  // live at B time: all earlier updates applied
      EXPECT_EQ(e.staleness(), 0);
    }
    if (e.stage == 0 && e.kind == OpKind::Forward && e.minibatch >= 3) EXPECT_EQ(e.staleness(), 2);
  }
  for (int k = 0; k < 3; ++k) EXPECT_EQ(p.pipeline().stage(k).weight_copies_max(), 1);
}

// Any exception in one stage's op, an allocation that fails (out of memory) included, ends the run and
// reaches the caller with stage, op, minibatch and a reason that says what happened.
TEST(PipelineFailures, ExceptionReachesCallerWithStageOpAndMinibatch) {
  for (auto kind : {ExecutorKind::Threaded, ExecutorKind::Sequential}) {
    for (bool oom : {false, true}) {
      ToyOptions o;
      o.stages = 3;
      o.executor = kind;
      o.fail_stage = 1;
      o.fail_call = 4;  // the fourth forward at stage 1: minibatch 3
      o.fail_out_of_memory = oom;
      ToyPipeline p(o);
      try {
        p.run(10);
        FAIL() << "the failure did not reach the caller";
      } catch (const PipelineError& e) {
        EXPECT_EQ(e.stage(), 1);
        EXPECT_EQ(e.op(), "F3");
        EXPECT_EQ(e.minibatch(), 3);
        EXPECT_NE(e.reason().find(oom ? "out of memory" : "injected failure"), std::string::npos) << e.reason();
      }
    }
  }
}

TEST(PipelineFailures, StopMidRunJoinsEveryWorkerRepeatedly) {
  std::mt19937 rng(5);
  int stopped = 0;
  for (int i = 0; i < 200; ++i) {
    ToyOptions o;
    o.stages = 3;
    o.strategy = i % 2 ? "stash" : "latest";
    ToyPipeline p(o);
    std::thread stopper([&] {
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
      p.control().stop();
    });
    const bool finished = p.run(400);
    stopper.join();
    if (!finished) ++stopped;
  }
  EXPECT_GT(stopped, 150);  // 400 minibatches take far longer than 2 ms: nearly every run was cut short
}

TEST(PipelineControl, PauseAndStepAdvanceOneOpAtATime) {
  ToyOptions o;
  o.stages = 2;
  ToyPipeline p(o);
  p.control().pause();
  std::thread runner([&] { p.run(3); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(p.events().size(), 0u);
  p.control().step(2);
  // The state, bounded generously (a loaded machine may not run the ops for a while), then a little
  // more time in which a third op would show.
  EXPECT_TRUE(p.wait_events(2, std::chrono::seconds(60)));
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(p.events().size(), 2u);
  p.control().resume();
  runner.join();
  EXPECT_EQ(p.events().size(), 3u * 3u * 2u);  // F, B, U of 3 minibatches on 2 stages
}

}  // namespace
}  // namespace ps

namespace ps {
namespace {

// Divergence = ||W_used - W_target|| / ||W_target||, checked against the versions the test recorded.
TEST(PipelineTelemetry, DivergenceMatchesRecordedVersions) {
  for (const char* strategy : {"stash", "latest"}) {
    testing::ToyOptions o;
    o.stages = 3;
    o.strategy = strategy;
    o.divergence_every = 1;
    o.record_versions = true;
    o.executor = ExecutorKind::Sequential;
    testing::ToyPipeline p(o);
    ASSERT_TRUE(p.run(10));
    int checked = 0, stale = 0;
    for (const auto& e : p.events()) {
      if (e.kind == OpKind::Update) continue;
      ASSERT_GE(e.divergence, 0) << strategy << " " << op_name({e.kind, e.minibatch}) << " at stage " << e.stage;
      const at::Tensor used = p.version(e.stage, e.basis_version), target = p.version(e.stage, e.target_version);
      const double expected = ((used - target).norm() / target.norm()).item<double>();
      EXPECT_NEAR(e.divergence, expected, 1e-9 + 1e-6 * expected) << strategy;
      if (e.staleness() == 0) EXPECT_EQ(e.divergence, 0.0);
      if (e.staleness() > 0) {
        EXPECT_GT(e.divergence, 0.0);
        ++stale;
      }
      ++checked;
    }
    EXPECT_EQ(checked, 10 * 2 * 3);
    EXPECT_GT(stale, 10);
  }
}

TEST(PipelineTelemetry, DivergenceIsSampledEveryNthMinibatch) {
  testing::ToyOptions o;
  o.stages = 2;
  o.divergence_every = 4;
  testing::ToyPipeline p(o);
  ASSERT_TRUE(p.run(12));
  for (const auto& e : p.events()) {
    if (e.kind == OpKind::Update) continue;
    EXPECT_EQ(e.divergence >= 0, e.minibatch % 4 == 0) << op_name({e.kind, e.minibatch});
  }
}

}  // namespace
}  // namespace ps

namespace ps {
namespace {

// Data parallelism with R replicas is one device on the whole minibatch (up to summation order), and
// every replica keeps identical weights.
TEST(DataParallel, ReplicasMatchOneDeviceAndEachOther) {
  testing::ToyOptions single;
  single.stages = 1;
  single.units_per_stage = 3;
  single.schedule = "sequential";
  testing::ToyPipeline reference(single);
  ASSERT_TRUE(reference.run(6));
  for (auto kind : {ExecutorKind::Threaded, ExecutorKind::Sequential}) {
    testing::ToyOptions dp = single;
    dp.stages = 2;
    dp.schedule = "data-parallel";
    dp.executor = kind;
    testing::ToyPipeline replicas(dp);
    ASSERT_TRUE(replicas.run(6));
    const auto& r0 = replicas.pipeline().stage(0).live_params();
    const auto& r1 = replicas.pipeline().stage(1).live_params();
    const auto& one = reference.pipeline().stage(0).live_params();
    ASSERT_EQ(r0.size(), one.size());
    for (std::size_t i = 0; i < r0.size(); ++i) {
      EXPECT_TRUE(torch::equal(r0[i], r1[i])) << "replicas drifted apart at parameter " << i;
      EXPECT_TRUE(torch::allclose(r0[i], one[i], 1e-5, 1e-6)) << "parameter " << i;
    }
    EXPECT_EQ(replicas.results().size(), 12u);  // a share per replica per minibatch
  }
}

TEST(DataParallel, ThreadedEqualsSequentialAndStopDoesNotHang) {
  testing::ToyOptions o;
  o.stages = 3;
  o.units_per_stage = 3;
  o.schedule = "data-parallel";
  o.batch_size = 9;
  testing::ToyPipeline a(o);
  o.executor = ExecutorKind::Sequential;
  testing::ToyPipeline b(o);
  ASSERT_TRUE(a.run(8));
  ASSERT_TRUE(b.run(8));
  EXPECT_EQ(a.digest(), b.digest());
  for (int i = 0; i < 50; ++i) {
    o.executor = ExecutorKind::Threaded;
    testing::ToyPipeline p(o);
    std::thread stopper([&] {
      std::this_thread::sleep_for(std::chrono::microseconds(300 * (i % 5)));
      p.control().stop();
    });
    p.run(300);
    stopper.join();
  }
}

}  // namespace
}  // namespace ps
