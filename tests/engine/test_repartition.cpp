// Live repartition (issue #7 part 3): a boundary moved during a run takes effect at the next flush with
// the moved units' weights, optimizer state and strategy state; the run goes on. The same step under
// either executor gives the same weights; a synchronous run ends with the weights it would have had on
// its first partition; checkpoints keep a repartitioned (or repartitioning) run resumable bit for bit.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "test_support.h"
#include "engine/config/run_config.h"
#include "engine/session/session.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

using test::source_dir;

std::filesystem::path fresh_dir(const std::string& name) { return test::fresh_dir("pipescope_repart", name); }

struct Case {
  std::string schedule, strategy;
  int stages = 4, microbatches = 1;
  std::string optimizer = "sgd";
};

std::string label(const Case& c) {
  return c.schedule + "/" + c.strategy + " S=" + std::to_string(c.stages) + " M=" + std::to_string(c.microbatches) +
         " " + c.optimizer;
}

// 5 units (an MLP of four hidden layers), 30 minibatches: an epoch of 25 (a segment end) and 5 more.
RunConfig config_for(const Case& c, const std::string& executor) {
  RunConfig cfg = load_preset(source_dir() + "/presets/tiny.json");
  cfg.model.hidden = {24, 24, 24, 24};
  cfg.steps = 30;
  cfg.stages = c.stages;
  cfg.partition = c.stages == 4 ? std::vector<int>{1, 2, 3} : std::vector<int>{1, 3};
  cfg.microbatches = c.microbatches;
  cfg.schedule = c.schedule;
  cfg.strategy.name = c.strategy;
  cfg.optimizer.name = c.optimizer;
  cfg.optimizer.lr = c.optimizer == "adam" ? 0.003 : 0.02;
  cfg.executor = executor;
  cfg.dataset.test_limit = 64;
  cfg.divergence_every = 4;
  return cfg;
}

std::vector<int> moved_for(const Case& c) { return c.stages == 4 ? std::vector<int>{2, 3, 4} : std::vector<int>{2, 4}; }

struct Outcome {
  RunSummary summary;
  std::vector<int> partition;
  std::vector<RunMark> marks;
};

Outcome run_with(const RunConfig& cfg, const std::vector<int>& to, std::int64_t at_step,
                 const SessionOptions& opts = {}) {
  Session s(cfg, opts);
  if (!to.empty()) s.repartition(to, at_step);
  s.start();
  Outcome o;
  while (!s.wait_for(std::chrono::milliseconds(20))) {
    auto b = s.drain();
    o.marks.insert(o.marks.end(), b.marks.begin(), b.marks.end());
  }
  auto b = s.drain();
  o.marks.insert(o.marks.end(), b.marks.begin(), b.marks.end());
  o.summary = s.summary();
  o.partition = s.partition();
  EXPECT_EQ(o.summary.status, RunStatus::Completed) << o.summary.error;
  EXPECT_EQ(o.summary.steps, cfg.steps);
  EXPECT_FALSE(s.pending_partition().has_value());
  return o;
}

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {"1f1b-async", "stash"},          // stashed versions: none left after the flush
      {"1f1b-async", "pipemare"},       // per-tensor EMA buffers (some stages have none), per-stage delays
      {"1f1b-async", "vertical-sync"},  // versions kept for later minibatches
      {"1f1b-async", "spectrain"},      // momentum read by the prediction
      {"nf1b", "2bw", 3, 2},            // the version before the live one, held by every stage
      {"gpipe", "latest", 4, 2, "adam"},
      {"1f1b-flush", "latest", 4, 2},
  };
  return all;
}

TEST(Repartition, AThreadedRunRepartitionedAtStepKHasTheWeightsOfASequentialOne) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(label(c));
    const std::vector<int> to = moved_for(c);
    const Outcome threaded = run_with(config_for(c, "threaded"), to, 12);
    const Outcome sequential = run_with(config_for(c, "sequential"), to, 12);
    EXPECT_EQ(threaded.summary.weights_digest, sequential.summary.weights_digest);
    for (const Outcome* o : {&threaded, &sequential}) {
      EXPECT_EQ(o->partition, to);
      ASSERT_EQ(o->marks.size(), 1u);
      EXPECT_EQ(o->marks[0].kind, "repartition");
      EXPECT_EQ(o->marks[0].step, 12);
      EXPECT_EQ(o->marks[0].after, to);
      EXPECT_EQ(o->marks[0].before, config_for(c, "threaded").partition);
      EXPECT_GT(o->marks[0].t_ns, 0);
      // The summary's stages follow the new partition.
      ASSERT_EQ(o->summary.per_stage.size(), to.size() + 1);
      EXPECT_EQ(o->summary.per_stage[0].last_layer, to[0] - 1);
      EXPECT_EQ(o->summary.per_stage[1].first_layer, to[0]);
    }
    // The flush changes an asynchronous run (its minibatches after step 12 start from an empty pipeline).
    if (c.schedule == "1f1b-async")
      EXPECT_NE(threaded.summary.weights_digest, run_with(config_for(c, "threaded"), {}, -1).summary.weights_digest);
  }
}

TEST(Repartition, ASynchronousRunEndsWithTheWeightsItWouldHaveHadOnItsFirstPartition) {
  // A flushing schedule drains after every minibatch, and a layer's numbers do not depend on its stage:
  // so any loss of state in the move (a momentum buffer, Adam's moments and step) changes the weights.
  for (const Case& c : {Case{"gpipe", "latest", 4, 2, "adam"}, Case{"1f1b-flush", "latest", 4, 2, "sgd"},
                        Case{"gpipe", "latest", 3, 1, "sgd"}}) {
    SCOPED_TRACE(label(c));
    const RunConfig cfg = config_for(c, "threaded");
    const std::string unmoved = run_with(cfg, {}, -1).summary.weights_digest;
    const Outcome moved = run_with(cfg, moved_for(c), 7);
    EXPECT_EQ(moved.partition, moved_for(c));
    EXPECT_EQ(moved.summary.weights_digest, unmoved);
    // Twice in one run (the second request once the first took effect), back to where it started.
    Session s(cfg);
    s.repartition(moved_for(c), 7);
    s.set_op_delay(std::chrono::microseconds(1000));  // slow enough to ask again while it runs
    s.start();
    while (s.progress() < 0.5 && !s.wait_for(std::chrono::milliseconds(5))) {
    }
    ASSERT_EQ(s.partition(), moved_for(c));
    s.repartition(cfg.partition, 20);
    s.set_op_delay(std::chrono::microseconds(0));
    s.wait();
    EXPECT_EQ(s.summary().status, RunStatus::Completed) << s.summary().error;
    EXPECT_EQ(s.partition(), cfg.partition);
    EXPECT_EQ(s.summary().weights_digest, unmoved);
  }
}

TEST(Repartition, ARequestDuringTheRunTakesEffectAtTheNextFlushAndIsMarkedInTheTrace) {
  const auto dir = fresh_dir("live");
  const Case c{"1f1b-async", "stash"};
  RunConfig cfg = config_for(c, "threaded");
  cfg.steps = 40;
  SessionOptions opts;
  opts.trace_path = (dir / "trace.json").string();
  Session s(cfg, opts);
  s.set_op_delay(std::chrono::microseconds(3000));  // slow enough to ask while it runs
  s.start();
  while (s.progress() < 0.2 && !s.wait_for(std::chrono::milliseconds(5))) {
  }
  const double asked_at = s.progress();
  s.repartition({2, 3, 4});
  EXPECT_EQ(s.pending_partition(), std::optional<std::vector<int>>(std::vector<int>{2, 3, 4}));
  std::vector<RunMark> marks;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (marks.empty() && std::chrono::steady_clock::now() < until) {
    auto b = s.drain();
    marks.insert(marks.end(), b.marks.begin(), b.marks.end());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(marks.size(), 1u);
  EXPECT_EQ(s.partition(), (std::vector<int>{2, 3, 4}));
  EXPECT_FALSE(s.pending_partition().has_value());
  // At the flush after the minibatches already started (at most a pipeline's depth of them).
  EXPECT_GE(marks[0].step, static_cast<std::int64_t>(asked_at * cfg.steps));
  EXPECT_LE(marks[0].step, static_cast<std::int64_t>(asked_at * cfg.steps) + cfg.stages + 2);
  s.set_op_delay(std::chrono::microseconds(0));
  s.wait();
  const RunSummary sum = s.summary();
  EXPECT_EQ(sum.status, RunStatus::Completed) << sum.error;
  EXPECT_EQ(sum.steps, cfg.steps);

  // The trace: a global instant event at the mark's time, with the boundaries.
  std::ifstream in(dir / "trace.json");
  const nlohmann::json trace = nlohmann::json::parse(in);
  int found = 0;
  for (const auto& e : trace["traceEvents"]) {
    if (e.value("name", "") != "repartition") continue;
    ++found;
    EXPECT_EQ(e["ph"], "i");
    EXPECT_EQ(e["s"], "g");
    EXPECT_NEAR(e["ts"].get<double>(), marks[0].t_ns / 1000.0, 1.0);
    EXPECT_EQ(e["args"]["after"], nlohmann::json({2, 3, 4}));
    EXPECT_EQ(e["args"]["step"], marks[0].step);
  }
  EXPECT_EQ(found, 1);
}

// A request stays pending until its partition is in effect: asked in turn, pending_partition() and then
// partition() never both say "the old one", not even while the units move (the dashboard reads the two
// to show the request; it read an empty pending and the old partition in a CI run).
TEST(Repartition, ARequestIsPendingUntilItsPartitionIsInEffect) {
  const Case c{"1f1b-flush", "latest"};
  RunConfig cfg = config_for(c, "threaded");
  cfg.model.hidden = {384, 384, 384, 384};  // moving a unit's weights takes a while
  cfg.steps = 40;
  Session s(cfg);
  s.set_op_delay(std::chrono::microseconds(1000));
  s.start();
  const std::vector<int> to = moved_for(c);
  s.repartition(to);
  int reads = 0;
  std::optional<std::vector<int>> neither;  // the partition in effect while nothing was pending, if not `to`
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < until) {
    const auto pending = s.pending_partition();
    const std::vector<int> in_effect = s.partition();
    ++reads;
    if (!pending && in_effect != to) {
      neither = in_effect;
      break;
    }
    if (in_effect == to) break;
  }
  s.set_op_delay(std::chrono::microseconds(0));
  s.wait();
  EXPECT_FALSE(neither.has_value()) << "nothing pending and the old partition in effect, after " << reads << " reads";
  EXPECT_EQ(s.partition(), to);
  EXPECT_FALSE(s.pending_partition().has_value());
  EXPECT_EQ(s.summary().status, RunStatus::Completed) << s.summary().error;
}

// Stops a run (repartitioned at step 12) after `ops` ops, leaving the final checkpoint in `file`.
std::int64_t stop_after_ops(const RunConfig& cfg, const std::vector<int>& to, int ops, const std::string& file) {
  SessionOptions opts;
  opts.checkpoint_path = file;
  Session s(cfg, opts);
  s.repartition(to, 12);
  s.pause();
  s.start();
  test::run_ops_then_stop(s, ops);
  EXPECT_EQ(s.status(), RunStatus::Stopped);
  const auto ck = s.last_checkpoint();
  return ck ? ck->step : -1;
}

TEST(Repartition, ARunStoppedBeforeOrAfterItsRepartitionResumesBitForBit) {
  const auto dir = fresh_dir("resume");
  for (const Case& c : {Case{"1f1b-async", "pipemare"}, Case{"nf1b", "2bw", 3, 2}}) {
    SCOPED_TRACE(label(c));
    const RunConfig cfg = config_for(c, "threaded");
    const std::vector<int> to = moved_for(c);
    const std::string whole = run_with(cfg, to, 12).summary.weights_digest;
    // 12 ops a minibatch (F, B, U on 4 stages; 2 F, B, U on 3): 60 ops stop inside the flush before step 12, 200 after it.
    for (int ops : {60, 200}) {
      SCOPED_TRACE("stopped after " + std::to_string(ops) + " ops");
      const std::string file = (dir / "ck.bin").string();
      std::filesystem::remove(file);
      const std::int64_t step = stop_after_ops(cfg, to, ops, file);
      ASSERT_GE(step, 0);
      if (ops == 60) EXPECT_LT(step, 12);  // stopped inside the flush
      if (ops == 200) EXPECT_GT(step, 12);  // stopped after the move
      const RunConfig saved = checkpoint_config(file);
      // Before the flush the checkpoint still has the first partition (and the request); after, the new one.
      EXPECT_EQ(saved.partition, step < 12 ? cfg.partition : to);
      SessionOptions opts;
      opts.resume_path = file;
      Session resumed(saved, opts);
      resumed.start();
      resumed.wait();
      EXPECT_EQ(resumed.summary().status, RunStatus::Completed) << resumed.summary().error;
      EXPECT_EQ(resumed.partition(), to);
      EXPECT_EQ(resumed.summary().weights_digest, whole);
    }
  }
}

TEST(Repartition, BadRequestsAreRefusedNamingThePartition) {
  const Case c{"1f1b-async", "stash"};
  const RunConfig cfg = config_for(c, "threaded");
  auto refused = [](const std::function<void()>& f, const std::string& words) {
    try {
      f();
      ADD_FAILURE() << "accepted; expected a refusal with '" << words << "'";
    } catch (const InputError& e) {
      EXPECT_EQ(e.field().substr(0, 9), "partition") << e.what();
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  {
    Session s(cfg);
    refused([&] { s.repartition({2, 4}); }, "keeps its stage count");
    refused([&] { s.repartition({2, 2, 4}); }, "");
    refused([&] { s.repartition({1, 2, 9}); }, "");
    EXPECT_EQ(s.partition(), cfg.partition);  // nothing changed
    s.repartition({2, 3, 4});                 // before the start: at once
    EXPECT_EQ(s.partition(), (std::vector<int>{2, 3, 4}));
    s.start();
    s.wait();
    refused([&] { s.repartition({1, 2, 3}); }, "ended");
  }
  {
    RunConfig dp = cfg;
    dp.schedule = "data-parallel";
    dp.partition.clear();
    dp.stages = 2;
    Session s(dp);
    refused([&] { s.repartition({}); }, "whole model");
  }
}

}  // namespace
}  // namespace ps
