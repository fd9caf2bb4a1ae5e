// The CUDA implementation of DeviceBackend (engine/cuda/cuda_backend.cpp). Compiled and linked only
// where the LibTorch found has CUDA (PIPESCOPE_WITH_CUDA); elsewhere syntax-checked against the CUDA
// headers. This header includes no CUDA header: the factory in runtime/device_backend.cpp uses it.
#pragma once
#include <memory>

#include "engine/runtime/device_backend.h"

namespace ps {

// A backend on `device` (cuda or cuda:N); throws std::invalid_argument when there is no such GPU.
std::unique_ptr<DeviceBackend> make_cuda_backend(const c10::Device& device, int stages_on_device);

}  // namespace ps
