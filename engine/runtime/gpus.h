// The GPUs LibTorch sees, for pickers and reports. Torch-free: the dashboard includes it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ps {

struct GpuInfo {
  int index = 0;                    // cuda:index
  std::string name;                 // "NVIDIA H200"
  std::int64_t memory_bytes = 0;    // total device memory
};

struct GpuList {
  std::vector<GpuInfo> gpus;
  std::string none_reason;  // why there are none ("" when there are some)
};

// Every CUDA device LibTorch sees, in index order. Where there is none, says why: this build has no
// CUDA path (its LibTorch has no CUDA), or the CUDA LibTorch sees no device (driver, CUDA_VISIBLE_DEVICES).
GpuList visible_gpus();

// "cuda:0  NVIDIA H200, 140.4 GiB"
std::string describe_gpu(const GpuInfo& gpu);

}  // namespace ps
