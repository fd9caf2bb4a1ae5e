// Stress (issue 8, part 5): 1,000 Start / Pause / Resume / Step / Stop operations in a random order
// (fixed seed) through the Session API on presets/tiny.json, with a new session and a different
// partition, executor and stage count between runs. No operation may hang: every wait_for returns
// within a generous bound, and a watchdog aborts with the operation history if the test stops making
// progress. Every run ends Completed or Stopped. Under the asan preset, LeakSanitizer checks that the
// 1,000 operations leave nothing behind.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"
#include "engine/config/run_config.h"
#include "engine/session/session.h"
#include "engine/telemetry/events.h"

namespace ps {
namespace {

using test::source_dir;

// The last operations, for the failure message (and the watchdog's).
class History {
 public:
  void add(const std::string& line) {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.push_back(line);
    if (lines_.size() > 60) lines_.pop_front();
    ++count_;
  }
  std::string text() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::ostringstream s;
    s << "last " << lines_.size() << " of " << count_ << " operations:\n";
    for (const auto& l : lines_) s << "  " << l << "\n";
    return s.str();
  }
  long count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return count_;
  }

 private:
  mutable std::mutex mu_;
  std::deque<std::string> lines_;
  long count_ = 0;
};

// Aborts the process with the history when no operation completes for `bound`: a hang inside start(),
// stop() or the destructor would otherwise only show as a ctest timeout without a clue.
class Watchdog {
 public:
  Watchdog(const History& h, std::chrono::seconds bound) : history_(h), bound_(bound), thread_([this] { watch(); }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void watch() {
    long last = -1;
    auto last_change = std::chrono::steady_clock::now();
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return done_; })) {
      const long now_count = history_.count();
      const auto now = std::chrono::steady_clock::now();
      if (now_count != last) {
        last = now_count;
        last_change = now;
      } else if (now - last_change > bound_) {
        std::fprintf(stderr, "test_stress: no operation finished for %lld s: a hang.\n%s",
                     static_cast<long long>(bound_.count()), history_.text().c_str());
        std::fflush(stderr);
        std::abort();
      }
    }
  }

  const History& history_;
  std::chrono::seconds bound_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// Every partition of tiny.json's 4-unit MLP into 1 to 4 stages.
const std::vector<std::vector<int>>& partitions() {
  static const std::vector<std::vector<int>> all = {{},     {1},    {2},    {3},    {1, 2},
                                                    {1, 3}, {2, 3}, {1, 2, 3}};
  return all;
}

std::string partition_text(const std::vector<int>& p) {
  std::string s = "[";
  for (std::size_t i = 0; i < p.size(); ++i) s += (i ? "," : "") + std::to_string(p[i]);
  return s + "]";
}

bool ended_well(RunStatus s) { return s == RunStatus::Completed || s == RunStatus::Stopped; }

TEST(SessionStress, ThousandRandomControlOperationsAcrossRepartitionedRunsNeverHang) {
  const RunConfig base = load_preset(source_dir() + "/presets/tiny.json");
  const auto bound = std::chrono::seconds(60);  // generous: a healthy stop takes milliseconds
  constexpr int kOperations = 1000;

  History history;
  Watchdog watchdog(history, std::chrono::seconds(120));
  std::mt19937 rng(20261123);
  int ops = 0, runs = 0, completed = 0, stopped = 0;
  std::vector<int> partition_used(partitions().size(), 0);

  while (ops < kOperations) {
    RunConfig cfg = base;
    const std::size_t which = rng() % partitions().size();
    cfg.partition = partitions()[which];
    cfg.stages = static_cast<int>(cfg.partition.size()) + 1;
    cfg.steps = 3 + static_cast<std::int64_t>(rng() % 6);
    cfg.executor = rng() % 4 == 0 ? "sequential" : "threaded";
    cfg.divergence_every = static_cast<int>(rng() % 3);
    const std::string run = "run " + std::to_string(runs) + " " + partition_text(cfg.partition) + " " + cfg.executor +
                            " steps " + std::to_string(cfg.steps);
    history.add(run + ": construct");
    auto session = std::make_unique<Session>(cfg);
    ASSERT_EQ(session->partition(), cfg.partition) << run;
    ++partition_used[which];

    bool started = false;
    bool ended = false;
    // Up to a dozen operations on this session, then a new one.
    const int budget = 1 + static_cast<int>(rng() % 12);
    for (int i = 0; i < budget && ops < kOperations && !ended; ++i, ++ops) {
      const int op = static_cast<int>(rng() % 5);
      std::string name;
      switch (op) {
        case 0:
          name = "start";
          session->start();
          started = true;
          break;
        case 1:
          name = "pause";
          session->pause();
          break;
        case 2:
          name = "resume";
          session->resume();
          break;
        case 3: {
          const int n = 1 + static_cast<int>(rng() % 4);
          name = "step " + std::to_string(n);
          session->step(n);
          break;
        }
        default:
          name = "stop";
          session->stop();
          break;
      }
      history.add(run + ": " + name);
      if (started) {
        // Let the run move a little, and see whether it ended.
        const auto wait_ms = std::chrono::milliseconds(rng() % 3 == 0 ? 5 : 0);
        ended = session->wait_for(wait_ms);
        if (name == "stop") {
          const bool done = session->wait_for(bound);
          ASSERT_TRUE(done) << run << ": wait_for after stop did not return within " << bound.count() << " s\n"
                            << history.text();
          ended = true;
        }
      }
      (void)session->drain();
      (void)session->status();
    }

    // End the run: stop it if it still goes (it may be paused), then wait.
    if (started) {
      if (!ended && rng() % 2 == 0) {
        history.add(run + ": resume (to finish)");
        session->resume();
      } else if (!ended) {
        history.add(run + ": stop (to finish)");
        session->stop();
      }
      const bool done = session->wait_for(bound);
      if (!done) {
        session->stop();
        history.add(run + ": stop (after the resume did not finish)");
        ASSERT_TRUE(session->wait_for(bound)) << run << ": wait_for did not return within " << bound.count() << " s\n"
                                              << history.text();
      }
      const RunStatus status = session->status();
      EXPECT_TRUE(ended_well(status)) << run << ": ended " << to_string(status) << " (" << session->summary().error
                                      << ")\n"
                                      << history.text();
      if (status == RunStatus::Completed) {
        ++completed;
        EXPECT_EQ(session->summary().steps, cfg.steps) << run;
      }
      if (status == RunStatus::Stopped) ++stopped;
      history.add(run + ": ended " + to_string(status));
    } else {
      history.add(run + ": never started");
    }
    (void)session->drain();
    session.reset();  // joins every thread
    history.add(run + ": destroyed");
    ++runs;
  }

  EXPECT_EQ(ops, kOperations);
  EXPECT_GT(runs, 50);
  EXPECT_GT(completed, 0) << "no run ever completed: the random order never let one finish";
  EXPECT_GT(stopped, 0) << "no run was ever stopped";
  for (std::size_t i = 0; i < partition_used.size(); ++i)
    EXPECT_GT(partition_used[i], 0) << "partition " << partition_text(partitions()[i]) << " never used";
  RecordProperty("runs", runs);
  RecordProperty("completed", completed);
  RecordProperty("stopped", stopped);
}

}  // namespace
}  // namespace ps
