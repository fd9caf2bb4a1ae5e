// The CPU backend (host clocks, tensors stay where they are) and the factory that hands out the CUDA
// one where this build has it.
#include "engine/runtime/device_backend.h"

#include <ATen/Context.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "engine/runtime/gpus.h"

#ifdef PIPESCOPE_WITH_CUDA
#include "engine/cuda/cuda_backend.h"
#endif

namespace ps {
namespace {

std::int64_t since(std::chrono::steady_clock::time_point origin) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - origin).count();
}

class CpuBackend final : public DeviceBackend {
 public:
  c10::Device device() const override { return c10::Device(c10::kCPU); }
  std::string describe() const override { return "cpu"; }
  void begin_segment(std::chrono::steady_clock::time_point origin) override { origin_ = origin; }
  DeviceOpMark before_op() override { return DeviceOpMark{since(origin_), nullptr}; }
  DeviceInterval after_op(DeviceOpMark& mark) override { return {mark.host_start_ns, since(origin_)}; }
  std::shared_ptr<void> scope() override { return nullptr; }
  at::Tensor input(const at::Tensor& host) override { return host.device().is_cpu() ? host : host.to(c10::kCPU); }
  // Between CPU stages a message is handed over as it is (zero-copy). Towards a CUDA stage the receiver
  // copies it onto its own stream (through pinned memory), so nothing is done here either.
  std::shared_ptr<DeviceTransfer> send(std::vector<at::Tensor>&, DeviceBackend&, int) override { return nullptr; }
  DeviceInterval receive(std::vector<at::Tensor>& tensors, const std::shared_ptr<DeviceTransfer>&) override {
    for (auto& t : tensors)
      if (t.defined() && !t.device().is_cpu()) t = t.to(c10::kCPU);  // a CUDA sender copies already
    return {-1, -1};
  }
  DeviceMemory memory() const override { return {}; }
  void synchronize() override {}

 private:
  std::chrono::steady_clock::time_point origin_ = std::chrono::steady_clock::now();
};

}  // namespace

bool cuda_backend_built() {
#ifdef PIPESCOPE_WITH_CUDA
  return true;
#else
  return false;
#endif
}

std::unique_ptr<DeviceBackend> make_device_backend(const c10::Device& device, int stages_on_device) {
  if (device.is_cpu()) return std::make_unique<CpuBackend>();
  if (device.is_cuda()) {
#ifdef PIPESCOPE_WITH_CUDA
    return make_cuda_backend(device, stages_on_device);
#else
    throw std::invalid_argument("device " + device.str() +
                                ": this build has no CUDA path (the LibTorch it was built against has no CUDA)");
#endif
  }
  throw std::invalid_argument("device " + device.str() + ": no backend for this device type");
}

void set_deterministic(bool on) {
  // cuBLAS reads this when a handle is created; ":4096:8" is the setting PyTorch documents for
  // reproducible GEMMs. An existing value (the user's) wins.
  if (on) ::setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);
  at::globalContext().setDeterministicAlgorithms(on, /*warn_only=*/false);
  at::globalContext().setDeterministicCuDNN(on);
  if (on) at::globalContext().setBenchmarkCuDNN(false);
}

std::string describe_gpu(const GpuInfo& gpu) {
  char memory[32];
  std::snprintf(memory, sizeof memory, "%.1f GiB", double(gpu.memory_bytes) / double(1ll << 30));
  return "cuda:" + std::to_string(gpu.index) + "  " + gpu.name + ", " + memory;
}

#ifndef PIPESCOPE_WITH_CUDA
GpuList visible_gpus() {
  return {{}, "this build has no CUDA path (the LibTorch it was built against has no CUDA)"};
}

std::vector<std::unique_ptr<CollectiveGroup>> make_nccl_group_in_process(const std::vector<c10::Device>&) {
  throw std::invalid_argument("NCCL: this build has no CUDA path (the LibTorch it was built against has no CUDA)");
}
std::unique_ptr<CollectiveGroup> make_nccl_rank(int, int, const std::string&, int, const c10::Device&) {
  throw std::invalid_argument("NCCL: this build has no CUDA path (the LibTorch it was built against has no CUDA)");
}
#endif

}  // namespace ps
