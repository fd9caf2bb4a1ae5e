// The link between two neighbouring chunks: what the executors vary. One executor loop runs every
// device's op list; a message from chunk c to chunk c+1 (activation) or back (gradient) goes through
// a Link, which is a bounded channel between two worker threads, a plain queue when both chunks live on
// the same device (an activation between two chunks of one device never crosses a channel), and, for
// stages as processes, c10d point-to-point.
#pragma once
#include <atomic>
#include <chrono>
#include <deque>
#include <optional>
#include <stdexcept>
#include <string>

#include "engine/runtime/channel.h"
#include "engine/runtime/stage.h"
#include "engine/util/spin.h"

namespace ps {

class Link {
 public:
  virtual ~Link() = default;
  // Returns false when the link was closed (stopping); `m` is then left as it was.
  virtual bool push(Message&& m) = 0;
  // nullopt when the link was closed (stopping).
  virtual std::optional<Message> pop() = 0;
  virtual void close() = 0;
  // Everything sent and not yet received, oldest first (for a pipeline cut).
  virtual std::deque<Message> take_all() = 0;
  // A message of a cut that was in transit: put where the receiving side takes it from (for a link to
  // another rank, into this rank's inbox, nothing sent).
  virtual void preload(Message&& m) { push(std::move(m)); }
};

// Between two worker threads: blocks while full or empty. With a `spin`, a pop that finds nothing first
// spins for up to that long (spin_yielding) while this link's recent waits say it is worth it
// (worth_spinning, engine/util/spin.h).
class ChannelLink final : public Link {
 public:
  explicit ChannelLink(std::size_t capacity, std::chrono::microseconds spin = std::chrono::microseconds(0))
      : channel_(capacity), spin_(spin) {}
  bool push(Message&& m) override { return channel_.push(std::move(m)); }
  std::optional<Message> pop() override {
    if (spin_.count() == 0 || channel_.ready()) return channel_.pop();
    const auto start = std::chrono::steady_clock::now();
    if (worth_spinning(typical_wait_, spin_)) spin_yielding([&] { return !channel_.ready(); }, spin_);
    std::optional<Message> m = channel_.pop();
    typical_wait_ = smoothed_wait(typical_wait_, std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start));
    return m;
  }
  void close() override { channel_.close(); }
  std::deque<Message> take_all() override { return channel_.take_all(); }

 private:
  Channel<Message> channel_;
  std::chrono::nanoseconds spin_;
  std::chrono::nanoseconds typical_wait_{0};  // the receiver's own: its last waits, smoothed
};

// Between two chunks of one device: the same thread sends and receives, so the message must already be
// there when it is needed (a schedule that asks for it earlier is wrong, not slow).
class LocalLink final : public Link {
 public:
  explicit LocalLink(std::string what) : what_(std::move(what)) {}
  bool push(Message&& m) override {
    if (closed_) return false;
    items_.push_back(std::move(m));
    return true;
  }
  std::optional<Message> pop() override {
    if (closed_) return std::nullopt;
    if (items_.empty()) throw std::logic_error("schedule error: " + what_ + " is needed before it was produced");
    Message m = std::move(items_.front());
    items_.pop_front();
    return m;
  }
  void close() override { closed_ = true; }
  std::deque<Message> take_all() override {
    std::deque<Message> out;
    out.swap(items_);
    return out;
  }

 private:
  std::string what_;
  std::deque<Message> items_;
  std::atomic<bool> closed_{false};  // close() may come from another device's worker
};

}  // namespace ps
