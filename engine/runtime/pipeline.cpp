#include "engine/runtime/pipeline.h"

#include <dlfcn.h>

#include <deque>
#include <mutex>
#include <new>
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
  if (dynamic_cast<const std::bad_alloc*>(&e))
    return PipelineError(k, op_name(op), static_cast<int>(base + op.minibatch),
                         std::string("out of memory (") + e.what() + "): try fewer microbatches in flight, a smaller "
                         "batch, or a strategy that keeps fewer weight copies");
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
                   std::chrono::steady_clock::time_point origin, PipelineCut* cut) {
  base_ = base;
  const int S = num_stages();
  for (int k = 0; k < S; ++k) {
    stages_[k]->begin_segment(ops[k], base, origin);
    stages_[k]->set_interrupt_check([&control] { return control.stopped(); });
  }
  PipelineCut local;
  PipelineCut& at = cut ? *cut : local;
  if (at.empty()) {
    at.next.assign(S, 0);
    at.acts.assign(S, {});
    at.grads.assign(S, {});
  }
  if (static_cast<int>(at.next.size()) != S || static_cast<int>(at.acts.size()) != S ||
      static_cast<int>(at.grads.size()) != S)
    throw std::logic_error("a pipeline cut of " + std::to_string(at.next.size()) + " stages for " +
                           std::to_string(S) + " stages");
  for (int k = 0; k < S; ++k)
    if (at.next[k] > ops[k].size()) throw std::logic_error("a pipeline cut beyond the end of stage " + std::to_string(k));
  auto finish = [&] {
    for (auto& s : stages_) s->finish_segment();
  };
  try {
    const bool done = kind_ == ExecutorKind::Threaded ? run_threaded(ops, control, at) : run_sequential(ops, control, at);
    finish();
    if (done) at.clear();
    return done;
  } catch (...) {
    finish();
    throw;
  }
}

bool Pipeline::run_threaded(const std::vector<StageOps>& ops, RunControl& control, PipelineCut& cut) {
  const int S = num_stages();
  auto needs_activation = [this](const Op& op, int k) { return !replicas_ && ps::needs_activation(op, k); };
  auto needs_gradient = [this](const Op& op, int k, int S) { return !replicas_ && ps::needs_gradient(op, k, S); };
  std::size_t capacity = static_cast<std::size_t>((S + 1) * microbatches_);
  for (int k = 0; k < S; ++k) capacity = std::max({capacity, cut.acts[k].size() + 1, cut.grads[k].size() + 1});
  // acts[k]: k -> k+1; grads[k]: k+1 -> k. Filled with what the cut holds in transit.
  std::vector<std::unique_ptr<Channel<Message>>> acts, grads;
  for (int k = 0; k + 1 < S; ++k) {
    acts.push_back(std::make_unique<Channel<Message>>(capacity));
    grads.push_back(std::make_unique<Channel<Message>>(capacity));
    for (auto& m : cut.acts[k + 1]) acts[k]->push(std::move(m));
    for (auto& m : cut.grads[k]) grads[k]->push(std::move(m));
  }
  auto close_all = [&] {
    for (auto& c : acts) c->close();
    for (auto& c : grads) c->close();
  };
  std::mutex error_mu;
  std::optional<PipelineError> error;
  std::atomic<bool> stopped{false};
  std::vector<std::size_t> next = cut.next;
  // A message a stopping worker could not send (its channel closed): kept for the cut, after the
  // channel's own contents. unsent_act[k] goes to stage k+1, unsent_grad[k] to stage k-1.
  std::vector<std::optional<Message>> unsent_act(S), unsent_grad(S);
  // A message a stopping worker had received but not used: the oldest of its inbox.
  std::vector<std::optional<Message>> unreceived(S);

  auto worker = [&](int k) {
    set_intra_op_threads(threads_);
    std::size_t i = next[k];
    try {
      for (; i < ops[k].size(); ++i) {
        const Op& op = ops[k][i];
        // The input first, then the permission to run: a paused stage waiting for its input does not
        // take the credit of a single step that another stage could use.
        std::optional<Message> in;
        if (needs_activation(op, k)) in = acts[k - 1]->pop();
        if (needs_gradient(op, k, S)) in = grads[k]->pop();
        if ((needs_activation(op, k) || needs_gradient(op, k, S)) && !in) break;  // closed: stopping
        if (!control.before_op()) {
          stopped = true;
          if (in) unreceived[k] = std::move(in);  // back into the cut, before what is still queued
          break;
        }
        if (in) check_message(*in, op, base_, k);
        std::optional<Message> out = stages_[k]->run(op, std::move(in));
        if (out && op.kind == OpKind::Forward && !acts.empty() && k < S - 1 && !acts[k]->push(std::move(*out))) {
          unsent_act[k] = std::move(out);
          ++i;  // the op itself is done
          break;
        }
        if (out && op.kind == OpKind::Backward && k > 0 && !grads[k - 1]->push(std::move(*out))) {
          unsent_grad[k] = std::move(out);
          ++i;
          break;
        }
      }
    } catch (const Interrupted&) {
      stopped = true;  // the op changed nothing: it runs again from the cut
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(error_mu);
      if (!error) error = wrap(k, ops[k][std::min(i, ops[k].size() - 1)], base_, e);
      control.stop();
    }
    next[k] = i;
    if (stopped || control.stopped()) close_all();
  };

  std::vector<std::thread> threads;
  for (int k = 0; k < S; ++k) threads.emplace_back(worker, k);
  for (auto& t : threads) t.join();
  if (error) throw *error;
  const bool done = !stopped && !control.stopped();
  if (!done) {
    cut.next = next;
    for (int k = 0; k < S; ++k) {
      cut.acts[k].clear();
      cut.grads[k].clear();
    }
    for (int k = 0; k + 1 < S; ++k) {
      cut.acts[k + 1] = acts[k]->take_all();
      if (unsent_act[k]) cut.acts[k + 1].push_back(std::move(*unsent_act[k]));
      cut.grads[k] = grads[k]->take_all();
      if (unsent_grad[k + 1]) cut.grads[k].push_back(std::move(*unsent_grad[k + 1]));
    }
    for (int k = 0; k < S; ++k) {
      if (!unreceived[k] || next[k] >= ops[k].size()) continue;
      const Op& op = ops[k][next[k]];
      (op.kind == OpKind::Forward ? cut.acts[k] : cut.grads[k]).push_front(std::move(*unreceived[k]));
    }
  }
  return done;
}

bool Pipeline::run_sequential(const std::vector<StageOps>& ops, RunControl& control, PipelineCut& cut) {
  const int S = num_stages();
  auto needs_activation = [this](const Op& op, int k) { return !replicas_ && ps::needs_activation(op, k); };
  auto needs_gradient = [this](const Op& op, int k, int S) { return !replicas_ && ps::needs_gradient(op, k, S); };
  // The cut is the sequential executor's own state: each stage's position and inboxes.
  std::vector<std::deque<Message>>& acts = cut.acts;
  std::vector<std::deque<Message>>& grads = cut.grads;
  std::vector<std::size_t>& pos = cut.next;
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
          check_message(inbox->front(), op, base_, k);
          in = std::move(inbox->front());
          inbox->pop_front();
        }
        set_intra_op_threads(threads_);
        std::optional<Message> out = stages_[k]->run(op, std::move(in));
        if (out && op.kind == OpKind::Forward) acts[k + 1].push_back(std::move(*out));
        if (out && op.kind == OpKind::Backward) grads[k - 1].push_back(std::move(*out));
      } catch (const Interrupted&) {
        return false;
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
