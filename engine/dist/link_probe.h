// What a message between two processes costs on this machine: the processes link's own hand-off time,
// for the simulator (ModelProfile::processes_latency_s) and `bench processes`.
#pragma once
#include <chrono>
#include <cstdint>
#include <vector>

namespace ps::dist {

struct HandOffProbe {
  std::int64_t bytes = 0;
  std::vector<double> one_way_s;  // every message after the warm-up: round by round, rank 0's then rank 1's
  double median_s = 0;
  double mean_s = 0;  // what a pipeline that waits for every message pays on average (the tail included)
};

// Two ranks in this process (two threads, each with its RankContext, meeting through a FileStore in a
// fresh directory, over loopback) exchange messages of `bytes` over the processes executor's own links
// (RankContext::link: packed, posted to Gloo, taken by the receiving thread, unpacked by the waiting
// side), as two 1F1B stages do: every round each works for `gap`, pushes a message stamped with the
// time, and pops the other's, the two crossing on the way. Both ranks share this process's steady clock,
// so every message gives one one-way time. `rounds` after 4 warm-up ones. Throws std::runtime_error
// when the ranks cannot meet or a message does not come (bounded: 30 s).
HandOffProbe probe_processes_hand_off(std::int64_t bytes, std::chrono::microseconds gap, int rounds);

// The same rounds between two threads over the threaded executor's link (a ChannelLink: a message
// moves as a pointer, whatever its size).
HandOffProbe probe_threads_hand_off(std::chrono::microseconds gap, int rounds);

}  // namespace ps::dist
