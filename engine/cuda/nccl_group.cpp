// NCCL among data-parallel replicas (and, for the processes executor, between pipeline ranks), through
// LibTorch's own c10d::ProcessGroupNCCL: the same communicator torch.distributed uses, not a protocol
// of PipeScope's. Gradients travel as one flat bucket per update, as DDP's buckets do: one collective
// of the whole size instead of one per parameter, whose launch latency would dominate small models.
// ProcessGroupNCCL.hpp declares its class only under USE_C10D_NCCL, which a CUDA LibTorch's own build
// sets but its CMake package does not pass on.
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL
#endif
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/csrc/distributed/c10d/HashStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <atomic>
#include <set>
#include <stdexcept>
#include <string>

#include "engine/runtime/device_backend.h"

namespace ps {
namespace {

class NcclRank final : public CollectiveGroup {
 public:
  NcclRank(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size, const c10::Device& device)
      : rank_(rank), size_(size), device_(device) {
    // The communicator itself is created by the first collective, on every rank at once (NCCL's init
    // blocks until all ranks joined): ranks of one process must each call from their own thread.
    pg_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, c10d::ProcessGroupNCCL::Options::create());
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void all_reduce_sum(std::vector<at::Tensor>& tensors, const std::vector<at::Tensor>& like) override {
    if (tensors.size() != like.size()) throw std::logic_error("all_reduce_sum: tensors and shapes differ in number");
    if (tensors.empty()) return;
    c10::cuda::CUDAGuard guard(device_.index());
    at::NoGradGuard no_grad;
    std::vector<at::Tensor> flat;
    flat.reserve(tensors.size());
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const at::Tensor& t = tensors[i].defined() ? tensors[i] : at::zeros_like(like[i]);
      flat.push_back(t.reshape(-1).to(like[0].scalar_type()));
    }
    // The bucket is made on the current (the stage's) stream; ProcessGroupNCCL orders its own stream
    // after it, and wait() makes the current stream wait for the result, not the host.
    std::vector<at::Tensor> bucket{at::cat(flat)};
    pg_->allreduce(bucket)->wait();
    // Every rank receives the same bits: ring and tree all-reduce reduce each element once and then
    // broadcast it, so replicas stay identical to each other.
    std::int64_t offset = 0;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const std::int64_t n = like[i].numel();
      tensors[i] = bucket[0].narrow(0, offset, n).view(like[i].sizes()).to(like[i].scalar_type());
      offset += n;
    }
  }

  void send(const at::Tensor& tensor, int peer, int tag) override {
    c10::cuda::CUDAGuard guard(device_.index());
    std::vector<at::Tensor> v{tensor.contiguous()};
    pg_->send(v, peer, tag)->wait();
  }

  void recv(at::Tensor& tensor, int peer, int tag) override {
    c10::cuda::CUDAGuard guard(device_.index());
    if (!tensor.is_contiguous()) throw std::invalid_argument("NCCL recv: the tensor to receive into must be contiguous");
    std::vector<at::Tensor> v{tensor};
    pg_->recv(v, peer, tag)->wait();
  }

 private:
  int rank_, size_;
  c10::Device device_;
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> pg_;
};

void check_cuda(const c10::Device& d, const std::string& what) {
  if (!d.is_cuda()) throw std::invalid_argument(what + ": NCCL needs CUDA devices, got " + d.str());
}

}  // namespace

std::vector<std::unique_ptr<CollectiveGroup>> make_nccl_group_in_process(const std::vector<c10::Device>& devices) {
  std::set<int> seen;
  for (std::size_t r = 0; r < devices.size(); ++r) {
    check_cuda(devices[r], "rank " + std::to_string(r));
    if (!seen.insert(devices[r].has_index() ? devices[r].index() : 0).second)
      throw std::invalid_argument("rank " + std::to_string(r) + ": " + devices[r].str() +
                                  " already has a rank (NCCL allows one rank per GPU)");
  }
  // An in-memory store serves the ranks of one process; the prefix keeps this group's keys apart from
  // any other group made in the same process.
  static std::atomic<int> groups{0};
  c10::intrusive_ptr<c10d::Store> base = c10::make_intrusive<c10d::HashStore>();
  auto store = c10::make_intrusive<c10d::PrefixStore>("pipescope" + std::to_string(groups++), base);
  std::vector<std::unique_ptr<CollectiveGroup>> ranks;
  for (std::size_t r = 0; r < devices.size(); ++r)
    ranks.push_back(std::make_unique<NcclRank>(store, static_cast<int>(r), static_cast<int>(devices.size()), devices[r]));
  return ranks;
}

std::unique_ptr<CollectiveGroup> make_nccl_rank(int rank, int size, const std::string& host, int port,
                                                const c10::Device& device) {
  check_cuda(device, "rank " + std::to_string(rank));
  if (rank < 0 || rank >= size) throw std::invalid_argument("rank " + std::to_string(rank) + " of " + std::to_string(size));
  c10d::TCPStoreOptions opts;
  opts.port = static_cast<std::uint16_t>(port);
  opts.isServer = rank == 0;
  opts.numWorkers = static_cast<std::size_t>(size);
  auto store = c10::make_intrusive<c10d::TCPStore>(host, opts);
  return std::make_unique<NcclRank>(store, rank, size, device);
}

}  // namespace ps
