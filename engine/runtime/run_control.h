// Pause, step, stop and slow motion for the pipeline's workers. Workers call before_op() before every
// op; it returns false when the run must stop. Torch-free.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace ps {

class RunControl {
 public:
  bool before_op() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return stop_ || !paused_ || step_credits_ > 0; });
    if (stop_) return false;
    const bool last_credit = paused_ && --step_credits_ == 0;
    const auto delay = delay_;
    lock.unlock();
    if (last_credit) cv_.notify_all();  // wait_stepped
    if (delay.count() > 0) {
      // Slow motion: sleep in slices so that stop and pause stay responsive.
      auto until = std::chrono::steady_clock::now() + delay;
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait_until(l, until, [&] { return stop_; });
      if (stop_) return false;
    }
    return true;
  }

  void pause() { set([&] { paused_ = true; step_credits_ = 0; }); }
  void resume() { set([&] { paused_ = false; step_credits_ = 0; }); }
  void step(int ops) { set([&] { if (paused_) step_credits_ += ops; }); }
  void stop() { set([&] { stop_ = true; hard_stop_ = true; }); }
  void set_delay(std::chrono::microseconds d) { set([&] { delay_ = d; }); }
  void reset() { set([&] { stop_ = false; hard_stop_ = false; cut_ = false; paused_ = false; step_credits_ = 0; }); }

  // A checkpoint: the workers stop as for stop(); the driver saves, then continue_after_cut() lets
  // the run go on, unless a real stop() came in the meantime (then it stays stopped: false).
  void request_cut() { set([&] { stop_ = true; cut_ = true; }); }
  bool cut_requested() const {
    std::lock_guard<std::mutex> lock(mu_);
    return cut_;
  }
  bool continue_after_cut() {
    bool go_on = false;
    set([&] {
      go_on = cut_ && !hard_stop_;
      cut_ = false;
      if (go_on) stop_ = false;
    });
    return go_on;
  }

  // Paused and stepping: waits (up to `timeout`) until every op that step() let run has started, or
  // the run resumed or stopped; false on timeout.
  bool wait_stepped(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return stop_ || !paused_ || step_credits_ <= 0; });
  }

  bool stopped() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stop_;
  }
  bool paused() const {
    std::lock_guard<std::mutex> lock(mu_);
    return paused_;
  }

 private:
  template <typename F>
  void set(F f) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      f();
    }
    cv_.notify_all();
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;       // workers stop before their next op
  bool hard_stop_ = false;  // ... because the run is to end (not only for a checkpoint)
  bool cut_ = false;
  bool paused_ = false;
  int step_credits_ = 0;
  std::chrono::microseconds delay_{0};
};

}  // namespace ps
