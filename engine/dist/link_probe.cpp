#include "engine/dist/link_probe.h"

#include <ATen/Functions.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "engine/config/run_config.h"
#include "engine/dist/group.h"
#include "engine/runtime/channel.h"

namespace ps::dist {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

constexpr int kWarm = 4;

void work_for(std::chrono::microseconds gap) {
  for (const auto until = Clock::now() + gap; Clock::now() < until;) {
  }
}

// Both sides' rounds after the warm-up.
HandOffProbe result_of(std::int64_t bytes, const std::vector<double>& one_way) {
  HandOffProbe out;
  out.bytes = bytes;
  out.one_way_s.assign(one_way.begin() + 2 * kWarm, one_way.end());
  std::vector<double> sorted = out.one_way_s;
  std::sort(sorted.begin(), sorted.end());
  out.median_s = sorted[sorted.size() / 2];
  for (double t : sorted) out.mean_s += t / double(sorted.size());
  return out;
}

constexpr std::chrono::seconds kWait{30};  // a frame that takes longer is lost: the probe fails

// One rank of the probe: every round, work for `gap`, send a frame stamped with the time, wait for the
// peer's frame of the round and record its one-way time in one_way[2 * round + me].
void probe_rank(int me, const std::string& store, std::int64_t bytes, std::chrono::microseconds gap, int total,
                std::vector<double>& one_way) {
  DistOptions o;
  o.rank = me;
  o.world = 2;
  o.store_file = store;
  o.token = "hand-off-probe";
  Group g(o, RunConfig{}, std::chrono::duration_cast<std::chrono::milliseconds>(kWait));
  const int peer = 1 - me;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Frame> inbox;
  bool ended = false;
  std::thread receiver([&] {  // as RankContext's receiving thread: from Gloo into an inbox, then a notify
    for (;;) {
      std::optional<Frame> f;
      try {
        f = g.recv(peer);
      } catch (const std::exception&) {
        f.reset();
      }
      std::lock_guard<std::mutex> lock(mu);
      if (!f) {
        ended = true;
        cv.notify_all();
        return;
      }
      inbox.push_back(std::move(*f));
      cv.notify_all();
    }
  });
  std::string failure;
  for (int r = 0; r < total; ++r) {
    at::Tensor payload = at::zeros({kHeaderBytes + bytes}, at::TensorOptions().dtype(at::kByte));
    work_for(gap);
    const std::int64_t stamp = now_ns();
    if (r + 1 == total) g.send(peer, FrameKind::Data, stamp, payload.narrow(0, kHeaderBytes, bytes));  // taken before the end
    else g.post(peer, FrameKind::Data, stamp, payload, /*headroom=*/true);
    std::unique_lock<std::mutex> lock(mu);
    if (!cv.wait_for(lock, kWait, [&] { return !inbox.empty() || ended; }) || inbox.empty()) {
      failure = "the frame of round " + std::to_string(r) + " did not come";
      break;
    }
    const std::int64_t arrived = now_ns();
    one_way[static_cast<std::size_t>(2 * r + me)] = 1e-9 * double(arrived - inbox.front().key);
    inbox.pop_front();
  }
  g.abort_recv(peer);
  receiver.join();
  if (!failure.empty()) throw std::runtime_error("the hand-off probe: " + failure);
}

}  // namespace

HandOffProbe probe_processes_hand_off(std::int64_t bytes, std::chrono::microseconds gap, int rounds) {
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/pipescope-probe-XXXXXX";
  if (!mkdtemp(dir.data())) throw std::runtime_error("the hand-off probe: cannot make a directory in " + dir);
  struct Remove {
    std::string dir;
    ~Remove() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } remove{dir};
  const int total = kWarm + std::max(1, rounds);
  std::vector<double> one_way(2 * static_cast<std::size_t>(total), -1.0);
  std::exception_ptr failed[2];
  std::thread ranks[2];
  for (int me = 0; me < 2; ++me)
    ranks[me] = std::thread([&, me] {
      try {
        probe_rank(me, dir + "/store", std::max<std::int64_t>(0, bytes), gap, total, one_way);
      } catch (...) {
        failed[me] = std::current_exception();
      }
    });
  for (auto& t : ranks) t.join();
  for (const auto& f : failed)
    if (f) std::rethrow_exception(f);
  return result_of(bytes, one_way);
}

HandOffProbe probe_threads_hand_off(std::chrono::microseconds gap, int rounds) {
  const int total = kWarm + std::max(1, rounds);
  std::vector<double> one_way(2 * static_cast<std::size_t>(total), -1.0);
  Channel<std::int64_t> to[2] = {Channel<std::int64_t>(2), Channel<std::int64_t>(2)};  // to[r]: frames for thread r
  auto side = [&](int me) {
    for (int r = 0; r < total; ++r) {
      work_for(gap);
      to[1 - me].push(now_ns());
      const std::optional<std::int64_t> stamp = to[me].pop();
      if (!stamp) return;
      one_way[static_cast<std::size_t>(2 * r + me)] = 1e-9 * double(now_ns() - *stamp);
    }
  };
  std::thread other(side, 1);
  side(0);
  other.join();
  return result_of(0, one_way);
}

}  // namespace ps::dist
