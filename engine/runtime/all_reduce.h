// In-process gradient all-reduce for the data-parallel baseline: every replica deposits its gradients
// for a minibatch; each replica's update then reads the same sum, added in replica order, so all
// replicas stay bit-identical and the result does not depend on which thread arrived first.
#pragma once
#include <ATen/core/Tensor.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace ps {

struct Checkpoint;

class AllReduce {
 public:
  // `local`: the replicas that take the sum in this process (all of them, unless the replicas are
  // processes: then 1, and the others' gradients arrive through receive()).
  explicit AllReduce(int replicas, int local = 0) : replicas_(replicas), local_(local > 0 ? local : replicas) {}

  // A replica here deposits its gradients; with a share hook (replicas as processes), they also go to
  // the other replicas' processes.
  void deposit(std::int64_t minibatch, int replica, std::vector<at::Tensor> grads);
  using Share = std::function<void(std::int64_t minibatch, int replica, const std::vector<at::Tensor>& grads)>;
  void set_share(Share share) { share_ = std::move(share); }
  // Another process's replica's gradients (what its share hook sent).
  void receive(std::int64_t minibatch, int replica, std::vector<at::Tensor> grads);
  bool complete(std::int64_t minibatch) const;
  // Blocks until every replica has deposited (or `stopped()` turns true: returns false), then
  // returns the sum of the gradients in replica order.
  bool sum(std::int64_t minibatch, std::vector<at::Tensor>& out, const std::function<bool()>& stopped);

  // For a collective of the replicas' own (NCCL), which every replica must join once one has started
  // it: blocks until every replica has arrived for `minibatch` (true: all go on), or until `stopped()`
  // turns true first (false: this replica's arrival is withdrawn, so that none goes on without it).
  bool meet(std::int64_t minibatch, int replica, const std::function<bool()>& stopped);

  // Checkpoints: the rounds in progress (deposits not yet consumed by every replica).
  // `tag` tells apart the all-reduces of one run (one per chunk position of pipeline x data parallel).
  void save(Checkpoint& c, const std::string& tag = "") const;
  void load(const Checkpoint& c, const std::string& tag = "");
  // Replicas as processes: each replica's process holds its own view of the rounds (its deposits, what
  // the others sent it, and none it has consumed). `views[r]` holds replica r's, saved with save(.., tag).
  // Loads the rounds as one process holding every replica has them: a round's gradients from wherever
  // they arrived, consumed by replica r when r's view has dropped a round that holds r's gradients.
  void load_merged(const std::vector<const Checkpoint*>& views, const std::string& tag);

 private:
  struct Round {
    std::vector<std::vector<at::Tensor>> grads;  // by replica
    int deposited = 0;
    int consumed = 0;
  };
  void store(std::int64_t minibatch, int replica, std::vector<at::Tensor> grads);
  int replicas_;
  int local_;
  Share share_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::int64_t, Round> rounds_;
  struct Meeting {
    std::set<int> arrived;
    bool met = false;
    int left = 0;
  };
  std::map<std::int64_t, Meeting> meetings_;  // never in a checkpoint: a cut has none in progress
};

}  // namespace ps
