#include "engine/runtime/pipeline.h"

#include <sched.h>

#include <dlfcn.h>

#include <deque>
#include <mutex>
#include <new>
#include <thread>

#include "engine/runtime/link.h"
#include "engine/util/errors.h"
#include "engine/util/this_thread.h"

namespace ps {
namespace {

void check_message(const Message& m, const Op& op, std::int64_t base, int c) {
  if (m.minibatch != base + op.minibatch || m.micro != op.micro)
    throw std::logic_error("chunk " + std::to_string(c) + " expected a message for " + op_name(op) +
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
                   int microbatches, int group, std::vector<int> device_of)
    : stages_(std::move(stages)),
      kind_(kind),
      threads_(threads_per_stage),
      microbatches_(microbatches),
      group_(group),
      device_of_(std::move(device_of)) {
  const int C = num_stages();
  if (group_ <= 0) group_ = C;
  if (C % group_ != 0)
    throw std::logic_error(std::to_string(C) + " chunks are not whole replicas of " + std::to_string(group_));
  if (device_of_.empty())
    for (int c = 0; c < C; ++c) device_of_.push_back(c);
  if (static_cast<int>(device_of_.size()) != C)
    throw std::logic_error("a placement of " + std::to_string(device_of_.size()) + " chunks for " + std::to_string(C));
  for (int d : device_of_) devices_ = std::max(devices_, d + 1);
  chunks_on_.assign(static_cast<std::size_t>(devices_), {});
  for (int c = 0; c < C; ++c) chunks_on_[static_cast<std::size_t>(device_of_[c])].push_back(c);
  for (int d = 0; d < devices_; ++d)
    if (chunks_on_[d].empty()) throw std::logic_error("device " + std::to_string(d) + " holds no chunk");
  link_counters_ = std::make_unique<LinkCounters[]>(static_cast<std::size_t>(C));
  device_activation_max_ = std::make_unique<std::atomic<std::int64_t>[]>(static_cast<std::size_t>(devices_));
  for (int d = 0; d < devices_; ++d) device_activation_max_[static_cast<std::size_t>(d)].store(0);
  // Each chunk hands its messages to its backend for the copy to the neighbour's device (device_backend.h).
  auto backend = [&](int c) { return c >= 0 && c < C && stages_[c] ? &stages_[c]->backend() : nullptr; };
  for (int c = 0; c < C; ++c)
    if (stages_[c])
      stages_[c]->connect(first_of_group(c) ? nullptr : backend(c - 1), last_of_group(c) ? nullptr : backend(c + 1));
}

LinkFigures Pipeline::link_figures(int chunk) const {
  const LinkCounters& c = link_counters_[static_cast<std::size_t>(chunk)];
  return {c.wait_ns.load(std::memory_order_relaxed), c.bytes_sent.load(std::memory_order_relaxed),
          c.messages_sent.load(std::memory_order_relaxed)};
}

void Pipeline::count_sent(int chunk, const Message& m) {
  std::int64_t bytes = 0;
  for (const auto& t : m.tensors)
    if (t.defined()) bytes += static_cast<std::int64_t>(t.numel()) * static_cast<std::int64_t>(t.element_size());
  LinkCounters& c = link_counters_[static_cast<std::size_t>(chunk)];
  c.bytes_sent.fetch_add(bytes, std::memory_order_relaxed);
  c.messages_sent.fetch_add(1, std::memory_order_relaxed);
}

Pipeline::~Pipeline() = default;

bool Pipeline::needs_activation(const Op& op, int c) const { return op.kind == OpKind::Forward && !first_of_group(c); }
bool Pipeline::needs_gradient(const Op& op, int c) const { return sends_gradient(op.kind) && !last_of_group(c); }

std::int64_t Pipeline::device_activation_bytes_max(int device) const {
  std::int64_t peak = device_activation_max_[static_cast<std::size_t>(device)].load(std::memory_order_relaxed);
  for (int c : chunks_on_[static_cast<std::size_t>(device)])
    if (stages_[c]) peak = std::max(peak, stages_[c]->activation_bytes_max());
  return peak;
}

std::optional<Message> Pipeline::run_op(int d, const Op& op, std::optional<Message> in) {
  std::optional<Message> out;
  if (op.kind != OpKind::Update) {
    out = stages_[chunk_of(op, d)]->run(op, std::move(in));
  } else {
    for (int c : chunks_on_[d]) stages_[c]->run(op, std::nullopt);  // one update per device: all its chunks
  }
  std::int64_t held = 0;
  for (int c : chunks_on_[d])
    if (stages_[c]) held += stages_[c]->activation_bytes();
  auto& peak = device_activation_max_[static_cast<std::size_t>(d)];
  if (held > peak.load(std::memory_order_relaxed)) peak.store(held, std::memory_order_relaxed);
  return out;
}

bool Pipeline::run(const std::vector<StageOps>& ops, std::int64_t base, RunControl& control,
                   std::chrono::steady_clock::time_point origin, PipelineCut* cut) {
  base_ = base;
  const int C = num_stages(), D = num_devices();
  if (static_cast<int>(ops.size()) != D)
    throw std::logic_error("op lists for " + std::to_string(ops.size()) + " devices, the pipeline has " + std::to_string(D));
  for (int c = 0; c < C; ++c) {
    // Each chunk sees the ops of its own device that concern it (Updates concern all of them).
    StageOps mine;
    const int d = device_of(c);
    for (const Op& op : ops[d])
      if (op.kind == OpKind::Update || chunk_of(op, d) == c) mine.push_back(op);
    stages_[c]->begin_segment(mine, base, origin);
    stages_[c]->set_interrupt_check([&control] { return control.stopped(); });
  }
  PipelineCut local;
  PipelineCut& at = cut ? *cut : local;
  if (at.empty()) {
    at.next.assign(D, 0);
    at.acts.assign(C, {});
    at.grads.assign(C, {});
  }
  if (static_cast<int>(at.next.size()) != D || static_cast<int>(at.acts.size()) != C ||
      static_cast<int>(at.grads.size()) != C)
    throw std::logic_error("a pipeline cut of " + std::to_string(at.next.size()) + " devices and " +
                           std::to_string(at.acts.size()) + " chunks for " + std::to_string(D) + " devices and " +
                           std::to_string(C) + " chunks");
  for (int d = 0; d < D; ++d)
    if (at.next[d] > ops[d].size()) throw std::logic_error("a pipeline cut beyond the end of device " + std::to_string(d));
  auto finish = [&] {
    for (auto& s : stages_) s->finish_segment();
  };
  try {
    const bool done = kind_ == ExecutorKind::Sequential ? run_sequential(ops, control, at) : run_threaded(ops, control, at);
    finish();
    if (done) at.clear();
    return done;
  } catch (...) {
    finish();
    throw;
  }
}

bool Pipeline::run_threaded(const std::vector<StageOps>& ops, RunControl& control, PipelineCut& cut) {
  const int C = num_stages(), D = num_devices();
  std::size_t capacity = static_cast<std::size_t>((C + 1) * microbatches_);
  for (int c = 0; c < C; ++c) capacity = std::max({capacity, cut.acts[c].size() + 1, cut.grads[c].size() + 1});
  // A worker waiting on a channel spins first when every worker (with its intra-op threads) has cores of
  // its own (ChannelLink). README, "The link's cost": the tiny preset 32 to 66% faster; the balanced MLP
  // 1 to 2% slower (the spin won 4 of 16 pairs); spinning with 4 workers on 2 cores had cost the default
  // preset 2%.
  const auto spin = D * std::max(1, threads_) <= static_cast<int>(allowed_cores().size()) ? kThreadsSpin : std::chrono::microseconds(0);
  // acts[c]: chunk c -> c+1; grads[c]: c+1 -> c. Filled with what the cut holds in transit.
  std::vector<std::unique_ptr<Link>> acts, grads;
  for (int c = 0; c + 1 < C; ++c) {
    if (last_of_group(c)) {  // between two replicas: nothing flows
      acts.push_back(nullptr);
      grads.push_back(nullptr);
      continue;
    }
    const bool here = runs_here(device_of(c)), next_here = runs_here(device_of(c + 1));
    if (!here && !next_here) {  // processes: between two other ranks
      acts.push_back(nullptr);
      grads.push_back(nullptr);
      continue;
    }
    if (here != next_here) {  // processes: to or from another rank; each side holds its inbox's cut
      acts.push_back(rank_.remote_link(c, c + 1, control));
      grads.push_back(rank_.remote_link(c + 1, c, control));
      if (next_here)
        for (auto& m : cut.acts[c + 1]) acts[c]->preload(std::move(m));
      if (here)
        for (auto& m : cut.grads[c]) grads[c]->preload(std::move(m));
      continue;
    }
    if (device_of(c) == device_of(c + 1)) {
      acts.push_back(std::make_unique<LocalLink>("the activation of chunk " + std::to_string(c)));
      grads.push_back(std::make_unique<LocalLink>("the gradient of chunk " + std::to_string(c + 1)));
    } else {
      acts.push_back(std::make_unique<ChannelLink>(capacity, spin));
      grads.push_back(std::make_unique<ChannelLink>(capacity, spin));
    }
    for (auto& m : cut.acts[c + 1]) acts[c]->preload(std::move(m));
    for (auto& m : cut.grads[c]) grads[c]->preload(std::move(m));
  }
  auto close_all = [&] {
    for (auto& l : acts)
      if (l) l->close();
    for (auto& l : grads)
      if (l) l->close();
  };
  std::mutex error_mu;
  std::optional<PipelineError> error;
  std::atomic<bool> stopped{false};
  std::vector<std::size_t> next = cut.next;
  // A message a stopping worker could not send (its link closed): kept for the cut, after the link's
  // own contents. unsent_act[c] goes to chunk c+1, unsent_grad[c] to chunk c-1.
  std::vector<std::optional<Message>> unsent_act(C), unsent_grad(C);
  // A message a stopping worker had received but not used: the oldest of its chunk's inbox.
  std::vector<std::optional<Message>> unreceived(D);

  auto worker = [&](int d) {
    name_this_thread("ps-device" + std::to_string(d));
    if (static_cast<std::size_t>(d) < cores_.size() && !cores_[static_cast<std::size_t>(d)].empty()) {
      cpu_set_t set;
      CPU_ZERO(&set);
      for (int core : cores_[static_cast<std::size_t>(d)]) CPU_SET(core, &set);
      sched_setaffinity(0, sizeof set, &set);  // this thread; the intra-op threads it starts inherit it
    }
    set_intra_op_threads(threads_);
    std::size_t i = next[d];
    int c = d;
    try {
      for (; i < ops[d].size(); ++i) {
        const Op& op = ops[d][i];
        c = chunk_of(op, d);
        // The input first, then the permission to run: a paused device waiting for its input does not
        // take the credit of a single step that another device could use.
        Link* from = needs_activation(op, c) ? acts[c - 1].get() : needs_gradient(op, c) ? grads[c].get() : nullptr;
        std::optional<Message> in;
        if (from) {
          const auto waited = std::chrono::steady_clock::now();
          in = from->pop();
          if (!in) break;  // closed: stopping
          if (from_other_device(op, c))
            link_counters_[static_cast<std::size_t>(c)].wait_ns.fetch_add(
                std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - waited).count(),
                std::memory_order_relaxed);
        }
        if (!control.before_op()) {
          stopped = true;
          if (in) unreceived[d] = std::move(in);  // back into the cut, before what is still queued
          break;
        }
        if (in) check_message(*in, op, base_, c);
        std::optional<Message> out = run_op(d, op, std::move(in));
        if (out && op.kind == OpKind::Forward && !last_of_group(c) && device_of(c + 1) != d) count_sent(c, *out);
        if (out && sends_gradient(op.kind) && !first_of_group(c) && device_of(c - 1) != d) count_sent(c, *out);
        if (out && op.kind == OpKind::Forward && !last_of_group(c) && !acts[c]->push(std::move(*out))) {
          unsent_act[c] = std::move(out);
          ++i;  // the op itself is done
          break;
        }
        if (out && sends_gradient(op.kind) && !first_of_group(c) && !grads[c - 1]->push(std::move(*out))) {
          unsent_grad[c] = std::move(out);
          ++i;
          break;
        }
      }
    } catch (const Interrupted&) {
      stopped = true;  // the op changed nothing: it runs again from the cut
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(error_mu);
      if (!error) error = wrap(c, ops[d][std::min(i, ops[d].size() - 1)], base_, e);
      control.stop();
    }
    next[d] = i;
    if (stopped || control.stopped()) close_all();
  };

  std::vector<std::thread> threads;
  for (int d = 0; d < D; ++d)
    if (runs_here(d)) threads.emplace_back(worker, d);
  for (auto& t : threads) t.join();
  if (error) throw *error;
  const bool done = !stopped && !control.stopped();
  if (!done) {
    cut.next = next;
    for (int c = 0; c < C; ++c) {
      cut.acts[c].clear();
      cut.grads[c].clear();
    }
    for (int c = 0; c < static_cast<int>(acts.size()); ++c) {
      if (!acts[c]) continue;
      cut.acts[c + 1] = acts[c]->take_all();
      if (unsent_act[c]) cut.acts[c + 1].push_back(std::move(*unsent_act[c]));
      cut.grads[c] = grads[c]->take_all();
      if (unsent_grad[c + 1]) cut.grads[c].push_back(std::move(*unsent_grad[c + 1]));
    }
    for (int d = 0; d < D; ++d) {
      if (!unreceived[d] || next[d] >= ops[d].size()) continue;
      const Op& op = ops[d][next[d]];
      const int c = chunk_of(op, d);
      (op.kind == OpKind::Forward ? cut.acts[c] : cut.grads[c]).push_front(std::move(*unreceived[d]));
    }
  }
  return done;
}

bool Pipeline::run_sequential(const std::vector<StageOps>& ops, RunControl& control, PipelineCut& cut) {
  const int D = num_devices();
  // The cut is the sequential executor's own state: each device's position and each chunk's inboxes.
  std::vector<std::deque<Message>>& acts = cut.acts;
  std::vector<std::deque<Message>>& grads = cut.grads;
  std::vector<std::size_t>& pos = cut.next;
  for (;;) {
    bool progressed = false, remaining = false;
    for (int d = 0; d < D; ++d) {
      if (pos[d] >= ops[d].size()) continue;
      remaining = true;
      const Op& op = ops[d][pos[d]];
      const int c = chunk_of(op, d);
      std::deque<Message>* inbox = needs_activation(op, c) ? &acts[c] : needs_gradient(op, c) ? &grads[c] : nullptr;
      if (inbox && inbox->empty()) continue;
      bool ready = true;
      if (op.kind == OpKind::Update)
        for (int k : chunks_on_[d]) ready = ready && stages_[k]->ready(op);
      if (!ready) continue;
      if (!control.before_op()) return false;
      try {
        std::optional<Message> in;
        if (inbox) {
          check_message(inbox->front(), op, base_, c);
          in = std::move(inbox->front());
          inbox->pop_front();
        }
        set_intra_op_threads(threads_);
        std::optional<Message> out = run_op(d, op, std::move(in));
        if (out && op.kind == OpKind::Forward) acts[c + 1].push_back(std::move(*out));
        if (out && sends_gradient(op.kind)) grads[c - 1].push_back(std::move(*out));
      } catch (const Interrupted&) {
        return false;
      } catch (const std::exception& e) {
        throw wrap(c, op, base_, e);
      }
      ++pos[d];
      progressed = true;
    }
    if (!remaining) return true;
    if (!progressed) throw std::logic_error("schedule deadlock: no device can run its next op");
  }
}

at::Tensor Pipeline::infer(const at::Tensor& x) {
  // Replicas hold the same weights: the first replica's pipeline evaluates.
  at::Tensor h = x;
  for (int c = 0; c < group_; ++c) h = stages_[c]->infer(h);
  return h;
}

}  // namespace ps
