// Where a stage's tensors live and how its work is ordered and timed: the CPU (host clocks, plain
// copies) or a CUDA device (engine/cuda/: a compute stream per stage, a copy stream per link, CUDA
// events for times and ordering). Stages and executors talk to this header only; it includes no CUDA
// header, so the engine builds the same with or without a CUDA LibTorch.
#pragma once
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ps {

// An interval on the run's clock: nanoseconds since the segment's origin.
struct DeviceInterval {
  std::int64_t start_ns = 0;
  std::int64_t end_ns = 0;
};

// Returned by before_op(): while it lives, the stage's stream is the calling thread's current one
// (CUDA); after_op() reads its times. Opaque to the caller.
struct DeviceOpMark {
  std::int64_t host_start_ns = 0;
  std::shared_ptr<void> state;  // backend-owned (stream guard, start event)
};

// What travels in a Message beside its tensors: the events that order the copy (CUDA), or nothing.
struct DeviceTransfer {
  virtual ~DeviceTransfer() = default;
};

// A stage's device memory (CUDA: the caching allocator's statistics of its GPU; CPU: not tracked).
struct DeviceMemory {
  bool tracked = false;
  std::int64_t allocated = 0, allocated_peak = 0;  // bytes in live tensors
  std::int64_t reserved = 0, reserved_peak = 0;    // bytes the allocator holds from the driver
  int stages_on_device = 1;  // >1: the figures are the GPU's, shared by that many stages
};

class DeviceBackend {
 public:
  virtual ~DeviceBackend() = default;
  virtual c10::Device device() const = 0;
  virtual bool is_cuda() const { return device().is_cuda(); }
  // "cpu", "cuda:0 (NVIDIA H200)".
  virtual std::string describe() const = 0;

  // Anchors the device's clock to the run's: times returned afterwards are ns since `origin`. Waits
  // for the device to be idle (weights moved there outside the stage's stream are in place).
  virtual void begin_segment(std::chrono::steady_clock::time_point origin) = 0;
  // Brackets one op: before_op() makes the stage's stream current for this thread until the mark is
  // destroyed; after_op() returns the op's interval, measured on the device where it has a clock.
  virtual DeviceOpMark before_op() = 0;
  virtual DeviceInterval after_op(DeviceOpMark& mark) = 0;
  // How far a device time may sit from the host clock it is mapped onto (the anchor's uncertainty).
  virtual std::int64_t clock_uncertainty_ns() const { return 0; }
  // A scope for work outside ops (evaluation, checkpoint restore): the stage's stream is current
  // while the returned handle lives.
  virtual std::shared_ptr<void> scope() = 0;

  // An input batch (host tensor) on the stage's device: through pinned memory and a non-blocking
  // copy on the stage's stream (CUDA).
  virtual at::Tensor input(const at::Tensor& host) = 0;
  // Sender side, right after the op that produced `tensors`: replaces them with their copies on
  // `to`'s device, copied asynchronously; what is returned goes with the message. `link` names the
  // link (one copy stream each): for example 2*k for k->k+1, 2*k+1 for k+1->k.
  virtual std::shared_ptr<DeviceTransfer> send(std::vector<at::Tensor>& tensors, DeviceBackend& to, int link) = 0;
  // Receiver side, before the op that uses them: the stage's stream waits for the copy. Returns the
  // copy's interval on the device (start_ns < 0: no device copy happened, use the host clock).
  virtual DeviceInterval receive(std::vector<at::Tensor>& tensors, const std::shared_ptr<DeviceTransfer>& transfer) = 0;

  virtual DeviceMemory memory() const = 0;
  // Waits until the stage's queued work (its stream, its outgoing copies) is done.
  virtual void synchronize() = 0;
};

// The backend for `device` ("cpu", "cuda", "cuda:1"). `stages_on_device`: how many stages share it.
// Throws std::invalid_argument for a CUDA device where this build has no CUDA (PIPESCOPE_WITH_CUDA) or
// the device does not exist.
std::unique_ptr<DeviceBackend> make_device_backend(const c10::Device& device, int stages_on_device = 1);

// Whether this build carries the CUDA path (engine/cuda/ compiled and linked in).
bool cuda_backend_built();

// Bit-identity on request: deterministic algorithms everywhere (errors from ops that have none),
// cuDNN deterministic and not benchmarking, and cuBLAS's fixed workspace (CUBLAS_WORKSPACE_CONFIG,
// which takes effect only if set before the first cuBLAS handle: call this before any CUDA work).
void set_deterministic(bool on);

// Gradient all-reduce and point-to-point among ranks (NCCL through c10d's ProcessGroupNCCL). One
// object per rank; the calls of all ranks must meet (collectives block until every rank joined).
class CollectiveGroup {
 public:
  virtual ~CollectiveGroup() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Sums `tensors` over the ranks, in place (one flat bucket, one collective). An undefined tensor
  // counts as zeros shaped like like[i] (the parameter) and comes back defined. Ordered on the calling
  // thread's current stream (the stage's, inside before_op/after_op).
  virtual void all_reduce_sum(std::vector<at::Tensor>& tensors, const std::vector<at::Tensor>& like) = 0;
  // Point-to-point (the processes executor): blocks until the tensor is sent / received in place.
  virtual void send(const at::Tensor& tensor, int peer, int tag) = 0;
  virtual void recv(at::Tensor& tensor, int peer, int tag) = 0;
};

// `devices.size()` ranks inside this process (one thread per rank), meeting through an in-memory store;
// rank r works on devices[r]. NCCL allows one rank per GPU: distinct CUDA devices are required.
std::vector<std::unique_ptr<CollectiveGroup>> make_nccl_group_in_process(const std::vector<c10::Device>& devices);
// This process is `rank` of `size`, meeting through the TCPStore at host:port (rank 0 serves it).
std::unique_ptr<CollectiveGroup> make_nccl_rank(int rank, int size, const std::string& host, int port,
                                                const c10::Device& device);

}  // namespace ps
