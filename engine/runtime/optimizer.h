// The per-stage optimizer, written out rather than taken from torch::optim: prediction strategies read
// its state (momentum buffer, Adam moments) and weight versions are written copy-on-write, so the
// engine owns the exact update. Conventions follow LibTorch's SGD and Adam (STRATEGIES.md section 1).
#pragma once
#include <ATen/core/Tensor.h>

#include <c10/core/Device.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/config/run_config.h"

namespace ps {

struct Checkpoint;

class StageOptimizer {
 public:
  explicit StageOptimizer(const OptimizerConfig& cfg) : cfg_(cfg) {}

  // One step on `params` (updated in place) with `grads`.
  //   SGD:  d = g + wd*p;  buf = mu*buf + d (buf = d at the first step);  p -= lr*(nesterov ? d + mu*buf : buf)
  //   Adam: d = g + wd*p;  m = b1*m + (1-b1)*d;  v = b2*v + (1-b2)*d^2;  p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps)
  void step(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads, double lr);

  const OptimizerConfig& config() const { return cfg_; }
  std::int64_t steps() const { return steps_; }
  // SGD momentum buffers (empty before the first step or without momentum).
  const std::vector<at::Tensor>& momentum() const { return buf_; }
  // Adam first and second moments (empty before the first step).
  const std::vector<at::Tensor>& adam_m() const { return m_; }
  const std::vector<at::Tensor>& adam_v() const { return v_; }
  std::int64_t state_bytes() const;

  // Checkpoints: the step count and every state tensor, under names starting with `prefix`.
  void save(Checkpoint& c, const std::string& prefix) const;
  void load(const Checkpoint& c, const std::string& prefix, const c10::Device& device);

 private:
  OptimizerConfig cfg_;
  std::int64_t steps_ = 0;
  std::vector<at::Tensor> buf_, m_, v_;
};

// Learning rate at a step (0-based) under the run's schedule.
double scheduled_lr(const OptimizerConfig& opt, const LrScheduleConfig& sched, std::int64_t step,
                    std::int64_t total_steps);

}  // namespace ps
