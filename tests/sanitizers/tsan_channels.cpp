// ThreadSanitizer over the engine's own concurrency, without LibTorch: the stage-to-stage Channel
// (engine/runtime/channel.h), the telemetry SpscRing (engine/telemetry/ring.h) and RunControl
// (engine/runtime/run_control.h), driven by a fake workload shaped like the pipeline: stage threads
// pass "activations" forward and "gradients" back through channels, call before_op() before every op
// and push an event per op into their ring; a collector drains the rings; a controller pauses, steps,
// resumes, changes the slow-motion delay and finally stops. Built with -fsanitize=thread (see
// tests/CMakeLists.txt); a data race makes TSan report and exit non-zero, a wrong result or a hang
// makes this program exit 1. Standalone main: no gtest, no LibTorch.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/runtime/channel.h"
#include "engine/runtime/run_control.h"
#include "engine/telemetry/ring.h"

namespace {

using Clock = std::chrono::steady_clock;
int g_failures = 0;

void check(bool ok, const std::string& what) {
  if (ok) return;
  std::fprintf(stderr, "tsan_channels: FAILED: %s\n", what.c_str());
  ++g_failures;
}

// What flows between fake stages: owns heap memory, so a racy move shows up under TSan.
struct Activation {
  int minibatch = -1;
  std::vector<float> values;
  std::string tag;
};

struct Event {
  int stage = -1;
  int minibatch = -1;
  char kind = '?';
  std::int64_t t_ns = 0;
};

// Joins `t` or reports a hang (and exits: a hung thread cannot be joined).
void join_within(std::thread& t, std::chrono::seconds bound, const std::string& what) {
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    const auto until = Clock::now() + bound;
    while (!done.load() && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!done.load()) {
      std::fprintf(stderr, "tsan_channels: FAILED: %s did not finish within %lld s\n", what.c_str(),
                   static_cast<long long>(bound.count()));
      std::_Exit(1);
    }
  });
  t.join();
  done = true;
  watchdog.join();
}

// A fake pipeline of `stages` threads: forward through fwd[k] (k -> k+1), backward through bwd[k]
// (k+1 -> k). Every op goes through RunControl::before_op() and pushes an event into its stage's ring.
struct FakePipeline {
  int stages;
  int minibatches;
  std::vector<std::unique_ptr<ps::Channel<Activation>>> fwd, bwd;
  std::vector<std::unique_ptr<ps::SpscRing<Event>>> rings;
  ps::RunControl control;
  std::atomic<int> backward_done{0};  // minibatches whose backward reached stage 0
  std::atomic<bool> collector_stop{false};
  std::vector<std::vector<Event>> collected;

  FakePipeline(int s, int m) : stages(s), minibatches(m), collected(static_cast<std::size_t>(s)) {
    for (int k = 0; k + 1 < s; ++k) {
      fwd.push_back(std::make_unique<ps::Channel<Activation>>(2));
      bwd.push_back(std::make_unique<ps::Channel<Activation>>(2));
    }
    // Small rings so that the full-ring path (dropped events) runs too.
    for (int k = 0; k < s; ++k) rings.push_back(std::make_unique<ps::SpscRing<Event>>(64));
  }

  void emit(int k, int mb, char kind) {
    const auto t = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
    rings[static_cast<std::size_t>(k)]->try_push(Event{k, mb, kind, t});
  }

  // 1F1B-like order per stage: forward of mb, then (when downstream returns it) backward of mb.
  void worker(int k) {
    for (int mb = 0; mb < minibatches; ++mb) {
      if (!control.before_op()) return;
      Activation a;
      if (k == 0) {
        a.minibatch = mb;
        a.values.assign(16, static_cast<float>(mb));
        a.tag = "mb" + std::to_string(mb);
      } else {
        auto in = fwd[static_cast<std::size_t>(k - 1)]->pop();
        if (!in) return;
        a = std::move(*in);
        if (a.minibatch != mb) {
          check(false, "stage " + std::to_string(k) + " got minibatch " + std::to_string(a.minibatch) +
                           " in place of " + std::to_string(mb));
          return;
        }
        for (float& v : a.values) v += 1.0f;
      }
      emit(k, mb, 'F');
      if (k + 1 < stages) {
        if (!fwd[static_cast<std::size_t>(k)]->push(Activation(a))) return;
        auto grad = bwd[static_cast<std::size_t>(k)]->pop();
        if (!grad) return;
        if (grad->minibatch != mb) {
          check(false, "stage " + std::to_string(k) + " got the gradient of minibatch " +
                           std::to_string(grad->minibatch) + " in place of " + std::to_string(mb));
          return;
        }
        a = std::move(*grad);
      }
      if (!control.before_op()) return;
      for (float& v : a.values) v *= 0.5f;
      emit(k, mb, 'B');
      if (k > 0) {
        if (!bwd[static_cast<std::size_t>(k - 1)]->push(std::move(a))) return;
      } else {
        backward_done.fetch_add(1);
      }
    }
  }

  void collector() {
    std::vector<Event> batch;
    for (;;) {
      const bool last_round = collector_stop.load();
      for (int k = 0; k < stages; ++k) {
        batch.clear();
        rings[static_cast<std::size_t>(k)]->pop_all(batch);
        auto& into = collected[static_cast<std::size_t>(k)];
        into.insert(into.end(), batch.begin(), batch.end());
        (void)rings[static_cast<std::size_t>(k)]->size_approx();
        (void)rings[static_cast<std::size_t>(k)]->dropped();
      }
      if (last_round) return;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }

  void close_all() {
    for (auto& c : fwd) c->close();
    for (auto& c : bwd) c->close();
  }
};

// Runs the fake pipeline with `drive` acting as the controller on its own thread; returns the pipeline.
std::unique_ptr<FakePipeline> run_pipeline(int stages, int minibatches,
                                           const std::function<void(FakePipeline&)>& drive) {
  auto p = std::make_unique<FakePipeline>(stages, minibatches);
  std::vector<std::thread> workers;
  workers.reserve(static_cast<std::size_t>(stages));
  for (int k = 0; k < stages; ++k) workers.emplace_back([&p, k] { p->worker(k); });
  std::thread collector([&p] { p->collector(); });
  std::thread controller([&p, &drive] { drive(*p); });
  join_within(controller, std::chrono::seconds(120), "the controller");
  for (std::size_t k = 0; k < workers.size(); ++k)
    join_within(workers[k], std::chrono::seconds(120), "stage worker " + std::to_string(k));
  p->collector_stop = true;
  join_within(collector, std::chrono::seconds(30), "the collector");
  return p;
}

// Events of one stage are in op order: F0 B0 F1 B1 ... (dropped ones missing, order kept).
void check_event_order(const FakePipeline& p, const std::string& scenario) {
  for (int k = 0; k < p.stages; ++k) {
    int last = -1;
    for (const Event& e : p.collected[static_cast<std::size_t>(k)]) {
      const int index = 2 * e.minibatch + (e.kind == 'B' ? 1 : 0);
      check(e.stage == k, scenario + ": an event of stage " + std::to_string(e.stage) + " in ring " +
                              std::to_string(k));
      check(index > last, scenario + ": events of stage " + std::to_string(k) + " out of order");
      last = index;
    }
  }
}

void scenario_runs_to_the_end() {
  const int minibatches = 3000;
  auto p = run_pipeline(4, minibatches, [](FakePipeline&) {});
  check(p->backward_done.load() == minibatches, "plain run: " + std::to_string(p->backward_done.load()) + " of " +
                                                     std::to_string(minibatches) + " minibatches finished");
  check_event_order(*p, "plain run");
  for (int k = 0; k < p->stages; ++k) {
    const auto& ring = *p->rings[static_cast<std::size_t>(k)];
    const auto seen = static_cast<std::int64_t>(p->collected[static_cast<std::size_t>(k)].size());
    check(seen + ring.dropped() == 2 * minibatches,
          "plain run: stage " + std::to_string(k) + " events seen + dropped != ops");
  }
}

void scenario_pause_step_resume_delay(unsigned seed) {
  const int minibatches = 400;
  auto p = run_pipeline(3, minibatches, [seed](FakePipeline& pipe) {
    std::mt19937 rng(seed);
    for (int i = 0; i < 300 && pipe.backward_done.load() < 400; ++i) {
      switch (rng() % 6) {
        case 0: pipe.control.pause(); break;
        case 1: pipe.control.step(1 + static_cast<int>(rng() % 4)); break;
        case 2: pipe.control.resume(); break;
        case 3: pipe.control.set_delay(std::chrono::microseconds(rng() % 3 == 0 ? 50 : 0)); break;
        case 4: (void)pipe.control.paused(); break;
        default: (void)pipe.control.stopped(); break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300));
    }
    pipe.control.set_delay(std::chrono::microseconds(0));
    pipe.control.resume();  // let it finish
  });
  check(p->backward_done.load() == minibatches, "pause/step/resume: " + std::to_string(p->backward_done.load()) +
                                                     " of " + std::to_string(minibatches) + " minibatches finished");
  check_event_order(*p, "pause/step/resume");
}

void scenario_stop_mid_run(bool paused_first) {
  auto p = run_pipeline(4, 1000000, [paused_first](FakePipeline& pipe) {
    while (pipe.backward_done.load() < 50) std::this_thread::sleep_for(std::chrono::microseconds(100));
    if (paused_first) {
      pipe.control.pause();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      pipe.control.step(3);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    // The engine's order on stop: tell the workers, then close the channels they may block in.
    pipe.control.stop();
    pipe.close_all();
    // What a stopping pipeline does next: take what is still queued, while workers may still unwind.
    std::size_t leftover = 0;
    for (auto& c : pipe.fwd) leftover += c->take_all().size();
    for (auto& c : pipe.bwd) leftover += c->take_all().size();
    check(leftover <= 2 * 2 * pipe.fwd.size(), "stop: more queued than the channels hold");
  });
  check(p->backward_done.load() < 1000000, "stop: the run did not stop");
  check(p->control.stopped(), "stop: stopped() is false after stop()");
  check_event_order(*p, paused_first ? "stop while paused" : "stop");
}

void scenario_channel_close_wakes_blocked_pushers_and_poppers() {
  ps::Channel<Activation> full(1), empty(1);
  check(full.push(Activation{0, {1.0f}, "x"}), "a push into an empty channel");
  std::atomic<int> woke{0};
  std::thread pusher([&] {
    if (!full.push(Activation{1, {}, "blocked"})) woke.fetch_add(1);
  });
  std::thread popper([&] {
    if (!empty.pop()) woke.fetch_add(1);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  full.close();
  empty.close();
  join_within(pusher, std::chrono::seconds(10), "a pusher blocked on a full channel");
  join_within(popper, std::chrono::seconds(10), "a popper blocked on an empty channel");
  check(woke.load() == 2, "close() must wake a blocked push and a blocked pop, and both must fail");
}

void scenario_ring_producer_consumer() {
  ps::SpscRing<Event> ring(256);
  const int n = 50000;
  std::atomic<bool> produced{false};
  std::vector<Event> got;
  std::thread producer([&] {
    for (int i = 0; i < n; ++i)
      if (!ring.try_push(Event{0, i, 'F', i})) std::this_thread::yield();
    produced = true;
  });
  std::thread consumer([&] {
    for (;;) {
      const bool last = produced.load();
      if (ring.pop_all(got, 100) == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
      if (last && ring.size_approx() == 0) return;
    }
  });
  std::thread observer([&] {
    while (!produced.load()) {
      (void)ring.size_approx();
      (void)ring.dropped();
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  });
  join_within(producer, std::chrono::seconds(60), "the ring producer");
  join_within(consumer, std::chrono::seconds(60), "the ring consumer");
  join_within(observer, std::chrono::seconds(60), "the ring observer");
  check(static_cast<std::int64_t>(got.size()) + ring.dropped() == n, "ring: received + dropped != pushed");
  for (std::size_t i = 1; i < got.size(); ++i)
    if (got[i].minibatch <= got[i - 1].minibatch) {
      check(false, "ring: items out of order at " + std::to_string(i));
      break;
    }
}

}  // namespace

int main() {
  scenario_ring_producer_consumer();
  scenario_channel_close_wakes_blocked_pushers_and_poppers();
  scenario_runs_to_the_end();
  for (unsigned seed = 1; seed <= 3; ++seed) scenario_pause_step_resume_delay(seed);
  scenario_stop_mid_run(false);
  scenario_stop_mid_run(true);
  if (g_failures > 0) {
    std::fprintf(stderr, "tsan_channels: %d check(s) failed\n", g_failures);
    return 1;
  }
  std::printf("tsan_channels: all scenarios passed\n");
  return 0;
}
