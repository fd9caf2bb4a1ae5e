#include "engine/runtime/optimizer.h"

#include <cmath>

#include "engine/session/checkpoint.h"

namespace ps {

void StageOptimizer::step(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads, double lr) {
  torch::NoGradGuard no_grad;
  ++steps_;
  const bool adam = cfg_.name == "adam";
  for (std::size_t i = 0; i < params.size(); ++i) {
    const at::Tensor& p = params[i];
    at::Tensor d = grads[i];
    if (!d.defined()) continue;  // a parameter that took no part in this minibatch
    if (cfg_.weight_decay != 0) d = d.add(p, cfg_.weight_decay);
    if (adam) {
      if (m_.size() != params.size()) {
        m_.assign(params.size(), at::Tensor());
        v_.assign(params.size(), at::Tensor());
      }
      if (!m_[i].defined()) {
        m_[i] = torch::zeros_like(p);
        v_[i] = torch::zeros_like(p);
      }
      m_[i].mul_(cfg_.beta1).add_(d, 1 - cfg_.beta1);
      v_[i].mul_(cfg_.beta2).addcmul_(d, d, 1 - cfg_.beta2);
      const double bc1 = 1 - std::pow(cfg_.beta1, double(steps_));
      const double bc2 = 1 - std::pow(cfg_.beta2, double(steps_));
      at::Tensor denom = (v_[i].sqrt() / std::sqrt(bc2)).add_(cfg_.eps);
      p.addcdiv_(m_[i], denom, -lr / bc1);
      continue;
    }
    if (cfg_.momentum != 0) {
      if (buf_.size() != params.size()) buf_.assign(params.size(), at::Tensor());
      if (!buf_[i].defined()) {
        buf_[i] = d.clone();
      } else {
        buf_[i].mul_(cfg_.momentum).add_(d);
      }
      d = cfg_.nesterov ? d.add(buf_[i], cfg_.momentum) : buf_[i];
    }
    p.add_(d, -lr);
  }
}

std::int64_t StageOptimizer::state_bytes() const {
  std::int64_t n = 0;
  for (const auto* list : {&buf_, &m_, &v_})
    for (const auto& t : *list)
      if (t.defined()) n += t.numel() * static_cast<std::int64_t>(t.element_size());
  return n;
}

void StageOptimizer::save(Checkpoint& c, const std::string& prefix) const {
  c.meta["optimizers"][prefix] = {{"steps", steps_}, {"name", cfg_.name}};
  c.put_list(prefix + "/buf", buf_);
  c.put_list(prefix + "/m", m_);
  c.put_list(prefix + "/v", v_);
}

void StageOptimizer::load(const Checkpoint& c, const std::string& prefix, const c10::Device& device) {
  if (!c.meta.contains("optimizers") || !c.meta["optimizers"].contains(prefix)) return;
  steps_ = c.meta["optimizers"][prefix]["steps"].get<std::int64_t>();
  auto restore = [&](const std::string& name, std::vector<at::Tensor>& into) {
    into = c.get_list(prefix + "/" + name);
    for (auto& t : into)
      if (t.defined()) t = t.to(device);
  };
  restore("buf", buf_);
  restore("m", m_);
  restore("v", v_);
}

double scheduled_lr(const OptimizerConfig& opt, const LrScheduleConfig& sched, std::int64_t step,
                    std::int64_t total_steps) {
  double lr = opt.lr;
  if (sched.warmup_steps > 0 && step < sched.warmup_steps) return lr * double(step + 1) / sched.warmup_steps;
  if (sched.name == "step" && sched.step_size > 0) {
    lr *= std::pow(sched.gamma, double(step / sched.step_size));
  } else if (sched.name == "cosine" && total_steps > sched.warmup_steps) {
    const double t = double(step - sched.warmup_steps) / double(total_steps - sched.warmup_steps);
    lr = sched.min_lr + 0.5 * (opt.lr - sched.min_lr) * (1 + std::cos(M_PI * std::min(1.0, t)));
  }
  return lr;
}

}  // namespace ps
