// A stage on a CUDA device. The choices, and where they come from:
//
// - One compute stream per stage, taken from LibTorch's stream pool (not the default stream). Stages
//   sharing a GPU then run concurrently, as separate devices would. Megatron-LM runs every virtual
//   chunk of a device on that device's one stream, and so does this backend: a stage's chunks share its
//   stream, because their ops are ordered by the schedule on one worker anyway, and the caching
//   allocator keeps its blocks per stream (a stream per chunk would fragment memory for no overlap).
// - One copy stream per link and side, as torchgpipe does (its copy streams are separate from compute
//   so that moving a microbatch overlaps computing the next): the copy is issued on the sender's side
//   of the link as soon as the op that made the tensor ends, and the receiver's compute stream waits
//   on an event, not the host. A link carries its messages in order, like the channel beside it, so
//   one stream per link (not per microbatch) keeps that order for free.
// - Cross-stream lifetimes as torchgpipe's Copy/Wait: the source is recordStream'ed on the stream that
//   reads it and the destination on the stream that will use it, so the caching allocator never
//   reuses a block while another stream still works on it.
// - Op times from CUDA events on the stage's stream, mapped onto the run's clock by an anchor event
//   recorded on an idle stream at a known host time (re-anchored every second against clock drift).
// - Events pooled per device: creating and destroying one takes the driver's lock, shared by every
//   thread, once per message otherwise (the caching allocator pools its own events for that reason).
#include "engine/cuda/cuda_backend.h"
#include "engine/runtime/gpus.h"

#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>

#include <cmath>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace ps {
namespace {

using Clock = std::chrono::steady_clock;
using at::cuda::CUDAEvent;
using c10::cuda::CUDAStream;

std::int64_t since(Clock::time_point origin) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - origin).count();
}

// Timing events of one device (an event may only be recorded on streams of the device it was
// created on, so the pool belongs to the device whose streams record them).
class EventPool {
 public:
  std::unique_ptr<CUDAEvent> take() {
    std::lock_guard<std::mutex> lock(mu_);
    if (free_.empty()) return std::make_unique<CUDAEvent>(cudaEventDefault);  // timing enabled
    auto e = std::move(free_.back());
    free_.pop_back();
    return e;
  }
  void give(std::unique_ptr<CUDAEvent> e) {
    if (!e) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (free_.size() < 256) free_.push_back(std::move(e));
  }

 private:
  std::mutex mu_;
  std::vector<std::unique_ptr<CUDAEvent>> free_;
};

// A message's copy: `done` follows the copy on the receiver's device (or, between stages of one GPU,
// the producing op on the sender's stream); `start` marks when the copy could begin.
struct CudaTransfer final : DeviceTransfer {
  explicit CudaTransfer(std::shared_ptr<EventPool> p) : pool(std::move(p)), start(pool->take()), done(pool->take()) {}
  ~CudaTransfer() override {
    pool->give(std::move(start));
    pool->give(std::move(done));
  }
  std::shared_ptr<EventPool> pool;  // the receiver's device's
  std::unique_ptr<CUDAEvent> start, done;
  bool copied = false;  // false: same GPU, no copy (done orders the producer's stream only)
};

// What a DeviceOpMark holds while the op runs: the stage's device and stream made current.
struct OpScope {
  OpScope(c10::DeviceIndex index, const CUDAStream& stream) : device(index), stream_guard(stream) {}
  c10::cuda::CUDAGuard device;
  c10::cuda::CUDAStreamGuard stream_guard;
};

class CudaBackend final : public DeviceBackend {
 public:
  CudaBackend(const c10::Device& device, int stages_on_device)
      : index_(checked_index(device)),
        device_(c10::kCUDA, index_),
        stages_on_device_(stages_on_device),
        compute_(c10::cuda::getStreamFromPool(/*isHighPriority=*/false, index_)),
        pool_(std::make_shared<EventPool>()),
        start_(cudaEventDefault),
        end_(cudaEventDefault),
        anchor_(cudaEventDefault),
        ready_(cudaEventDisableTiming) {
    name_ = device_.str() + " (" + at::cuda::getDeviceProperties(index_)->name + ")";
  }

  c10::Device device() const override { return device_; }
  std::string describe() const override { return name_; }

  void begin_segment(Clock::time_point origin) override {
    c10::cuda::CUDAGuard guard(index_);
    // Weights moved to the device (constructor, checkpoint restore) went through the default stream,
    // which a pool stream does not wait for: the device is made idle before the first op.
    c10::cuda::device_synchronize();
    origin_ = origin;
    reanchor();
  }

  DeviceOpMark before_op() override {
    auto scope = std::make_shared<OpScope>(index_, compute_);
    if (since(origin_) - anchor_host_ns_ > kReanchorNs) reanchor();
    DeviceOpMark mark;
    mark.host_start_ns = since(origin_);
    start_.record(compute_);
    mark.state = std::move(scope);
    return mark;
  }

  // Waits for the op's end event: the stage emits each op's event with its times when the op ends,
  // and most ops read a result on the host anyway (the loss, the finiteness check after an update).
  // What it costs is the host running ahead by one op; the GPU still overlaps stages and copies.
  DeviceInterval after_op(DeviceOpMark& mark) override {
    end_.record(compute_);
    end_.synchronize();
    return {to_run_clock(start_), to_run_clock(end_)};
  }

  std::int64_t clock_uncertainty_ns() const override { return anchor_uncertainty_ns_; }

  std::shared_ptr<void> scope() override { return std::make_shared<OpScope>(index_, compute_); }

  at::Tensor input(const at::Tensor& host) override {
    OpScope scope(index_, compute_);
    if (host.device() == device_) return host;
    if (!host.device().is_cpu()) return host.to(host.options().device(device_));
    // Pinned (page-locked) memory lets the copy run asynchronously on the stage's stream; the host
    // allocator caches the pinned blocks and records the copy's stream, so a block is reused only once
    // its copy is done.
    const at::Tensor pinned = host.is_pinned() ? host : host.pin_memory();
    return pinned.to(pinned.options().device(device_), /*non_blocking=*/true);
  }

  std::shared_ptr<DeviceTransfer> send(std::vector<at::Tensor>& tensors, DeviceBackend& to, int link) override {
    auto* dst = dynamic_cast<CudaBackend*>(&to);
    if (!dst) {  // towards a CPU stage: a blocking copy ordered after the producing op
      OpScope scope(index_, compute_);
      for (auto& t : tensors)
        if (t.defined()) t = t.to(t.options().device(c10::kCPU));
      return nullptr;
    }
    auto transfer = std::make_shared<CudaTransfer>(dst->pool_);
    if (dst->index_ == index_) {
      // Same GPU: no copy. The receiver's stream waits for the producer's, through this event.
      c10::cuda::CUDAGuard guard(index_);
      transfer->done->record(compute_);
      return transfer;
    }
    const CUDAStream out = link_stream(link), in = dst->link_stream(link);
    // ATen copies between GPUs on the source's current stream and orders it with the destination's
    // current stream: both are made the link's copy streams, so neither compute stream is involved.
    c10::cuda::CUDAMultiStreamGuard streams(std::vector<CUDAStream>{out, in});
    ready_.record(compute_);  // the producing op (already done when after_op waited; kept for order)
    ready_.block(out);
    ready_.block(in);
    transfer->start->record(in);
    for (auto& t : tensors) {
      if (!t.defined()) continue;
      const at::Tensor src = t;
      t = src.to(src.options().device(dst->device_), /*non_blocking=*/true);
      // The source block belongs to the sender's compute stream; `out` still reads it.
      c10::cuda::CUDACachingAllocator::recordStream(src.storage().data_ptr(), out);
    }
    transfer->done->record(in);
    transfer->copied = true;
    return transfer;
  }

  DeviceInterval receive(std::vector<at::Tensor>& tensors, const std::shared_ptr<DeviceTransfer>& t) override {
    OpScope scope(index_, compute_);
    auto* transfer = dynamic_cast<CudaTransfer*>(t.get());
    if (!transfer) {  // from a CPU stage, or restored from a checkpoint
      for (auto& x : tensors)
        if (x.defined() && x.device() != device_) x = input(x);
      return {-1, -1};
    }
    transfer->done->block(compute_);
    for (auto& x : tensors)
      if (x.defined()) c10::cuda::CUDACachingAllocator::recordStream(x.storage().data_ptr(), compute_);
    if (!transfer->copied) return {-1, -1};
    // The times need the copy done. The host waiting costs nothing: after_op left this stage's stream
    // idle, and the op that uses the message cannot start before it is here.
    transfer->done->synchronize();
    return {to_run_clock(*transfer->start), to_run_clock(*transfer->done)};
  }

  DeviceMemory memory() const override {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index_);
    // Index 0 is StatType::AGGREGATE (all pools); spelled as an index because the enum moved between
    // namespaces across LibTorch versions while the array layout stayed.
    constexpr std::size_t kAll = 0;
    DeviceMemory m;
    m.tracked = true;
    m.allocated = stats.allocated_bytes[kAll].current;
    m.allocated_peak = stats.allocated_bytes[kAll].peak;
    m.reserved = stats.reserved_bytes[kAll].current;
    m.reserved_peak = stats.reserved_bytes[kAll].peak;
    m.stages_on_device = stages_on_device_;
    return m;
  }

  void synchronize() override {
    c10::cuda::CUDAGuard guard(index_);
    c10::cuda::device_synchronize();  // the compute stream and every link stream on this GPU
  }

 private:
  static constexpr std::int64_t kReanchorNs = 1'000'000'000;

  static c10::DeviceIndex checked_index(const c10::Device& device) {
    const int count = c10::cuda::device_count();
    const int index = device.has_index() ? device.index() : 0;
    if (count == 0)
      throw std::invalid_argument("device " + device.str() + ": LibTorch sees no CUDA device on this machine");
    if (index >= count)
      throw std::invalid_argument("device " + device.str() + ": this machine has " + std::to_string(count) +
                                  " CUDA device(s) (cuda:0.." + std::to_string(count - 1) + ")");
    return static_cast<c10::DeviceIndex>(index);
  }

  // The anchor: an event recorded on the idle compute stream runs at once, between the host times
  // taken before recording it and after waiting for it; the middle is the best estimate.
  void reanchor() {
    c10::cuda::CUDAGuard guard(index_);
    compute_.synchronize();
    const std::int64_t before = since(origin_);
    anchor_.record(compute_);
    anchor_.synchronize();
    const std::int64_t after = since(origin_);
    anchor_host_ns_ = before + (after - before) / 2;
    anchor_uncertainty_ns_ = (after - before + 1) / 2;
  }

  // A completed event of this device on the run's clock.
  std::int64_t to_run_clock(const CUDAEvent& e) const {
    const double ms = anchor_.elapsed_time(e);
    return anchor_host_ns_ + static_cast<std::int64_t>(std::llround(ms * 1e6));
  }

  CUDAStream link_stream(int link) {
    std::lock_guard<std::mutex> lock(links_mu_);
    auto it = links_.find(link);
    if (it == links_.end()) it = links_.emplace(link, c10::cuda::getStreamFromPool(false, index_)).first;
    return it->second;
  }

  c10::DeviceIndex index_;
  c10::Device device_;
  int stages_on_device_;
  std::string name_;
  CUDAStream compute_;
  std::shared_ptr<EventPool> pool_;
  // Owned by the stage's thread: the op's events (one op at a time, waited for in after_op), the
  // anchor, and the event a send orders its copy after.
  CUDAEvent start_, end_, anchor_, ready_;
  Clock::time_point origin_ = Clock::now();
  std::int64_t anchor_host_ns_ = -kReanchorNs - 1, anchor_uncertainty_ns_ = 0;
  std::mutex links_mu_;
  std::map<int, CUDAStream> links_;  // this GPU's side of each link
};

}  // namespace

GpuList visible_gpus() {
  GpuList list;
  const int count = c10::cuda::device_count();
  if (count == 0) {
    list.none_reason = "LibTorch sees no CUDA device on this machine (no driver, a driver too old for its CUDA, "
                       "or CUDA_VISIBLE_DEVICES hides them)";
    return list;
  }
  for (int i = 0; i < count; ++i) {
    const cudaDeviceProp* p = at::cuda::getDeviceProperties(static_cast<c10::DeviceIndex>(i));
    list.gpus.push_back({i, p->name, static_cast<std::int64_t>(p->totalGlobalMem)});
  }
  return list;
}

std::unique_ptr<DeviceBackend> make_cuda_backend(const c10::Device& device, int stages_on_device) {
  return std::make_unique<CudaBackend>(device, stages_on_device);
}

}  // namespace ps
