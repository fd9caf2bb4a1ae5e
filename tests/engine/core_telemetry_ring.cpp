// SpscRing: single-thread semantics (order, full, wrap-around) and a two-thread stress run.
#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <thread>
#include <vector>

#include "engine/telemetry/ring.h"

namespace ps {
namespace {

TEST(SpscRing, CapacityRoundsUpToAPowerOfTwo) {
  EXPECT_EQ(SpscRing<int>(1).capacity(), 1u);
  EXPECT_EQ(SpscRing<int>(5).capacity(), 8u);
  EXPECT_EQ(SpscRing<int>(8).capacity(), 8u);
  EXPECT_EQ(SpscRing<int>(1000).capacity(), 1024u);
  EXPECT_THROW(SpscRing<int>(0), std::invalid_argument);
}

TEST(SpscRing, KeepsOrderAndRefusesWhenFull) {
  SpscRing<int> ring(4);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(ring.try_push(i));
  EXPECT_FALSE(ring.try_push(4));
  EXPECT_FALSE(ring.try_push(5));
  EXPECT_EQ(ring.dropped(), 2);
  EXPECT_EQ(ring.size_approx(), 4u);

  std::vector<int> out = {-1};  // pop_all appends
  EXPECT_EQ(ring.pop_all(out), 4u);
  EXPECT_EQ(out, (std::vector<int>{-1, 0, 1, 2, 3}));
  EXPECT_EQ(ring.pop_all(out), 0u);
  EXPECT_EQ(ring.size_approx(), 0u);

  EXPECT_TRUE(ring.try_push(6));  // room again after the drain
  EXPECT_EQ(ring.dropped(), 2);
}

TEST(SpscRing, PopAllHonoursTheLimit) {
  SpscRing<int> ring(8);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(ring.try_push(i));
  std::vector<int> out;
  EXPECT_EQ(ring.pop_all(out, 4), 4u);
  EXPECT_EQ(out, (std::vector<int>{0, 1, 2, 3}));
  out.clear();
  EXPECT_EQ(ring.pop_all(out, 4), 2u);
  EXPECT_EQ(out, (std::vector<int>{4, 5}));
}

TEST(SpscRing, WrapsAroundManyTimes) {
  SpscRing<int> ring(4);
  int next_in = 0, next_out = 0;
  std::vector<int> out;
  for (int round = 0; round < 50; ++round) {
    // Uneven push/pop counts move the indices across the wrap point at every offset.
    const int pushes = 1 + round % 4;
    for (int i = 0; i < pushes; ++i)
      if (ring.try_push(next_in)) ++next_in;
    out.clear();
    ring.pop_all(out, 1 + round % 3);
    for (int v : out) EXPECT_EQ(v, next_out++);
  }
  out.clear();
  ring.pop_all(out);
  for (int v : out) EXPECT_EQ(v, next_out++);
  EXPECT_EQ(next_out, next_in);
  EXPECT_GT(next_in, 40);  // the indices went around a 4-slot ring many times
}

TEST(SpscRing, MovesItemsOut) {
  SpscRing<std::vector<int>> ring(2);
  std::vector<int> payload(100, 7);
  ASSERT_TRUE(ring.try_push(std::move(payload)));
  std::vector<std::vector<int>> out;
  ASSERT_EQ(ring.pop_all(out), 1u);
  EXPECT_EQ(out[0], std::vector<int>(100, 7));
}

// A payload whose two halves must agree: a torn or stale read shows as a mismatch.
struct Checked {
  std::uint64_t seq = 0;
  std::uint64_t check = 0;
};
Checked make_checked(std::uint64_t i) { return Checked{i, i * 0x9E3779B97F4A7C15ull + 1}; }

TEST(SpscRing, StressDropsAreCountedExactly) {
  constexpr std::uint64_t kItems = 1'000'000;
  SpscRing<Checked> ring(256);  // small: the producer outruns the consumer and must drop
  std::vector<char> accepted(kItems, 0), received(kItems, 0);
  std::int64_t refused = 0;
  bool consumer_error = false;

  std::thread producer([&] {
    for (std::uint64_t i = 0; i < kItems; ++i) {
      if (ring.try_push(make_checked(i)))
        accepted[i] = 1;
      else
        ++refused;
    }
  });
  std::thread consumer([&] {
    std::vector<Checked> batch;
    std::uint64_t last = 0;
    bool first = true;
    std::uint64_t seen = 0;
    while (true) {
      batch.clear();
      ring.pop_all(batch, 100);
      for (const Checked& c : batch) {
        const bool ok = c.seq < kItems && c.check == make_checked(c.seq).check && (first || c.seq > last);
        if (!ok) consumer_error = true;
        if (c.seq < kItems) received[c.seq] = 1;
        last = c.seq;
        first = false;
        ++seen;
      }
      if (!batch.empty() && last == kItems - 1) break;
      // The producer is done when every item is either seen or dropped.
      if (seen + static_cast<std::uint64_t>(ring.dropped()) == kItems && ring.size_approx() == 0) break;
      if (batch.empty()) std::this_thread::yield();
    }
  });
  producer.join();
  consumer.join();
  std::vector<Checked> rest;
  ring.pop_all(rest);
  for (const Checked& c : rest) received[c.seq] = 1;

  EXPECT_FALSE(consumer_error) << "out of order or torn item";
  EXPECT_EQ(ring.dropped(), refused);
  EXPECT_GT(refused, 0) << "the stress run never filled the ring";
  EXPECT_TRUE(accepted == received) << "an accepted item was lost or a refused one appeared";
  std::int64_t accepted_count = 0;
  for (char a : accepted) accepted_count += a;
  EXPECT_EQ(accepted_count + refused, static_cast<std::int64_t>(kItems));
}

TEST(SpscRing, StressWithRetriesDeliversEverythingInOrder) {
  constexpr std::uint64_t kItems = 1'000'000;
  SpscRing<Checked> ring(1024);
  std::int64_t refusals = 0;
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < kItems; ++i)
      while (!ring.try_push(make_checked(i))) {
        ++refusals;
        std::this_thread::yield();
      }
  });
  std::uint64_t expected = 0;
  std::uint64_t mismatches = 0;
  std::vector<Checked> batch;
  while (expected < kItems) {
    batch.clear();
    ring.pop_all(batch);
    for (const Checked& c : batch) {
      if (c.seq != expected || c.check != make_checked(expected).check) ++mismatches;
      ++expected;
    }
  }
  producer.join();
  EXPECT_EQ(mismatches, 0u);
  EXPECT_EQ(expected, kItems);
  EXPECT_EQ(ring.dropped(), refusals);  // a refused push counts as a drop, retried or not
  EXPECT_EQ(ring.size_approx(), 0u);
}

}  // namespace
}  // namespace ps
