// What a message between two processes costs on this machine: the processes link's own hand-off time,
// for the simulator (ModelProfile::processes_latency_s) and `bench processes`.
#pragma once
#include <chrono>
#include <cstdint>
#include <vector>

namespace ps::dist {

struct HandOffProbe {
  std::int64_t bytes = 0;
  std::vector<double> one_way_s;  // every frame after the warm-up: round by round, rank 0's then rank 1's
  double median_s = 0;
  double mean_s = 0;  // what a pipeline that waits for every frame pays on average (the tail included)
};

// Two ranks of a Group in this process (two threads meeting through a FileStore in a fresh directory,
// over loopback) exchange frames of `bytes` as two 1F1B stages do: every round each works for `gap`,
// posts a frame stamped with the time, and waits for the other's, the frames crossing on the way. Each
// rank takes its frames as a stage does: a receiving thread gets them from Gloo and hands them to the
// waiting thread, which reads the clock. Both ranks share this process's steady clock, so every frame
// gives one one-way time. `rounds` after 4 warm-up ones. Throws std::runtime_error when the ranks cannot
// meet or a frame does not come (bounded).
HandOffProbe probe_processes_hand_off(std::int64_t bytes, std::chrono::microseconds gap, int rounds);

// The same rounds between two threads over the threaded executor's link (a Channel, as between stage
// threads: a message moves as a pointer, whatever its size).
HandOffProbe probe_threads_hand_off(std::chrono::microseconds gap, int rounds);

}  // namespace ps::dist
