// The frames between ranks (engine/dist): two ranks of one Group, as two threads of this process meeting
// through a FileStore, send each other frames of every size back to back, and what arrives is what was
// sent, in order; messages unpack to views of the bytes that carried them.
#include <gtest/gtest.h>

#include <ATen/Functions.h>
#include <torch/torch.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <future>
#include <thread>

#include "engine/config/run_config.h"
#include "engine/dist/group.h"
#include "engine/dist/link_probe.h"
#include "engine/dist/rank_context.h"
#include "engine/runtime/link.h"
#include "engine/runtime/run_control.h"
#include "engine/dist/wire.h"

namespace ps::dist {
namespace {

namespace fs = std::filesystem;

// Payload sizes around the message size: empty, small, a frame of exactly one message, one byte over
// (two messages), and a frame of four messages.
const std::vector<std::int64_t> kSizes = {0, 1, 1000, kMessageBytes - kHeaderBytes, kMessageBytes - kHeaderBytes + 1,
                                          3 * kMessageBytes + 12345};

std::uint8_t pattern(std::size_t frame, std::int64_t i, int from) {
  return static_cast<std::uint8_t>((frame * 31 + static_cast<std::size_t>(i) * 7 + static_cast<std::size_t>(from)) & 0xff);
}

at::Tensor payload_of(std::size_t frame, std::int64_t n, int from, std::int64_t room) {
  at::Tensor t = at::empty({room + n}, at::TensorOptions().dtype(at::kByte));
  auto* p = t.data_ptr<std::uint8_t>() + room;
  for (std::int64_t i = 0; i < n; ++i) p[i] = pattern(frame, i, from);
  return t;
}

// Each rank posts every size twice (without and with room for the header), back to back, then one
// send() that returns once the peer has it; and receives the peer's frames, checking each.
void exchange(Group& g, int me, std::vector<std::string>& problems) {
  const int peer = 1 - me;
  auto receiving = std::async(std::launch::async, [&] {
    std::vector<std::string> bad;
    for (std::size_t f = 0; f < 2 * kSizes.size() + 1; ++f) {
      std::optional<Frame> got = g.recv(peer);
      if (!got) {
        bad.push_back("frame " + std::to_string(f) + ": the receive ended");
        return bad;
      }
      const std::int64_t n = f < 2 * kSizes.size() ? kSizes[f % kSizes.size()] : 7;
      if (got->kind != FrameKind::Telemetry || got->key != static_cast<std::int64_t>(100 * peer + f))
        bad.push_back("frame " + std::to_string(f) + ": kind or key " + std::to_string(got->key));
      if (got->payload.numel() != n) {
        bad.push_back("frame " + std::to_string(f) + ": " + std::to_string(got->payload.numel()) + " bytes, sent " +
                      std::to_string(n));
        continue;
      }
      const at::Tensor c = got->payload.contiguous();
      const auto* p = c.data_ptr<std::uint8_t>();
      for (std::int64_t i = 0; i < n; ++i)
        if (p[i] != pattern(f, i, peer)) {
          bad.push_back("frame " + std::to_string(f) + ": byte " + std::to_string(i) + " differs");
          break;
        }
    }
    return bad;
  });
  for (std::size_t f = 0; f < 2 * kSizes.size(); ++f) {
    const bool room = f >= kSizes.size();
    g.post(peer, FrameKind::Telemetry, 100 * me + static_cast<std::int64_t>(f),
           payload_of(f, kSizes[f % kSizes.size()], me, room ? kHeaderBytes : 0), room);
  }
  const std::size_t last = 2 * kSizes.size();
  g.send(peer, FrameKind::Telemetry, 100 * me + static_cast<std::int64_t>(last), payload_of(last, 7, me, 0));
  if (receiving.wait_for(std::chrono::seconds(120)) != std::future_status::ready) {
    g.abort_recv(peer);  // a lost frame: end the receive, and the test fails
    problems.push_back("rank " + std::to_string(me) + " did not receive every frame");
  }
  for (auto& p : receiving.get()) problems.push_back("rank " + std::to_string(me) + ": " + p);
}

TEST(Wire, FramesOfEverySizeArriveWholeAndInOrderBothWays) {
  const fs::path dir = fs::temp_directory_path() / ("pipescope_wire_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  RunConfig cfg;
  std::vector<std::string> problems[2];
  std::vector<std::thread> ranks;
  for (int r = 0; r < 2; ++r)
    ranks.emplace_back([&, r] {
      try {
        Group g(file_store_rank((dir / "store").string(), r, 2, "wire-test"), cfg, std::chrono::seconds(60));
        exchange(g, r, problems[r]);
        // The peer may still be receiving what this rank sent last: wait for its word before closing.
        g.send(1 - r, FrameKind::End, 0);
        if (!g.recv(1 - r)) problems[r].push_back("no end from the peer");
      } catch (const std::exception& e) {
        problems[r].push_back(e.what());
      }
    });
  for (auto& t : ranks) t.join();
  fs::remove_all(dir);
  for (int r = 0; r < 2; ++r) EXPECT_TRUE(problems[r].empty()) << "rank " << r << ": " << problems[r].front();
}

TEST(Wire, AMessageUnpacksToViewsOfItsBytesThatKeepThemAlive) {
  Message m;
  m.minibatch = 5;
  m.micro = 2;
  m.origin_version = 9;
  m.sent_ns = 1234;
  m.tensors = {torch::arange(12, torch::kFloat).reshape({3, 4}), at::Tensor(), torch::arange(5, torch::kDouble)};
  const std::int64_t origin = 1000;
  at::Tensor bytes = pack_message(m, origin, kHeaderBytes);
  // What the receiver hands over: the payload after the frame header, a view of the buffer.
  at::Tensor payload = bytes.narrow(0, kHeaderBytes, bytes.numel() - kHeaderBytes);
  Message out = unpack_message(payload, origin);
  EXPECT_EQ(out.minibatch, 5);
  EXPECT_EQ(out.micro, 2);
  EXPECT_EQ(out.origin_version, 9);
  EXPECT_EQ(out.sent_ns, 1234);
  ASSERT_EQ(out.tensors.size(), 3u);
  EXPECT_FALSE(out.tensors[1].defined());
  const auto* begin = static_cast<const std::uint8_t*>(bytes.data_ptr());
  const auto* end = begin + bytes.numel();
  for (int k : {0, 2}) {
    const auto* at = static_cast<const std::uint8_t*>(out.tensors[static_cast<std::size_t>(k)].data_ptr());
    EXPECT_TRUE(at >= begin && at < end) << "tensor " << k << " was copied out of the message";
  }
  bytes = at::Tensor();  // the views keep the bytes alive
  payload = at::Tensor();
  EXPECT_TRUE(torch::equal(out.tensors[0], torch::arange(12, torch::kFloat).reshape({3, 4})));
  EXPECT_TRUE(torch::equal(out.tensors[2], torch::arange(5, torch::kDouble)));
}

// The processes' hand-off probe (the simulator's processes_latency_s): every round's two frames come,
// each gives a one-way time, and the median is one of them.
TEST(Wire, TheHandOffProbeTimesEveryRound) {
  const HandOffProbe p = probe_processes_hand_off(64 * 1024, std::chrono::microseconds(200), 12);
  EXPECT_EQ(p.bytes, 64 * 1024);
  ASSERT_EQ(p.one_way_s.size(), 24u);
  for (double t : p.one_way_s) {
    EXPECT_GT(t, 0);
    EXPECT_LT(t, 30);
  }
  EXPECT_NE(std::find(p.one_way_s.begin(), p.one_way_s.end(), p.median_s), p.one_way_s.end());
  EXPECT_GE(p.mean_s, *std::min_element(p.one_way_s.begin(), p.one_way_s.end()));
  EXPECT_LE(p.mean_s, *std::max_element(p.one_way_s.begin(), p.one_way_s.end()));
}

// processes.spin_microseconds: a stage waiting for another process's message spins before it sleeps.
// With a spin of 10 minutes, the message that comes, and a stop, each end the wait at once (the test
// allows a minute); a spin that watched neither would hold the pop for the whole 10 minutes.
TEST(Wire, ASpinningLinkTakesTheMessageAndTheStopAtOnce) {
  std::string dir = (fs::temp_directory_path() / "pipescope-spin-XXXXXX").string();
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  RunConfig cfg;
  cfg.processes_spin_microseconds = 600'000'000;
  const auto bound = std::chrono::seconds(60);
  std::promise<void> popping;
  std::string problem[2];
  auto rank = [&](int me) {
    try {
      RankContext ctx(file_store_rank(dir + "/store", me, 2, "spin"), cfg, std::chrono::milliseconds(30000), [] {});
      ctx.set_placement({0, 1});
      RunControl control;
      const auto link = ctx.link(0, 1, control);
      if (me == 0) {
        popping.get_future().wait();
        Message m;
        m.minibatch = 7;
        m.tensors = {at::arange(16, at::TensorOptions().dtype(at::kFloat))};
        link->push(std::move(m));
      } else {
        auto got = std::async(std::launch::async, [&] { return link->pop(); });
        popping.set_value();
        if (got.wait_for(bound) != std::future_status::ready) {
          problem[1] = "the message did not end the spin;";
          link->close();
        } else if (const auto m = got.get(); !m || m->minibatch != 7 || !at::equal(m->tensors.at(0), at::arange(16, at::kFloat))) {
          problem[1] = "the message came wrong;";
        }
        auto stopped = std::async(std::launch::async, [&] { return link->pop(); });
        control.stop();
        if (stopped.wait_for(bound) != std::future_status::ready) {
          problem[1] += " the stop did not end the spin;";
          link->close();
        } else if (stopped.get()) {
          problem[1] += " a stopped pop returned a message;";
        }
      }
      ctx.flush_links();
    } catch (const std::exception& e) {
      problem[me] += e.what();
    }
  };
  std::thread other(rank, 0);
  rank(1);
  other.join();
  fs::remove_all(dir);
  EXPECT_EQ(problem[0], "");
  EXPECT_EQ(problem[1], "");
}

// The threaded executor's channel, with a spin of 10 minutes: the message pushed, and the close, each
// end a waiting pop at once (the test allows a minute).
TEST(Link, ASpinningChannelTakesTheMessageAndTheCloseAtOnce) {
  ChannelLink link(2, std::chrono::minutes(10));
  const auto bound = std::chrono::seconds(60);
  auto got = std::async(std::launch::async, [&] { return link.pop(); });
  Message m;
  m.minibatch = 3;
  ASSERT_TRUE(link.push(std::move(m)));
  ASSERT_EQ(got.wait_for(bound), std::future_status::ready) << "the message did not end the spin";
  const auto first = got.get();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->minibatch, 3);
  auto closed = std::async(std::launch::async, [&] { return link.pop(); });
  link.close();
  ASSERT_EQ(closed.wait_for(bound), std::future_status::ready) << "the close did not end the spin";
  EXPECT_FALSE(closed.get().has_value());
}

}  // namespace
}  // namespace ps::dist
