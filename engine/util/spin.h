// A waiting worker's spin: how it spins (both executors' links) and when the threaded executor's links
// spin at all. The simulator plays the same rule (SimOptions::spin_s), so the two cannot drift apart.
// Torch-free.
#pragma once
#include <sched.h>

#include <chrono>

namespace ps {

// While `waiting()`, for at most `budget`, yielding the core to any thread that wants it (the threads
// that bring the message). A sleeping worker's core may halt, and waking it costs up to hundreds of
// microseconds on a VM, more than a small model's op (README, "The link's cost").
template <typename Waiting>
void spin_yielding(Waiting waiting, std::chrono::nanoseconds budget) {
  for (const auto end = std::chrono::steady_clock::now() + budget; waiting() && std::chrono::steady_clock::now() < end;)
    sched_yield();
}

// How long a threaded worker that finds no message spins before it sleeps, where every worker has cores
// of its own (a spinning worker would take time from a worker sharing its core).
inline constexpr std::chrono::microseconds kThreadsSpin{1000};

// A link spins only while its receiver's smoothed recent waits are under a quarter of the spin: a worker
// that waits longer (the balanced MLP's stage 0, milliseconds) sleeps at once.
template <typename T>
constexpr bool worth_spinning(T typical_wait, T spin) {
  return 4 * typical_wait < spin;
}

// The smoothed waits: 3/4 the old, 1/4 the new.
template <typename T>
constexpr T smoothed_wait(T typical_wait, T wait) {
  return (3 * typical_wait + wait) / 4;
}

}  // namespace ps
