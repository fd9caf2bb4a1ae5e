// Checkpoint and resume (issue #8 part 1) and divergence (part 2): a run stopped anywhere, saved and
// resumed ends with the same weights, bit for bit, as the run that never stopped; for every kind of
// state a strategy keeps, both executors, and data parallelism. Torn and foreign files are refused.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "test_support.h"
#include "engine/config/run_config.h"
#include "engine/session/session.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

using test::source_dir;

std::filesystem::path fresh_dir(const std::string& name) { return test::fresh_dir("pipescope_ckpt", name); }

struct Case {
  std::string schedule, strategy;
  int stages = 4, microbatches = 1;
  std::string executor = "threaded", resume_executor = "threaded";
  std::map<std::string, std::string> params;
};

std::string label(const Case& c) {
  return c.schedule + "/" + c.strategy + " S=" + std::to_string(c.stages) + " M=" + std::to_string(c.microbatches) +
         " " + c.executor + "->" + c.resume_executor;
}

RunConfig config_for(const Case& c) {
  RunConfig cfg = load_preset(source_dir() + "/presets/tiny.json");
  cfg.model.hidden = {24, 24, 24, 24};  // 5 units: room for 4 stages
  cfg.steps = 30;                       // crosses the epoch end at 25 (a new segment) on spirals 1024
  cfg.stages = c.stages;
  cfg.microbatches = c.microbatches;
  cfg.schedule = c.schedule;
  cfg.strategy.name = c.strategy;
  cfg.strategy.params = c.params;
  cfg.executor = c.executor;
  cfg.optimizer.lr = 0.02;
  cfg.lr_schedule.name = "cosine";  // the lr depends on the planned length: a resume must keep it
  cfg.dataset.test_limit = 64;
  cfg.divergence_every = 4;
  return cfg;
}

std::string run_through(const RunConfig& cfg) {
  Session s(cfg);
  s.start();
  s.wait();
  const RunSummary sum = s.summary();
  EXPECT_EQ(sum.status, RunStatus::Completed) << sum.error;
  return sum.weights_digest;
}

// Runs `ops` ops (paused, one credit each), stops there and leaves the final checkpoint in `file`.
std::int64_t stop_after_ops(const RunConfig& cfg, int ops, const std::string& file) {
  SessionOptions opts;
  opts.checkpoint_path = file;
  Session s(cfg, opts);
  s.pause();
  s.start();
  test::run_ops_then_stop(s, ops);
  EXPECT_EQ(s.status(), RunStatus::Stopped);
  const auto ck = s.last_checkpoint();
  EXPECT_TRUE(ck.has_value());
  return ck ? ck->step : -1;
}

std::string resume_from(RunConfig cfg, const std::string& file, const std::string& executor,
                        const std::string& out_dir = "") {
  RunConfig saved = checkpoint_config(file);
  saved.executor = executor;
  SessionOptions opts;
  opts.resume_path = file;
  opts.out_dir = out_dir;
  Session s(saved, opts);
  s.start();
  s.wait();
  const RunSummary sum = s.summary();
  EXPECT_EQ(sum.status, RunStatus::Completed) << sum.error;
  EXPECT_EQ(sum.steps, cfg.steps);
  return sum.weights_digest;
}

TEST(Checkpoint, AStoppedAndResumedRunEndsWithTheWeightsOfTheUninterruptedOne) {
  const auto dir = fresh_dir("resume");
  const std::vector<Case> cases = {
      {"1f1b-async", "stash"},
      {"1f1b-async", "latest", 4, 1, "threaded", "sequential"},
      {"1f1b-async", "pipemare", 4, 1, "sequential", "threaded"},  // EMA delta buffers, tau, per-minibatch live
      {"1f1b-async", "vertical-sync"},                              // versions kept for later minibatches
      {"1f1b-async", "spectrain"},                                  // momentum read by the prediction
      {"nf1b", "2bw", 3, 2},
      {"gpipe", "latest", 2, 2},
      {"1f1b-flush", "latest", 3, 2},
      {"data-parallel", "latest", 2, 1},  // all-reduce rounds in progress
      // Chunks per device and split backward: a cut between a chunk's I and its W keeps the gradients
      // at its units' outputs; messages between two chunks of one device wait in the cut too.
      {"zbv", "latest", 2, 4, "threaded", "sequential"},
      {"interleaved-1f1b", "latest", 2, 4},
      {"dualpipev", "latest", 2, 4, "sequential", "threaded"},
      {"zb-h1", "latest", 3, 3},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(label(c));
    const RunConfig cfg = config_for(c);
    const std::string whole = run_through(cfg);
    for (int ops : {7, 41}) {  // inside the first minibatches' warm-up, and a few minibatches on
      SCOPED_TRACE("stopped after " + std::to_string(ops) + " ops");
      const std::string file = (dir / "ck.bin").string();
      std::filesystem::remove(file);
      const std::int64_t step = stop_after_ops(cfg, ops, file);
      EXPECT_GE(step, 0);
      EXPECT_LT(step, cfg.steps);
      EXPECT_EQ(resume_from(cfg, file, c.resume_executor), whole);
    }
  }
}

TEST(Checkpoint, ACheckpointTakenWhileRunningDoesNotChangeTheRun) {
  const auto dir = fresh_dir("periodic");
  Case c{"1f1b-async", "stash"};
  RunConfig cfg = config_for(c);
  const std::string whole = run_through(cfg);
  SessionOptions opts;
  opts.checkpoint_path = (dir / "mid.bin").string();
  Session s(cfg, opts);
  s.set_op_delay(std::chrono::microseconds(2000));  // long enough to ask while it runs
  s.start();
  while (s.progress() < 0.2 && !s.wait_for(std::chrono::milliseconds(5))) {
  }
  s.save_checkpoint((dir / "mid.bin").string());
  s.set_op_delay(std::chrono::microseconds(0));
  s.wait();
  EXPECT_EQ(s.summary().status, RunStatus::Completed);
  EXPECT_EQ(s.summary().weights_digest, whole);
  // The mid-run checkpoint was overwritten by the final one; both resume to the same weights.
  EXPECT_EQ(resume_from(cfg, (dir / "mid.bin").string(), "threaded"), whole);
}

TEST(Checkpoint, AResumedRunWritesTheWholeCurveAndGoesOn) {
  const auto dir = fresh_dir("curve");
  Case c{"1f1b-async", "stash"};
  const RunConfig cfg = config_for(c);
  const std::string file = (dir / "ck.bin").string();
  const std::int64_t step = stop_after_ops(cfg, 41, file);
  ASSERT_GT(step, 0);
  resume_from(cfg, file, "threaded", (dir / "out").string());
  std::ifstream in(dir / "out" / "metrics.csv");
  std::string line;
  std::getline(in, line);  // header
  std::set<std::int64_t> steps;
  std::size_t rows = 0;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) cells.push_back(cell);
    if (cells.size() > 3 && !cells[3].empty()) {  // a training row
      steps.insert(std::stoll(cells[0]));
      ++rows;
    }
  }
  EXPECT_EQ(rows, steps.size()) << "a step written twice";
  // Every step once, from before and after the resume.
  ASSERT_EQ(static_cast<std::int64_t>(steps.size()), cfg.steps);
  EXPECT_EQ(*steps.begin(), 1);
  EXPECT_EQ(*steps.rbegin(), cfg.steps);
}

TEST(Checkpoint, TornForeignAndAlteredFilesAreRefusedWithTheirReason) {
  const auto dir = fresh_dir("bad");
  Case c{"1f1b-async", "stash"};
  const RunConfig cfg = config_for(c);
  const std::string file = (dir / "ck.bin").string();
  stop_after_ops(cfg, 20, file);
  std::ifstream in(file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 100u);
  auto write = [&](const std::string& name, const std::string& content) {
    const std::string p = (dir / name).string();
    std::ofstream(p, std::ios::binary) << content;
    return p;
  };
  auto expect_refused = [&](const std::string& path, const std::string& reason) {
    try {
      checkpoint_config(path);
      ADD_FAILURE() << path << " was accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
    }
  };
  expect_refused(write("torn.bin", bytes.substr(0, bytes.size() / 2)), "torn");
  expect_refused(write("preset.bin", "{\"name\": \"tiny\"}"), "not a PipeScope checkpoint");
  std::string flipped = bytes;
  flipped[flipped.size() / 2] ^= 0x5a;
  expect_refused(write("flipped.bin", flipped), "checksum");
  expect_refused((dir / "missing.bin").string(), "cannot open");
  // No temporary file is left next to a written checkpoint.
  EXPECT_FALSE(std::filesystem::exists(file + ".tmp"));
}

TEST(Checkpoint, ResumingWithAnotherStrategyOrPartitionIsRefused) {
  const auto dir = fresh_dir("mismatch");
  Case c{"1f1b-async", "stash"};
  const RunConfig cfg = config_for(c);
  const std::string file = (dir / "ck.bin").string();
  stop_after_ops(cfg, 20, file);
  for (const std::string& field : {std::string("strategy"), std::string("stages")}) {
    RunConfig other = checkpoint_config(file);
    if (field == "strategy") other.strategy.name = "latest";
    else other.stages = 2;
    SessionOptions opts;
    opts.resume_path = file;
    opts.out_dir = (dir / ("out_" + field)).string();
    try {
      Session s(other, opts);
      ADD_FAILURE() << "resumed with another " << field;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists(opts.out_dir)) << "a refused resume wrote outputs";
  }
  // The learning rate may change (resume a diverging run more gently).
  RunConfig gentler = checkpoint_config(file);
  gentler.optimizer.lr *= 0.5;
  SessionOptions opts;
  opts.resume_path = file;
  Session s(gentler, opts);
  s.start();
  s.wait();
  EXPECT_EQ(s.summary().status, RunStatus::Completed);
}

TEST(Divergence, ANonFiniteLossOrWeightEndsTheRunAsDivergedNamingStageAndStep) {
  const auto dir = fresh_dir("diverge");
  Case c{"1f1b-async", "latest"};
  RunConfig cfg = config_for(c);
  cfg.optimizer.lr = 1e30;
  cfg.lr_schedule.name = "constant";
  SessionOptions opts;
  opts.out_dir = (dir / "out").string();
  Session s(cfg, opts);
  s.start();
  s.wait();
  const RunSummary sum = s.summary();
  EXPECT_EQ(sum.status, RunStatus::Diverged);
  EXPECT_NE(sum.error.find("stage "), std::string::npos) << sum.error;
  EXPECT_NE(sum.error.find("step "), std::string::npos) << sum.error;
  EXPECT_NE(sum.error.find("not finite"), std::string::npos) << sum.error;
  EXPECT_LT(sum.steps, cfg.steps);
  std::ifstream summary(dir / "out" / "summary.json");
  const std::string text((std::istreambuf_iterator<char>(summary)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("\"diverged\""), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(dir / "out" / "metrics.csv"));
  // A diverged run's state is not saved over its last good checkpoint.
  EXPECT_THROW(s.save_checkpoint((dir / "after.bin").string()), InputError);
}

}  // namespace
}  // namespace ps
