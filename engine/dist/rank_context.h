// One rank of a multi-process run, as the session sees it: the links to chunks on other ranks (C10dLink),
// the weights gathered on rank 0 for evaluation and the digest, telemetry streamed to rank 0, the
// stop that reaches every rank, and the end-of-run handshake. One receiving thread per peer drains
// everything that peer sends, so a send never waits on the peer's compute (Gloo's sends of large
// messages wait for the matching receive: two stages sending to each other would deadlock otherwise),
// and a stage's messages are handed to Gloo without waiting for the peer (Group::post).
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/dist/dist_options.h"
#include "engine/dist/wire.h"
#include "engine/runtime/all_reduce.h"
#include "engine/runtime/link.h"
#include "engine/runtime/run_control.h"

namespace ps {
class Pipeline;
}

namespace ps::dist {

class Group;

class RankContext {
 public:
  // Joins the run (see Group) and starts receiving. `stop_here` stops this rank's run (a peer stopped,
  // failed or was lost). Throws as Group does.
  RankContext(const DistOptions& o, const RunConfig& cfg, std::chrono::milliseconds timeout, std::function<void()> stop_here);
  ~RankContext();  // aborts what still receives and joins every thread
  RankContext(const RankContext&) = delete;
  RankContext& operator=(const RankContext&) = delete;

  int rank() const { return rank_; }
  int world() const { return world_; }
  std::string describe_rank(int rank) const;  // "rank R, pid P on HOST"
  void set_placement(std::vector<int> chunk_device) { chunk_device_ = std::move(chunk_device); }
  bool here(int chunk) const { return chunk_device_[static_cast<std::size_t>(chunk)] == rank_; }
  void set_origin(std::chrono::steady_clock::time_point origin);
  std::int64_t origin_ns() const;  // this rank's run origin on rank 0's steady clock

  // The link for what chunk `from` sends its neighbour `to`, one of them on this rank.
  std::unique_ptr<Link> link(int from, int to, RunControl& control);

  // At every evaluation point, on every rank: the other ranks send their chunks' live weights, rank 0
  // copies them into its replicas of those chunks (evaluation and the digest then see the whole model).
  void share_weights(Pipeline& p);
  bool weights_complete() const { return weights_complete_; }

  // Pipeline x data parallel (replicas as processes): the gradients a replica here deposits in
  // all_reduces[position] go to the ranks of that chunk's other replicas, and theirs arrive here, each
  // rank summing them in replica order (the same numbers as the in-process sum, bit for bit; a
  // collective's own order is not, and a stop could not withdraw from it). `group`: chunks per replica.
  void share_gradients(const std::vector<std::unique_ptr<AllReduce>>& all_reduces, int group);

  void send_telemetry(const TelemetryPacket& p);  // not rank 0: to rank 0
  // Rank 0: what the other ranks sent, with their times moved to this rank's origin.
  // `result_seconds`: when each result was complete, on this rank's run wall clock (see TelemetryPacket).
  void take_telemetry(std::vector<OpEvent>& ops, std::vector<TransferEvent>& transfers, std::vector<MinibatchResult>& results,
                      std::vector<double>& result_seconds);
  std::optional<ChunkFigures> figures(int chunk) const;

  // The run's pause, step and slow motion act on every rank (the dashboard drives rank 0). The receiving
  // side applies them to `control`, and a link that waits while its rank is paused waits as long as the
  // pause lasts (processes.timeout_seconds counts only running time).
  void set_control(RunControl* control) { control_ = control; }
  // Rank 0: "pause", "resume", "delay" (value: microseconds per op) or "step" (value: ops of the whole
  // run; each rank takes its share, ceil(ops x its chunks / all chunks), at least one).
  void broadcast_control(const std::string& kind, std::int64_t value);
  void apply_control(const std::string& kind, std::int64_t value);  // to this rank's run (rank 0: its own)

  // Tells every rank to stop; with a reason, that this rank failed. Once per run.
  void stop_all(const std::string& reason);
  std::string error() const;  // why another rank made this one stop ("" for a plain stop)

  // A checkpoint's cut across ranks. Every rank, once its pipeline has stopped: tells every peer that
  // no activation or gradient follows, and waits (bounded) until every peer has said the same, so that
  // everything sent to this rank is in its links' inboxes (drain() then takes it).
  void flush_links();
  std::deque<Message> drain(int from, int to);  // what chunk `from` sent chunk `to` (here) and no op took
  void send_state(const at::Tensor& part);      // not rank 0: this rank's part of the checkpoint
  std::vector<at::Tensor> take_states();        // rank 0: every other rank's part, by rank (bounded)

  void wait_ends();                        // rank 0: until every rank has sent its last telemetry (bounded)
  void finish(const TelemetryPacket& last);  // sends this rank's end, waits for the others' (bounded)

 private:
  struct Inbox;
  class C10dLink;
  void receive_loop(int peer);
  void lost(int peer, const std::string& why);
  void align_clock();              // not rank 0: measures clock_offset_ns_ against rank 0 (bounded)
  // Waits (bounded by the timeout) for `ready`; throws naming `what` and `peer` when the run failed,
  // the peer is gone or the time is up; false when `control` (if any) stopped the run.
  bool wait(const std::function<bool()>& ready, const std::string& what, int peer, RunControl* control,
            std::unique_lock<std::mutex>& lock);

  int rank_ = 0, world_ = 1;
  std::chrono::milliseconds timeout_;
  std::chrono::microseconds spin_;  // RunConfig::processes_spin_microseconds
  std::function<void()> stop_here_;
  std::unique_ptr<Group> group_;
  std::vector<int> chunk_device_;
  std::int64_t origin_ns_ = 0;
  // Rank 0's steady clock minus this rank's, measured at the rendezvous (0 on rank 0; about 0 on one host).
  std::int64_t clock_offset_ns_ = 0;
  std::map<std::int64_t, std::int64_t> pongs_;  // sequence number -> rank 0's clock
  std::vector<std::thread> receivers_;
  std::vector<AllReduce*> all_reduces_;  // per chunk position (share_gradients)
  // Gradients from a replica that reached its update before this rank registered its all-reduces.
  struct EarlyGrads {
    int from = 0;
    std::int64_t minibatch = 0;
    std::size_t position = 0;
    int replica = 0;
    at::Tensor payload;
  };
  std::vector<EarlyGrads> early_grads_;  // guarded by mu_
  RunControl* control_ = nullptr;        // this rank's run (set_control)

  std::atomic<std::uint64_t> data_frames_{0};  // data frames received so far (a spinning link watches it)
  mutable std::mutex mu_;  // guards what follows
  std::condition_variable cv_;
  std::map<std::int64_t, std::deque<at::Tensor>> data_;  // per link key: payloads, oldest first
  std::vector<std::deque<at::Tensor>> weights_;          // per rank
  std::deque<at::Tensor> telemetry_;                     // rank 0: packets not yet taken
  std::vector<bool> flushed_;                            // per peer: its Flushed frame came
  std::vector<at::Tensor> states_;                       // rank 0, per rank: its checkpoint part
  std::map<int, ChunkFigures> figures_;
  std::vector<bool> ended_, gone_;  // a peer sent its end; a peer's receiver stopped (ended, lost or aborted)
  std::string error_;
  bool stop_sent_ = false, finishing_ = false;
  bool weights_complete_ = false;
};

}  // namespace ps::dist
