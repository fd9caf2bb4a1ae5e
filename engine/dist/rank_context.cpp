#include "engine/dist/rank_context.h"

#include <algorithm>

#include <torch/csrc/autograd/grad_mode.h>

#include "engine/dist/group.h"
#include "engine/util/this_thread.h"
#include "engine/runtime/pipeline.h"

namespace ps::dist {

using Clock = std::chrono::steady_clock;

// A link to a chunk on another rank: push hands the message to Gloo and returns (the peer's receiver
// takes it), pop takes the oldest one the receiver has put in this link's inbox.
class RankContext::C10dLink final : public Link {
 public:
  C10dLink(RankContext& ctx, std::int64_t key, int peer, RunControl& control, std::string what)
      : ctx_(ctx), key_(key), peer_(peer), control_(control), what_(std::move(what)) {}
  bool push(Message&& m) override {
    if (closed_) return false;
    ctx_.group_->post(peer_, FrameKind::Data, key_, pack_message(m, ctx_.origin_ns(), kHeaderBytes),
                      /*headroom=*/true);  // the stage computes on
    return true;
  }
  std::optional<Message> pop() override {
    at::Tensor payload;
    {
      std::unique_lock<std::mutex> lock(ctx_.mu_);
      auto& q = ctx_.data_[key_];
      if (q.empty() && ctx_.spin_.count() > 0) {
        // Spin before sleeping (RunConfig::processes_spin_microseconds): until any data frame comes (this
        // link's, most likely) or the time is up; the wait below then finds the message or sleeps.
        const std::uint64_t seen = ctx_.data_frames_.load(std::memory_order_acquire);
        lock.unlock();
        spin_yielding([&] { return ctx_.data_frames_.load(std::memory_order_acquire) == seen && !closed_ && !control_.stopped(); },
                      ctx_.spin_);
        lock.lock();
      }
      if (!ctx_.wait([&] { return closed_ || !q.empty(); }, what_, peer_, &control_, lock) || closed_) return std::nullopt;
      payload = std::move(q.front());
      q.pop_front();
    }
    return unpack_message(payload, ctx_.origin_ns());
  }
  void close() override {
    closed_ = true;
    ctx_.cv_.notify_all();
  }
  // Before whatever the peer has sent since it resumed (it may already be here): the cut's messages are older.
  void preload(Message&& m) override {
    std::lock_guard<std::mutex> lock(ctx_.mu_);
    auto& q = ctx_.data_[key_];
    q.insert(q.begin() + static_cast<std::ptrdiff_t>(preloaded_++), pack_message(m, ctx_.origin_ns_ + ctx_.clock_offset_ns_));
  }
  std::deque<Message> take_all() override {
    std::deque<at::Tensor> q;
    {
      std::lock_guard<std::mutex> lock(ctx_.mu_);
      q.swap(ctx_.data_[key_]);
    }
    std::deque<Message> out;
    for (auto& p : q) out.push_back(unpack_message(p, ctx_.origin_ns()));
    return out;
  }

 private:
  RankContext& ctx_;
  std::int64_t key_;
  int peer_;
  RunControl& control_;
  std::string what_;
  std::atomic<bool> closed_{false};
  std::size_t preloaded_ = 0;
};

RankContext::RankContext(const DistOptions& o, const RunConfig& cfg, std::chrono::milliseconds timeout,
                         std::function<void()> stop_here)
    : rank_(o.rank),
      world_(o.world),
      timeout_(timeout),
      spin_(std::max(0, cfg.processes_spin_microseconds)),
      stop_here_(std::move(stop_here)) {
  group_ = std::make_unique<Group>(o, cfg, timeout);
  group_->on_send_error([this](int peer, const std::string& why) { lost(peer, why); });
  weights_.resize(static_cast<std::size_t>(world_));
  ended_.assign(static_cast<std::size_t>(world_), false);
  flushed_.assign(static_cast<std::size_t>(world_), false);
  states_.resize(static_cast<std::size_t>(world_));
  gone_.assign(static_cast<std::size_t>(world_), false);
  gone_[static_cast<std::size_t>(rank_)] = true;
  for (int p = 0; p < world_; ++p)
    if (p != rank_) receivers_.emplace_back([this, p] { receive_loop(p); });
  if (rank_ != 0) align_clock();
}

namespace {
std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}
}  // namespace

// Cristian's algorithm: a few round trips to rank 0; the one with the shortest round trip gives the
// offset (rank 0's clock at the answer against the middle of the round trip here), good to half of it.
void RankContext::align_clock() {
  std::int64_t best_rtt = -1, offset = 0;
  for (std::int64_t seq = 0; seq < 8; ++seq) {
    const std::int64_t t1 = steady_ns();
    group_->send(0, FrameKind::Ping, seq);
    std::int64_t t0 = 0;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wait([&] { return pongs_.count(seq) > 0; }, "the clock alignment", 0, nullptr, lock);
      t0 = pongs_[seq];
    }
    const std::int64_t t2 = steady_ns();
    if (best_rtt < 0 || t2 - t1 < best_rtt) {
      best_rtt = t2 - t1;
      offset = t0 - (t1 + t2) / 2;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  clock_offset_ns_ = offset;
}

RankContext::~RankContext() {
  group_->on_send_error(nullptr);
  for (int p = 0; p < world_; ++p)
    if (p != rank_) group_->abort_recv(p);
  for (auto& t : receivers_) t.join();
}

void RankContext::set_origin(Clock::time_point origin) {
  std::lock_guard<std::mutex> lock(mu_);
  origin_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(origin.time_since_epoch()).count();
}

std::int64_t RankContext::origin_ns() const {
  std::lock_guard<std::mutex> lock(mu_);
  return origin_ns_ + clock_offset_ns_;
}

void RankContext::receive_loop(int peer) {
  name_this_thread("ps-recv-rank" + std::to_string(peer));
  const auto p = static_cast<std::size_t>(peer);
  for (;;) {
    std::optional<Frame> f;
    try {
      f = group_->recv(peer);
    } catch (const std::exception& e) {
      lost(peer, e.what());
      return;
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (!f) {
      gone_[p] = true;
      cv_.notify_all();
      return;
    }
    switch (f->kind) {
      case FrameKind::Data:
        data_[f->key].push_back(std::move(f->payload));
        data_frames_.fetch_add(1, std::memory_order_release);
        break;
      case FrameKind::Weights: weights_[p].push_back(std::move(f->payload)); break;
      case FrameKind::Telemetry: telemetry_.push_back(std::move(f->payload)); break;
      case FrameKind::Flushed: flushed_[p] = true; break;
      case FrameKind::Ping: {  // rank 0: answer with this clock (from this receiving thread: sends never wait on compute)
        lock.unlock();
        try {
          group_->send(peer, FrameKind::Pong, f->key, pack_text(std::to_string(steady_ns())));
        } catch (const std::exception& e) {
          lost(peer, e.what());
          return;
        }
        lock.lock();
        break;
      }
      case FrameKind::Pong: pongs_[f->key] = std::stoll(unpack_text(f->payload)); break;
      case FrameKind::Control: {
        const std::string kind = unpack_text(f->payload);
        lock.unlock();  // the run's control has its own lock
        apply_control(kind, f->key);
        lock.lock();
        cv_.notify_all();  // a paused wait starts its time again
        break;
      }
      case FrameKind::Grads: {
        const std::int64_t mb = f->key >> 24;
        const auto position = static_cast<std::size_t>((f->key >> 12) & 0xfff);
        const int replica = static_cast<int>(f->key & 0xfff);
        if (all_reduces_.empty()) {  // a replica that started sooner: kept until share_gradients
          early_grads_.push_back({peer, mb, position, replica, std::move(f->payload)});
          break;
        }
        if (position >= all_reduces_.size()) {
          lock.unlock();
          lost(peer, "rank " + std::to_string(peer) + " sent gradients for chunk position " + std::to_string(position) +
                         ", which this run does not have");
          return;
        }
        AllReduce* target = all_reduces_[position];
        lock.unlock();  // the all-reduce has its own lock; nothing here waits on it
        target->receive(mb, replica, unpack_tensors(f->payload));
        lock.lock();
        break;
      }
      case FrameKind::State: states_[p] = std::move(f->payload); break;
      case FrameKind::Stop: {
        const std::string reason = unpack_text(f->payload);
        if (!reason.empty() && error_.empty()) error_ = "rank " + std::to_string(peer) + " failed: " + reason;
        stop_sent_ = true;  // everyone was told by the rank that stopped
        lock.unlock();
        stop_here_();
        lock.lock();
        break;
      }
      case FrameKind::End:
        if (f->payload.numel() > 0) telemetry_.push_back(std::move(f->payload));
        ended_[p] = gone_[p] = true;
        cv_.notify_all();
        return;
    }
    cv_.notify_all();
  }
}

void RankContext::lost(int peer, const std::string& why) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    gone_[static_cast<std::size_t>(peer)] = true;
    cv_.notify_all();
    if (finishing_ && ended_[static_cast<std::size_t>(peer)]) return;
    if (error_.empty()) error_ = why;
  }
  stop_here_();
  stop_all(why);  // the ranks that do not talk to the lost one stop too
}

std::string RankContext::describe_rank(int rank) const { return group_->describe(rank); }

std::string RankContext::error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

bool RankContext::wait(const std::function<bool()>& ready, const std::string& what, int peer, RunControl* control,
                       std::unique_lock<std::mutex>& lock) {
  auto until = Clock::now() + timeout_;
  while (!ready()) {
    if (!error_.empty()) throw std::runtime_error(error_);
    if (control && control->stopped()) return false;
    // A paused run (the user, on every rank) waits as long as the pause lasts: the bound counts from the resume.
    if (control_ && control_->paused()) until = Clock::now() + timeout_;
    if (gone_[static_cast<std::size_t>(peer)])
      throw std::runtime_error("rank " + std::to_string(peer) + " ended before sending " + what);
    if (Clock::now() >= until)
      throw std::runtime_error("waited " + std::to_string(timeout_.count() / 1000) + " s for " + what + " from rank " +
                               std::to_string(peer) + " (processes.timeout_seconds)");
    // Slices: a stop of this rank's run (RunControl) does not notify this condition.
    cv_.wait_for(lock, std::chrono::milliseconds(20));
  }
  return true;
}

std::unique_ptr<Link> RankContext::link(int from, int to, RunControl& control) {
  const int peer = chunk_device_[static_cast<std::size_t>(here(from) ? to : from)];
  const std::string what = (to > from ? "the activation from chunk " : "the gradient from chunk ") + std::to_string(from) +
                           " to chunk " + std::to_string(to);
  return std::make_unique<C10dLink>(*this, link_key(from, to), peer, control, what);
}

void RankContext::share_weights(Pipeline& p) {
  weights_complete_ = false;
  if (rank_ != 0) {
    std::vector<at::Tensor> mine;
    for (int c = 0; c < p.num_stages(); ++c)
      if (here(c))
        for (const auto& t : p.stage(c).live_params()) mine.push_back(t);
    group_->send(0, FrameKind::Weights, rank_, pack_tensors(mine));
    return;
  }
  for (int r = 1; r < world_; ++r) {
    at::Tensor payload;
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto& q = weights_[static_cast<std::size_t>(r)];
      wait([&] { return !q.empty(); }, "its weights", r, nullptr, lock);
      payload = std::move(q.front());
      q.pop_front();
    }
    const std::vector<at::Tensor> theirs = unpack_tensors(payload);
    torch::NoGradGuard no_grad;
    std::size_t i = 0;
    for (int c = 0; c < p.num_stages(); ++c) {
      if (chunk_device_[static_cast<std::size_t>(c)] != r) continue;
      for (const auto& t : p.stage(c).live_params()) {
        if (i >= theirs.size() || !theirs[i].sizes().equals(t.sizes()))
          throw std::runtime_error("rank " + std::to_string(r) + " sent weights of another shape for chunk " + std::to_string(c));
        const_cast<at::Tensor&>(t).copy_(theirs[i++]);
      }
    }
  }
  weights_complete_ = true;
}

void RankContext::share_gradients(const std::vector<std::unique_ptr<AllReduce>>& all_reduces, int group) {
  std::vector<EarlyGrads> early;  // what came before this call: into the all-reduces now (their load() keeps it)
  {
    std::lock_guard<std::mutex> lock(mu_);
    all_reduces_.clear();
    for (const auto& a : all_reduces) all_reduces_.push_back(a.get());
    early.swap(early_grads_);
  }
  for (auto& e : early) {
    if (e.position >= all_reduces.size()) {
      lost(e.from, "rank " + std::to_string(e.from) + " sent gradients for chunk position " + std::to_string(e.position) +
                       ", which this run does not have");
      return;
    }
    all_reduces[e.position]->receive(e.minibatch, e.replica, unpack_tensors(e.payload));
  }
  const int replicas = static_cast<int>(chunk_device_.size()) / group;
  for (std::size_t position = 0; position < all_reduces.size(); ++position) {
    std::vector<int> peers;  // the ranks of this chunk's replicas, by replica
    for (int r = 0; r < replicas; ++r) peers.push_back(chunk_device_[static_cast<std::size_t>(r * group) + position]);
    all_reduces[position]->set_share([this, peers, position](std::int64_t mb, int replica, const std::vector<at::Tensor>& grads) {
      const at::Tensor payload = pack_tensors(grads);
      for (int r = 0; r < static_cast<int>(peers.size()); ++r)
        if (r != replica) group_->post(peers[static_cast<std::size_t>(r)], FrameKind::Grads,
                                       grads_key(mb, static_cast<int>(position), replica), payload);
    });
  }
}

void RankContext::send_telemetry(const TelemetryPacket& p) {
  if (rank_ == 0) return;
  try {
    group_->post(0, FrameKind::Telemetry, rank_, pack_telemetry(p));  // the collector does not wait for rank 0
  } catch (const std::exception& e) {
    lost(0, e.what());
  }
}

void RankContext::take_telemetry(std::vector<OpEvent>& ops, std::vector<TransferEvent>& transfers,
                                 std::vector<MinibatchResult>& results, std::vector<double>& result_seconds) {
  std::deque<at::Tensor> packets;
  std::int64_t origin = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    packets.swap(telemetry_);
    origin = origin_ns_ + clock_offset_ns_;
  }
  for (const auto& bytes : packets) {
    TelemetryPacket p = unpack_telemetry(bytes);
    // Both origins are on rank 0's clock (aligned at the rendezvous): the sender's times move by their difference.
    const std::int64_t shift = p.origin_ns - origin;
    for (auto& op : p.ops) op.t_start_ns += shift, op.t_end_ns += shift;
    for (auto& t : p.transfers) t.t_start_ns += shift, t.t_end_ns += shift;
    ops.insert(ops.end(), p.ops.begin(), p.ops.end());
    transfers.insert(transfers.end(), p.transfers.begin(), p.transfers.end());
    results.insert(results.end(), p.results.begin(), p.results.end());
    for (std::size_t i = 0; i < p.results.size(); ++i)  // the sender's wall seconds, moved to this rank's origin
      result_seconds.push_back(i < p.result_seconds.size() ? p.result_seconds[i] + 1e-9 * static_cast<double>(shift) : -1.0);
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& f : p.figures) figures_[f.chunk] = f;
  }
}

std::optional<ChunkFigures> RankContext::figures(int chunk) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = figures_.find(chunk);
  if (it == figures_.end()) return std::nullopt;
  return it->second;
}

void RankContext::broadcast_control(const std::string& kind, std::int64_t value) {
  if (rank_ != 0) return;
  std::vector<int> peers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_sent_ || finishing_) return;
    for (int p = 1; p < world_; ++p)
      if (!gone_[static_cast<std::size_t>(p)]) peers.push_back(p);
  }
  for (int p : peers) {
    try {
      group_->send(p, FrameKind::Control, value, pack_text(kind));
    } catch (const std::exception&) {
      // that peer is gone: its receiver here says so
    }
  }
}

void RankContext::apply_control(const std::string& kind, std::int64_t value) {
  if (!control_) return;
  if (kind == "pause") {
    control_->pause();
  } else if (kind == "resume") {
    control_->resume();
  } else if (kind == "delay") {
    control_->set_delay(std::chrono::microseconds(value));
  } else if (kind == "step") {
    const auto here_count = std::count(chunk_device_.begin(), chunk_device_.end(), rank_);
    const auto all = std::max<std::int64_t>(1, static_cast<std::int64_t>(chunk_device_.size()));
    const std::int64_t share = (value * here_count + all - 1) / all;
    control_->step(static_cast<int>(std::max<std::int64_t>(1, share)));
  }
}

void RankContext::stop_all(const std::string& reason) {
  std::vector<int> peers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_sent_ || finishing_) return;
    stop_sent_ = true;
    for (int p = 0; p < world_; ++p)
      if (!gone_[static_cast<std::size_t>(p)]) peers.push_back(p);
  }
  for (int p : peers) {
    try {
      group_->send(p, FrameKind::Stop, 0, pack_text(reason));
    } catch (const std::exception&) {
      // that peer is gone too: its receiver here says so
    }
  }
}

void RankContext::flush_links() {
  for (int p = 0; p < world_; ++p)
    if (p != rank_) group_->send(p, FrameKind::Flushed, rank_);
  std::unique_lock<std::mutex> lock(mu_);
  for (int p = 0; p < world_; ++p)
    if (p != rank_) {
      const auto q = static_cast<std::size_t>(p);
      wait([&] { return bool(flushed_[q]); }, "the end of its messages (checkpoint)", p, nullptr, lock);
    }
}

std::deque<Message> RankContext::drain(int from, int to) {
  std::deque<at::Tensor> q;
  {
    std::lock_guard<std::mutex> lock(mu_);
    q.swap(data_[link_key(from, to)]);
  }
  std::deque<Message> out;
  for (auto& p : q) out.push_back(unpack_message(p, origin_ns()));
  return out;
}

void RankContext::send_state(const at::Tensor& part) { group_->send(0, FrameKind::State, rank_, part); }

std::vector<at::Tensor> RankContext::take_states() {
  std::unique_lock<std::mutex> lock(mu_);
  for (int p = 1; p < world_; ++p) {
    const auto q = static_cast<std::size_t>(p);
    wait([&] { return states_[q].defined(); }, "its part of the checkpoint", p, nullptr, lock);
  }
  std::vector<at::Tensor> out;
  out.swap(states_);
  states_.resize(static_cast<std::size_t>(world_));
  return out;
}

void RankContext::wait_ends() {
  if (rank_ != 0) return;
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout_, [&] {
    for (bool g : gone_)
      if (!g) return false;
    return true;
  });
}

void RankContext::finish(const TelemetryPacket& last) {
  std::vector<int> peers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    finishing_ = true;
    for (int p = 0; p < world_; ++p)
      if (p != rank_ && !(gone_[static_cast<std::size_t>(p)] && !ended_[static_cast<std::size_t>(p)])) peers.push_back(p);
  }
  for (int p : peers) {
    try {
      group_->send(p, FrameKind::End, 0, p == 0 ? pack_telemetry(last) : at::Tensor());
    } catch (const std::exception&) {
    }
  }
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout_, [&] {
    for (bool g : gone_)
      if (!g) return false;
    return true;
  });
}

}  // namespace ps::dist
