#include "engine/runtime/pipeline.h"

#include <dlfcn.h>

#include <deque>
#include <mutex>
#include <thread>

#include "engine/runtime/channel.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

// Data-parallel replicas exchange no activations or gradients (S is 1 for them here).
bool needs_activation(const Op& op, int k) { return op.kind == OpKind::Forward && k > 0; }
bool needs_gradient(const Op& op, int k, int S) { return op.kind == OpKind::Backward && k < S - 1; }

void check_message(const Message& m, const Op& op, std::int64_t base, int k) {
  if (m.minibatch != base + op.minibatch || m.micro != op.micro)
    throw std::logic_error("stage " + std::to_string(k) + " expected a message for " + op_name(op) +
                           " but got minibatch " + std::to_string(m.minibatch) + "." + std::to_string(m.micro));
}

PipelineError wrap(int k, const Op& op, std::int64_t base, const std::exception& e) {
  if (auto* pe = dynamic_cast<const PipelineError*>(&e)) return *pe;
  return PipelineError(k, op_name(op), static_cast<int>(base + op.minibatch), e.what());
}

}  // namespace

void set_intra_op_threads(int threads) {
  at::set_num_threads(threads);  // OpenMP: per calling thread
  using SetThreads = void (*)(int);
  static auto openblas = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (openblas) openblas(threads);
}

Pipeline::Pipeline(std::vector<std::unique_ptr<StageRuntime>> stages, ExecutorKind kind, int threads_per_stage,
                   int microbatches, bool replicas)
    : stages_(std::move(stages)),
      kind_(kind),
      threads_(threads_per_stage),
      microbatches_(microbatches),
      replicas_(replicas) {}

Pipeline::~Pipeline() = default;

bool Pipeline::run(const std::vector<StageOps>& ops, std::int64_t base, RunControl& control,
                   std::chrono::steady_clock::time_point origin) {
  base_ = base;
  for (int k = 0; k < num_stages(); ++k) {
    stages_[k]->begin_segment(ops[k], base, origin);
    stages_[k]->set_interrupt_check([&control] { return control.stopped(); });
  }
  auto finish = [&] {
    for (auto& s : stages_) s->finish_segment();
  };
  try {
    const bool done = kind_ == ExecutorKind::Threaded ? run_threaded(ops, control) : run_sequential(ops, control);
    finish();
    return done;
  } catch (...) {
    finish();
    throw;
  }
}

bool Pipeline::run_threaded(const std::vector<StageOps>& ops, RunControl& control) {
  const int S = num_stages();
  auto needs_activation = [this](const Op& op, int k) { return !replicas_ && ps::needs_activation(op, k); };
  auto needs_gradient = [this](const Op& op, int k, int S) { return !replicas_ && ps::needs_gradient(op, k, S); };
  const std::size_t capacity = static_cast<std::size_t>((S + 1) * microbatches_);
  std::vector<std::unique_ptr<Channel<Message>>> acts, grads;  // acts[k]: k -> k+1; grads[k]: k+1 -> k
  for (int k = 0; k + 1 < S; ++k) {
    acts.push_back(std::make_unique<Channel<Message>>(capacity));
    grads.push_back(std::make_unique<Channel<Message>>(capacity));
  }
  auto close_all = [&] {
    for (auto& c : acts) c->close();
    for (auto& c : grads) c->close();
  };
  std::mutex error_mu;
  std::optional<PipelineError> error;
  std::atomic<bool> stopped{false};

  auto worker = [&](int k) {
    set_intra_op_threads(threads_);
    const Op* current = nullptr;
    try {
      for (const Op& op : ops[k]) {
        current = &op;
        if (!control.before_op()) {
          stopped = true;
          break;
        }
        std::optional<Message> in;
        if (needs_activation(op, k)) in = acts[k - 1]->pop();
        if (needs_gradient(op, k, S)) in = grads[k]->pop();
        if ((needs_activation(op, k) || needs_gradient(op, k, S)) && !in) break;  // closed: stopping
        if (in) check_message(*in, op, base_, k);
        std::optional<Message> out = stages_[k]->run(op, std::move(in));
        if (out && op.kind == OpKind::Forward && !acts.empty() && k < S - 1 && !acts[k]->push(std::move(*out))) break;
        if (out && op.kind == OpKind::Backward && k > 0 && !grads[k - 1]->push(std::move(*out))) break;
      }
    } catch (const Interrupted&) {
      stopped = true;
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(error_mu);
      if (!error) error = wrap(k, *current, base_, e);
      control.stop();
    }
    if (stopped || control.stopped()) close_all();
  };

  std::vector<std::thread> threads;
  for (int k = 0; k < S; ++k) threads.emplace_back(worker, k);
  for (auto& t : threads) t.join();
  if (error) throw *error;
  return !stopped && !control.stopped();
}

bool Pipeline::run_sequential(const std::vector<StageOps>& ops, RunControl& control) {
  const int S = num_stages();
  auto needs_activation = [this](const Op& op, int k) { return !replicas_ && ps::needs_activation(op, k); };
  auto needs_gradient = [this](const Op& op, int k, int S) { return !replicas_ && ps::needs_gradient(op, k, S); };
  std::vector<std::deque<Message>> acts(S), grads(S);  // inboxes of stage k
  std::vector<std::size_t> pos(S, 0);
  for (;;) {
    bool progressed = false, remaining = false;
    for (int k = 0; k < S; ++k) {
      if (pos[k] >= ops[k].size()) continue;
      remaining = true;
      const Op& op = ops[k][pos[k]];
      std::deque<Message>* inbox = needs_activation(op, k) ? &acts[k] : needs_gradient(op, k, S) ? &grads[k] : nullptr;
      if (inbox && inbox->empty()) continue;
      if (!stages_[k]->ready(op)) continue;
      if (!control.before_op()) return false;
      try {
        std::optional<Message> in;
        if (inbox) {
          in = std::move(inbox->front());
          inbox->pop_front();
          check_message(*in, op, base_, k);
        }
        set_intra_op_threads(threads_);
        std::optional<Message> out = stages_[k]->run(op, std::move(in));
        if (out && op.kind == OpKind::Forward) acts[k + 1].push_back(std::move(*out));
        if (out && op.kind == OpKind::Backward) grads[k - 1].push_back(std::move(*out));
      } catch (const std::exception& e) {
        throw wrap(k, op, base_, e);
      }
      ++pos[k];
      progressed = true;
    }
    if (!remaining) return true;
    if (!progressed) throw std::logic_error("schedule deadlock: no stage can run its next op");
  }
}

at::Tensor Pipeline::infer(const at::Tensor& x) {
  if (replicas_) return stages_[0]->infer(x);  // data parallel: every replica holds the whole model
  at::Tensor h = x;
  for (auto& s : stages_) h = s->infer(h);
  return h;
}

}  // namespace ps
