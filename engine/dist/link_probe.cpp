#include "engine/dist/link_probe.h"

#include <ATen/Functions.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>

#include "engine/config/run_config.h"
#include "engine/dist/rank_context.h"
#include "engine/runtime/link.h"

namespace ps::dist {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

constexpr int kWarm = 4;
constexpr std::chrono::seconds kWait{30};  // the ranks' rendezvous and every wait of their links

// One side of the rounds, over the engine's own links: every round, work for `gap`, push a message of
// `bytes` stamped with the time (a tensor of its own, so that no clock alignment enters), pop the other
// side's and record its one-way time in one_way[2 * round + me]. False when a link closed.
bool exchange(Link& out, Link& in, int me, std::int64_t bytes, std::chrono::microseconds gap, int total,
              std::vector<double>& one_way) {
  for (int r = 0; r < total; ++r) {
    Message m;
    m.minibatch = r;
    m.tensors = {at::zeros({bytes}, at::TensorOptions().dtype(at::kByte)), at::empty({1}, at::TensorOptions().dtype(at::kLong))};
    for (const auto until = Clock::now() + gap; Clock::now() < until;) {
    }
    m.tensors[1].data_ptr<std::int64_t>()[0] = now_ns();
    if (!out.push(std::move(m))) return false;
    const std::optional<Message> got = in.pop();
    if (!got) return false;
    one_way[static_cast<std::size_t>(2 * r + me)] = 1e-9 * double(now_ns() - got->tensors.at(1).data_ptr<std::int64_t>()[0]);
  }
  return true;
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
        RankContext ctx(file_store_rank(dir + "/store", me, 2, "hand-off-probe"), RunConfig{}, std::chrono::duration_cast<std::chrono::milliseconds>(kWait), [] {});
        ctx.set_placement({0, 1});  // chunk 0 on rank 0, chunk 1 on rank 1
        RunControl control;
        const auto out = ctx.link(me, 1 - me, control), in = ctx.link(1 - me, me, control);
        const bool done = exchange(*out, *in, me, std::max<std::int64_t>(0, bytes), gap, total, one_way);
        ctx.flush_links();  // every message taken on both sides before the connections close
        if (!done) throw std::runtime_error("the hand-off probe: a link closed");
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
  ChannelLink to[2] = {ChannelLink(2), ChannelLink(2)};  // to[r]: messages for side r
  std::thread other([&] { exchange(to[0], to[1], 1, 0, gap, total, one_way); });
  exchange(to[1], to[0], 0, 0, gap, total, one_way);
  other.join();
  return result_of(0, one_way);
}

}  // namespace ps::dist
