// What the device-backend tests and the CUDA engine tests share: why a GPU test skips here, the GPUs a
// test's devices go to, and a toy pipeline (the engine's own StageRuntime and Pipeline over hand-made
// Linear+Tanh units) whose devices get the backend a session would give them.
#pragma once
#include <gtest/gtest.h>
#include <torch/autograd.h>
#include <torch/cuda.h>
#include <torch/nn.h>
#include <torch/types.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "engine/runtime/device_backend.h"
#include "engine/runtime/gpus.h"
#include "engine/runtime/pipeline.h"
#include "engine/schedule/schedule.h"
#include "engine/session/weights_digest.h"
#include "engine/strategy/strategy.h"
#include "engine/telemetry/outputs.h"
#include "engine/util/errors.h"
#include "test_support.h"

namespace ps::cudatest {

using Clock = std::chrono::steady_clock;

inline std::int64_t since(Clock::time_point origin) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - origin).count();
}

// Why a CUDA test cannot run here ("" when it can).
inline std::string no_cuda_reason(int gpus_needed = 1) {
  if (!cuda_backend_built()) return "this build has no CUDA path (the LibTorch it was built against has no CUDA)";
  if (!torch::cuda::is_available()) return "LibTorch sees no CUDA device on this machine";
  if (static_cast<int>(torch::cuda::device_count()) < gpus_needed)
    return "needs " + std::to_string(gpus_needed) + " GPUs, this machine has " + std::to_string(torch::cuda::device_count());
  return "";
}
#define REQUIRE_GPUS(n)                             \
  do {                                              \
    const std::string reason = no_cuda_reason(n);   \
    if (!reason.empty()) GTEST_SKIP() << reason;    \
  } while (0)

inline c10::Device gpu(int i) { return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(i)); }
inline const c10::Device kCpu(c10::kCPU);

// Device d of S on GPU d mod n: with one GPU every device shares it (a stream each), with several the
// messages cross GPUs.
inline std::vector<c10::Device> gpu_devices(int S) {
  std::vector<c10::Device> d;
  const int n = std::max<int>(1, static_cast<int>(torch::cuda::device_count()));
  for (int k = 0; k < S; ++k) d.push_back(gpu(k % n));
  return d;
}

// ---------------------------------------------------------------------------------------------------
// The engine's own StageRuntime and Pipeline over hand-made Linear+Tanh units on a learnable toy task,
// every device with the backend the session would give it (`backend_for` may wrap it).

struct ToySpec {
  std::vector<c10::Device> devices{kCpu, kCpu};  // per device (worker)
  std::string schedule = "gpipe";
  int chunks = 0;
  int microbatches = 4;
  ExecutorKind executor = ExecutorKind::Threaded;
  std::string strategy = "latest";
  double lr = 0.05;
  double momentum = 0.9;
  int batch_size = 16;
  int units = 0;        // 0: one per chunk; data parallel: every replica holds them all
  int width = 8;        // hidden width of the units
  bool nccl = false;    // data parallel: sum through NCCL (one rank per GPU) instead of in process
  std::function<std::shared_ptr<DeviceBackend>(int d, std::shared_ptr<DeviceBackend>)> backend_for;
};

// The reference of the transparency checks: `units` units on one GPU, the whole minibatch at once, plain
// SGD at lr 1 (a step is the gradient itself, so the weights compare the gradients).
inline ToySpec one_gpu_reference(int units) {
  ToySpec s;
  s.devices = {gpu(0)};
  s.schedule = "sequential";
  s.microbatches = 1;
  s.units = units;
  s.lr = 1.0;
  s.momentum = 0;
  return s;
}

class Toy {
 public:
  explicit Toy(ToySpec spec) : spec_(std::move(spec)) {
    torch::manual_seed(7);
    data_.inputs = torch::randn({512, 6});
    data_.labels = data_.inputs.matmul(torch::randn({6, 3})).argmax(1);
    batches_ = std::make_unique<BatchSource>(data_, spec_.batch_size, 3);
    const int D = static_cast<int>(spec_.devices.size());
    const bool replicas = spec_.schedule == "data-parallel";
    v_ = replicas ? 1 : resolve_chunks(spec_.schedule, spec_.chunks);
    const int C = D * v_;
    const std::vector<int> device_of = replicas ? std::vector<int>() : chunk_devices(spec_.schedule, D, v_);
    std::map<int, int> per_gpu;
    for (const auto& d : spec_.devices)
      if (d.is_cuda()) ++per_gpu[d.index()];
    for (int d = 0; d < D; ++d) {
      const c10::Device& dev = spec_.devices[d];
      std::shared_ptr<DeviceBackend> b = make_device_backend(dev, dev.is_cuda() ? per_gpu[dev.index()] : 1);
      backends_.push_back(spec_.backend_for ? spec_.backend_for(d, std::move(b)) : std::move(b));
    }
    if (replicas) {
      all_reduce_ = std::make_unique<AllReduce>(D);
      if (spec_.nccl) collectives_ = make_nccl_group_in_process(spec_.devices);
    }
    const int units = spec_.units > 0 ? spec_.units : C;
    const int per_chunk = replicas ? units : units / C;
    torch::manual_seed(11);
    std::vector<std::unique_ptr<StageRuntime>> stages;
    for (int k = 0; k < C; ++k) {
      const int d = replicas ? k : device_of[k];
      StageSetup s;
      s.index = k;
      s.num_stages = C;
      s.device_index = v_ > 1 ? d : -1;
      s.device = spec_.devices[d];
      s.backend = backends_[d];
      if (replicas) {
        torch::manual_seed(11);  // every replica starts from the same weights
        s.replica = k;
        s.replicas = D;
        s.all_reduce = all_reduce_.get();
        if (!collectives_.empty()) s.collective = collectives_[k].get();
      }
      const int first = replicas ? 0 : k * per_chunk;
      const int width = spec_.width;
      auto make = [first, per_chunk, units, width] {
        torch::nn::Sequential seq;
        for (int u = first; u < first + per_chunk; ++u) {
          seq->push_back(torch::nn::Linear(u == 0 ? 6 : width, u == units - 1 ? 3 : width));
          if (u != units - 1) seq->push_back(torch::nn::Tanh());
        }
        return seq;
      };
      s.module = make();
      s.make_replica = make;
      s.optimizer.lr = spec_.lr;
      s.optimizer.momentum = spec_.momentum;
      s.total_steps = 1000;
      s.strategy = make_strategy(spec_.strategy, {}, k, C);
      s.batches = batches_.get();
      s.microbatches = spec_.microbatches;
      s.on_op = [this](const OpEvent& ev) {
        std::lock_guard<std::mutex> lock(mu_);
        events_.push_back(ev);
      };
      s.on_transfer = [this](const TransferEvent& t) {
        std::lock_guard<std::mutex> lock(mu_);
        transfers_.push_back(t);
      };
      s.on_minibatch = [this](const MinibatchResult& r) {
        std::lock_guard<std::mutex> lock(mu_);
        results_.push_back(r);
      };
      stages.push_back(std::make_unique<StageRuntime>(std::move(s)));
    }
    pipeline_ = std::make_unique<Pipeline>(std::move(stages), spec_.executor, 1, spec_.microbatches, replicas, device_of);
  }

  bool run(int minibatches) {
    const auto ops = make_schedule(spec_.schedule, static_cast<int>(spec_.devices.size()), spec_.microbatches,
                                   minibatches, v_);
    return pipeline_->run(ops, 0, control_, Clock::now());
  }
  std::string digest() const {
    std::vector<std::vector<at::Tensor>> w;
    const int holders = spec_.schedule == "data-parallel" ? 1 : pipeline_->num_stages();
    for (int k = 0; k < holders; ++k) w.push_back(pipeline_->stage(k).live_params());
    return weights_digest(w);
  }
  // Every chunk's parameters on the host, in order (one replica's for data parallel, or replica r's).
  std::vector<at::Tensor> weights(int replica = -1) const {
    std::vector<at::Tensor> w;
    for (int k = 0; k < pipeline_->num_stages(); ++k) {
      if (replica >= 0 && k != replica) continue;
      for (const auto& p : pipeline_->stage(k).live_params()) w.push_back(p.detach().to(torch::kCPU).clone());
      if (replica < 0 && spec_.schedule == "data-parallel") break;
    }
    return w;
  }
  std::vector<OpEvent> events() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  std::vector<TransferEvent> transfers() const {
    std::lock_guard<std::mutex> lock(mu_);
    return transfers_;
  }
  std::vector<MinibatchResult> results() const {
    std::lock_guard<std::mutex> lock(mu_);
    return results_;
  }
  Pipeline& pipeline() { return *pipeline_; }

 private:
  ToySpec spec_;
  int v_ = 1;
  TensorDataset data_;
  std::unique_ptr<BatchSource> batches_;
  std::vector<std::shared_ptr<DeviceBackend>> backends_;
  std::unique_ptr<AllReduce> all_reduce_;
  std::vector<std::unique_ptr<CollectiveGroup>> collectives_;
  std::unique_ptr<Pipeline> pipeline_;
  RunControl control_;
  mutable std::mutex mu_;
  std::vector<OpEvent> events_;
  std::vector<TransferEvent> transfers_;
  std::vector<MinibatchResult> results_;
};

// Trained one minibatch at lr 1 without momentum from weights w0 (W1 = W0 - g): the same gradients.
inline void expect_same_gradients(const std::vector<at::Tensor>& w0, const std::vector<at::Tensor>& a,
                           const std::vector<at::Tensor>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  ASSERT_EQ(a.size(), w0.size()) << what;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const at::Tensor ga = w0[i] - a[i], gb = w0[i] - b[i];
    EXPECT_GT(ga.abs().max().item<double>(), 0) << what << ": no gradient reached parameter " << i;
    EXPECT_TRUE(torch::allclose(ga, gb, 1e-4, 1e-6)) << what << ": parameter " << i;
  }
}

}  // namespace ps::cudatest
