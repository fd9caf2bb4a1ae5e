// A bounded single-producer single-consumer ring: a pipeline worker pushes its events, one collector
// thread drains them. Pushing never blocks or allocates, so telemetry can never stall compute; when the
// ring is full the event is refused and counted as dropped.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <vector>

namespace ps {

template <class T>
class SpscRing {
 public:
  // The capacity is min_capacity rounded up to a power of two (index wrap is then a mask).
  explicit SpscRing(std::size_t min_capacity)
      : capacity_(round_up_to_power_of_two(min_capacity)),
        mask_(capacity_ - 1),
        slots_(std::make_unique<T[]>(capacity_)) {}

  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  std::size_t capacity() const { return capacity_; }

  // Producer only. False (and one more drop counted) when the ring is full.
  bool try_push(const T& item) { return emplace_copy_or_move(item); }
  bool try_push(T&& item) { return emplace_copy_or_move(std::move(item)); }

  // Consumer only. Moves up to max_items of the oldest items to the end of out, oldest first;
  // returns how many were moved.
  std::size_t pop_all(std::vector<T>& out, std::size_t max_items = std::numeric_limits<std::size_t>::max()) {
    const std::size_t head = head_.load(std::memory_order_relaxed);
    const std::size_t tail = tail_.load(std::memory_order_acquire);  // sees the producer's writes
    const std::size_t n = std::min(tail - head, max_items);
    out.reserve(out.size() + n);
    for (std::size_t i = 0; i < n; ++i) out.push_back(std::move(slots_[(head + i) & mask_]));
    head_.store(head + n, std::memory_order_release);  // hands the slots back to the producer
    return n;
  }

  // Either thread: a snapshot that may be stale by the time it is used.
  std::size_t size_approx() const {
    const std::size_t tail = tail_.load(std::memory_order_acquire);
    const std::size_t head = head_.load(std::memory_order_acquire);
    return tail >= head ? tail - head : 0;
  }

  // Either thread: how many pushes were refused because the ring was full, since construction.
  std::int64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  static std::size_t round_up_to_power_of_two(std::size_t n) {
    if (n == 0) throw std::invalid_argument("SpscRing: capacity must be at least 1");
    std::size_t p = 1;
    while (p < n) {
      if (p > std::numeric_limits<std::size_t>::max() / 2) throw std::invalid_argument("SpscRing: capacity too large");
      p <<= 1;
    }
    return p;
  }

  template <class U>
  bool emplace_copy_or_move(U&& item) {
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - cached_head_ >= capacity_) {
      // Only re-read the consumer's index when the cached one says full: keeps the cache line quiet.
      cached_head_ = head_.load(std::memory_order_acquire);
      if (tail - cached_head_ >= capacity_) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
    }
    slots_[tail & mask_] = std::forward<U>(item);
    tail_.store(tail + 1, std::memory_order_release);  // publishes the slot to the consumer
    return true;
  }

  const std::size_t capacity_;
  const std::size_t mask_;
  std::unique_ptr<T[]> slots_;
  // Indices grow without bound (size_t wrap-around keeps tail - head correct); each side owns one.
  alignas(64) std::atomic<std::size_t> head_{0};  // written by the consumer
  alignas(64) std::atomic<std::size_t> tail_{0};  // written by the producer
  alignas(64) std::size_t cached_head_ = 0;       // producer's last view of head_
  std::atomic<std::int64_t> dropped_{0};          // written by the producer
};

}  // namespace ps
