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
#include <vector>

namespace ps {

struct Checkpoint;

class AllReduce {
 public:
  explicit AllReduce(int replicas) : replicas_(replicas) {}

  void deposit(std::int64_t minibatch, int replica, std::vector<at::Tensor> grads);
  bool complete(std::int64_t minibatch) const;
  // Blocks until every replica has deposited (or `stopped()` turns true: returns false), then
  // returns the sum of the gradients in replica order.
  bool sum(std::int64_t minibatch, std::vector<at::Tensor>& out, const std::function<bool()>& stopped);

  // For a collective of the replicas' own (NCCL), which every replica must join once one has started
  // it: blocks until every replica has arrived for `minibatch` (true: all go on), or until `stopped()`
  // turns true first (false: this replica's arrival is withdrawn, so that none goes on without it).
  bool meet(std::int64_t minibatch, int replica, const std::function<bool()>& stopped);

  // Checkpoints: the rounds in progress (deposits not yet consumed by every replica).
  void save(Checkpoint& c) const;
  void load(const Checkpoint& c);

 private:
  struct Round {
    std::vector<std::vector<at::Tensor>> grads;  // by replica
    int deposited = 0;
    int consumed = 0;
  };
  int replicas_;
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
