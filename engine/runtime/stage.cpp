#include "engine/runtime/stage.h"

#include <cmath>

#include "engine/runtime/weight_grads.h"
#include "engine/session/checkpoint.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

std::int64_t bytes_of(const at::Tensor& t) {
  return t.defined() ? t.numel() * static_cast<std::int64_t>(t.element_size()) : 0;
}

std::int64_t now_ns(std::chrono::steady_clock::time_point origin) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - origin).count();
}

at::Tensor flat_copy(const std::vector<at::Tensor>& params) {
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> parts;
  parts.reserve(params.size());
  for (const auto& p : params) parts.push_back(p.detach().reshape(-1));
  return torch::cat(parts).to(torch::kDouble);
}

// Prediction gain is defined for predictions (STRATEGIES.md section 1): computed weights that look
// s > 0 updates ahead. PipeMare's correction (s < 0) and I-TiMePReSt's interpolation (s = 0) are not.
bool is_prediction(const WeightChoice& choice) {
  return choice.source == WeightSource::Computed && choice.prediction_distance > 0;
}

}  // namespace

StageRuntime::StageRuntime(StageSetup setup) : setup_(std::move(setup)), optimizer_(setup_.optimizer) {
  if (setup_.group <= 0) setup_.group = setup_.replica >= 0 ? 1 : setup_.num_stages;
  if (setup_.num_stages % setup_.group != 0)
    throw std::logic_error("stage " + std::to_string(setup_.index) + ": " + std::to_string(setup_.num_stages) +
                           " chunks are not whole pipelines of " + std::to_string(setup_.group));
  if (!setup_.backend) setup_.backend = make_device_backend(setup_.device);
  if (setup_.backend->device() != setup_.device && !(setup_.device.is_cuda() && !setup_.device.has_index() &&
                                                     setup_.backend->device().is_cuda()))
    throw std::logic_error("stage " + std::to_string(setup_.index) + " on " + setup_.device.str() + " with a backend on " +
                           setup_.backend->device().str());
  setup_.device = setup_.backend->device();  // "cuda" resolved to its index
  // Moved through the default stream; begin_segment() waits for the device before the first op.
  setup_.module->to(setup_.device);
  live_ = std::make_shared<WeightSet>();
  live_->module = setup_.module;
  live_->params = setup_.module->parameters();
  for (const auto& p : live_->params) {
    param_bytes_ += bytes_of(p);
    param_count_ += p.numel();
  }
  grad_acc_.assign(live_->params.size(), at::Tensor());
  bytes_max_ = param_bytes_;
  unit_param_begin_.push_back(0);
  for (const auto& unit : *setup_.module) unit_param_begin_.push_back(unit_param_begin_.back() + unit.ptr()->parameters().size());
  if (unit_param_begin_.back() != live_->params.size())
    throw std::logic_error("stage " + std::to_string(setup_.index) + ": its units' parameters are not its own");
}

StageView StageRuntime::view() const {
  StageView v;
  v.stage = position();  // strategies see the chunk's place in its own replica's pipeline
  v.num_stages = setup_.group;
  v.live = &live_->params;
  v.live_version = live_->version;
  v.optimizer = &optimizer_;
  v.lr = scheduled_lr(setup_.optimizer, setup_.lr_schedule, live_->version, setup_.total_steps);
  return v;
}

double StageRuntime::lr_for_next_update() const {
  StageView v = view();
  return v.lr * setup_.strategy->lr_scale(v);
}

int StageRuntime::weight_copies() const { return 1 + static_cast<int>(held_.size()); }

void StageRuntime::note_memory() {
  copies_max_ = std::max(copies_max_, weight_copies());
  bytes_max_ = std::max(bytes_max_, weight_copies() * param_bytes_ + setup_.strategy->extra_bytes());
  activation_bytes_max_ = std::max(activation_bytes_max_, activation_bytes_);
}

std::shared_ptr<WeightSet> StageRuntime::acquire_copy() {
  std::shared_ptr<WeightSet> ws;
  if (!spare_.empty()) {
    ws = spare_.back();
    spare_.pop_back();
  } else {
    ws = std::make_shared<WeightSet>();
    ws->module = setup_.make_replica();
    ws->module->to(setup_.device);
    ws->params = ws->module->parameters();
  }
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < ws->params.size(); ++i) ws->params[i].copy_(live_->params[i]);
  ws->version = live_->version;
  ws->graphs = 0;
  ws->superseded = false;
  return ws;
}

void StageRuntime::release(std::shared_ptr<WeightSet> ws) {
  if (ws == live_ || ws->graphs > 0) return;
  if (ws->superseded && setup_.strategy->keeps_version(ws->version)) return;  // a later op reads it
  held_.erase(std::remove(held_.begin(), held_.end(), ws), held_.end());
  if (spare_.size() < 2) spare_.push_back(std::move(ws));
}

// WeightSource::Version: the live weights, or a former live version the stage still holds.
std::shared_ptr<WeightSet> StageRuntime::version_for(const WeightChoice& choice) {
  if (choice.basis_version == live_->version) return live_;
  for (const auto& ws : held_)
    if (ws->superseded && ws->version == choice.basis_version) return ws;
  throw std::logic_error("stage " + std::to_string(setup_.index) + " no longer holds weight version " +
                         std::to_string(choice.basis_version) + " (live " + std::to_string(live_->version) + ")");
}

// Former live versions that no graph references and the strategy no longer wants.
void StageRuntime::drop_unneeded_versions() {
  const std::vector<std::shared_ptr<WeightSet>> held = held_;
  for (const auto& ws : held)
    if (ws->superseded) release(ws);
}

void StageRuntime::connect(DeviceBackend* previous, DeviceBackend* next) {
  previous_ = previous;
  next_ = next;
}

void StageRuntime::begin_segment(const StageOps& ops, std::int64_t base, std::chrono::steady_clock::time_point origin) {
  base_ = base;
  origin_ = origin;
  setup_.backend->begin_segment(origin);
  update_between_.clear();
  std::map<int, std::size_t> first_forward;
  for (std::size_t n = 0; n < ops.size(); ++n) {
    const Op& op = ops[n];
    if (op.kind == OpKind::Forward) first_forward.emplace(op.minibatch, n);
    if (!sends_gradient(op.kind)) continue;
    auto it = first_forward.find(op.minibatch);
    if (it == first_forward.end()) continue;
    for (std::size_t u = it->second; u < n; ++u)
      if (ops[u].kind == OpKind::Update) {
        update_between_.insert(base + op.minibatch);
        break;
      }
  }
}

std::optional<Message> StageRuntime::run(const Op& op, std::optional<Message> in) {
  OpEvent ev;
  ev.stage = setup_.index;
  ev.device = setup_.device_index;
  ev.kind = op.kind;
  ev.minibatch = static_cast<int>(base_ + op.minibatch);
  ev.micro = op.micro;
  ev.target_version = base_ + op.minibatch;
  ev.live_version = live_->version;
  ev.basis_version = live_->version;
  // The op runs on the stage's stream (CUDA) while `mark` lives; its times are the device's.
  DeviceOpMark mark = setup_.backend->before_op();
  ev.t_start_ns = mark.host_start_ns;
  std::optional<Message> out;
  last_used_.reset();
  last_computed_ = false;
  switch (op.kind) {
    case OpKind::Forward: out = forward(op, std::move(in), ev); break;
    case OpKind::Backward: out = backward(op, std::move(in), ev); break;
    case OpKind::Update: update(op, ev); break;
    case OpKind::InputGrad: out = input_grad(op, std::move(in), ev); break;
    case OpKind::WeightGrad: weight_grad(op, ev); break;
  }
  drop_unneeded_versions();
  note_memory();
  const DeviceInterval span = setup_.backend->after_op(mark);
  ev.t_start_ns = span.start_ns;
  ev.t_end_ns = span.end_ns;
  note_device_memory();
  if (out) {
    out->sent_ns = ev.t_end_ns;
    send(*out, op.kind != OpKind::Forward);
  }
  ev.weight_copies = weight_copies();
  ev.weight_bytes = weight_copies() * param_bytes_ + setup_.strategy->extra_bytes();
  busy_ns_ += ev.t_end_ns - ev.t_start_ns;
  if (!setup_.on_op) return out;
  const bool sampled = setup_.divergence_every > 0 && ev.minibatch % setup_.divergence_every == 0;
  if (op.kind == OpKind::Update) {
    emit(ev);
    resolve_divergence();
  } else if (sampled && last_used_) {
    measure_divergence(ev, *last_used_, last_computed_);
  } else {
    emit(ev);
  }
  last_used_.reset();
  return out;
}

bool StageRuntime::ready(const Op& op) const {
  if (setup_.replica < 0 || op.kind != OpKind::Update || setup_.collective) return true;
  return setup_.all_reduce->complete(base_ + op.minibatch);
}

void StageRuntime::emit(const OpEvent& ev) {
  if (setup_.on_op) setup_.on_op(ev);
}

// Right after the op that made `m` (its stream's work queued): the backend starts the copy to the
// receiving chunk's device (CUDA: on the link's copy stream, ordered by events; CPU: nothing to do).
// Link ids: 2c for the activations of chunk c -> c+1, 2c+1 for the gradients of chunk c+1 -> c.
void StageRuntime::send(Message& m, bool gradient) {
  DeviceBackend* to = gradient ? previous_ : next_;
  if (!to) return;
  const int link = gradient ? 2 * (setup_.index - 1) + 1 : 2 * setup_.index;
  m.transfer = setup_.backend->send(m.tensors, *to, link);
}

void StageRuntime::note_device_memory() {
  if (!setup_.backend->is_cuda()) return;
  const DeviceMemory now = setup_.backend->memory();
  device_memory_.tracked = now.tracked;
  device_memory_.allocated = now.allocated;
  device_memory_.reserved = now.reserved;
  device_memory_.allocated_peak = std::max(device_memory_.allocated_peak, now.allocated_peak);
  device_memory_.reserved_peak = std::max(device_memory_.reserved_peak, now.reserved_peak);
  device_memory_.stages_on_device = now.stages_on_device;
}

// A message's transfer: from the moment its sender finished the op that made it to the moment it is on
// this stage's device (time in the channel, then the device copy; zero-copy between CPU stages). Where
// the device copied it (between GPUs), the copy's own interval on the device.
void StageRuntime::received(Message& m, bool gradient) {
  const DeviceInterval copy = setup_.backend->receive(m.tensors, m.transfer);
  m.transfer.reset();
  if (!setup_.on_transfer) return;
  TransferEvent t;
  t.from_stage = gradient ? setup_.index + 1 : setup_.index - 1;
  t.to_stage = setup_.index;
  t.gradient = gradient;
  t.minibatch = m.minibatch;
  t.micro = m.micro;
  t.t_start_ns = m.sent_ns;
  t.t_end_ns = std::max(m.sent_ns, now_ns(origin_));
  if (copy.start_ns >= 0) {
    t.t_start_ns = copy.start_ns;
    t.t_end_ns = std::max(copy.start_ns, copy.end_ns);
  }
  for (const auto& tensor : m.tensors) t.bytes += bytes_of(tensor);
  setup_.on_transfer(t);
}

// Divergence of an op: ||W_used - W_target|| / ||W_target|| with W_target the live weights of version
// target(i). When that version already exists (it is the live one) it is measured at once; otherwise
// the op waits, with a copy of what it read, for the update that creates it (at most S-1 updates).
void StageRuntime::measure_divergence(OpEvent& ev, const WeightSet& used, bool computed) {
  if (ev.target_version == live_->version) {
    if (&used == live_.get()) {
      ev.divergence = 0;
    } else {
      const at::Tensor u = flat_copy(used.params), t = flat_copy(live_->params);
      const double d = (u - t).norm().item<double>(), tn = t.norm().item<double>();
      ev.divergence = tn > 0 ? d / tn : 0;
      if (computed) ev.prediction_gain = d > 0 ? 0.0 : -1;  // live is the target: doing nothing was exact
    }
    emit(ev);
    return;
  }
  if (ev.target_version < live_->version) {  // a version already gone: not measurable without a copy
    emit(ev);
    return;
  }
  pending_.push_back({ev, flat_copy(used.params), computed ? flat_copy(live_->params) : at::Tensor()});
}

void StageRuntime::resolve_divergence() {
  at::Tensor target;
  double target_norm = 0;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->event.target_version != live_->version) {
      ++it;
      continue;
    }
    if (!target.defined()) {
      target = flat_copy(live_->params);
      target_norm = target.norm().item<double>();
    }
    const double d = (it->used - target).norm().item<double>();
    it->event.divergence = target_norm > 0 ? d / target_norm : 0;
    if (it->live.defined()) {
      const double g = (it->live - target).norm().item<double>();
      it->event.prediction_gain = d > 0 ? g / d : -1;
    }
    emit(it->event);
    it = pending_.erase(it);
  }
}

void StageRuntime::finish_segment() {
  for (const auto& p : pending_) emit(p.event);
  pending_.clear();
  // Evaluation, checkpoints and the digest read the weights from other streams (or the host).
  setup_.backend->synchronize();
}

at::Tensor StageRuntime::loss_of(const at::Tensor& logits, const InFlight& rec) const {
  return torch::nn::functional::cross_entropy(logits, rec.labels) * rec.scale;
}

std::optional<Message> StageRuntime::forward(const Op& op, std::optional<Message> in, OpEvent& ev) {
  const std::int64_t mb = base_ + op.minibatch;
  InFlight rec;
  at::Tensor x;
  Batch batch;
  const int replica = std::max(0, setup_.replica);
  if (first() || last()) batch = setup_.batches->get(mb, op.micro, setup_.microbatches, replica, setup_.replicas);
  std::int64_t origin = -1;
  if (first()) {
    x = setup_.backend->input(batch.inputs);  // CUDA: through pinned memory, on the stage's stream
  } else {
    if (!in || in->tensors.empty()) throw std::logic_error("forward without an input activation");
    received(*in, false);
    x = in->tensors.front().to(setup_.device);
    origin = in->origin_version;
  }
  if (last()) {
    rec.labels = setup_.backend->input(batch.labels);
    rec.scale = double(batch.labels.size(0)) / double(setup_.batches->batch_size());
  }

  StageView v = view();
  v.origin_version = origin;
  const WeightChoice choice = setup_.strategy->forward(v, mb, mb);
  const bool reuse = setup_.strategy->backward_reuses_forward() ||
                     (choice.source == WeightSource::Live && setup_.strategy->backward_reads_live() &&
                      update_between_.count(mb) == 0);
  std::shared_ptr<WeightSet> ws = live_;
  if (choice.source == WeightSource::Computed) {
    ws = acquire_copy();
    setup_.strategy->fill(v, choice, ws->params);
    held_.push_back(ws);  // counted while it exists
    note_memory();
  } else if (choice.source == WeightSource::Version) {
    ws = version_for(choice);
  }
  rec.basis = choice.basis_version >= 0 ? choice.basis_version : live_->version;
  ev.basis_version = rec.basis;
  ev.prediction_distance = choice.prediction_distance;

  at::Tensor y;
  if (reuse) {
    rec.input = x.detach();
    if (!first() && rec.input.is_floating_point()) rec.input.requires_grad_(true);
    y = setup_.split_backward ? forward_units(*ws, rec.input, &rec.unit_outputs) : ws->module->forward(rec.input);
    rec.weights = ws;
    ++ws->graphs;
  } else {
    torch::NoGradGuard no_grad;
    rec.input = x.detach();
    y = ws->module->forward(rec.input);
    if (setup_.strategy->backward_needs_forward_weights()) {
      rec.pinned = ws;  // kept (copy-on-write protects it from updates) until the backward
      ++ws->graphs;
    } else if (ws != live_) {
      release(ws);
    }
  }
  last_used_ = ws;
  last_computed_ = is_prediction(choice);

  std::optional<Message> out;
  if (last()) {
    at::Tensor loss = loss_of(y, rec);
    const double loss_value = loss.item<double>();
    if (!std::isfinite(loss_value))
      throw PipelineError(setup_.index, op_name(op), static_cast<int>(mb),
                          "step " + std::to_string(mb + 1) + ": the loss is not finite (diverged)");
    ev.loss = loss_value / rec.scale;
    auto& r = results_[mb];
    r.minibatch = mb;
    r.loss += loss_value;
    r.correct += (y.detach().argmax(1) == rec.labels).sum().item<std::int64_t>();
    r.count += rec.labels.size(0);
    auto [row_begin, row_end] = BatchSource::share_rows(setup_.batches->batch_size(), replica, setup_.replicas, -1, 1);
    if (r.count >= row_end - row_begin) {
      if (setup_.on_minibatch) setup_.on_minibatch(r);
      results_.erase(mb);
    }
    if (reuse) rec.output = loss;
  } else {
    out = Message{static_cast<int>(mb), op.micro, {y.detach()}, first() ? rec.basis : origin};
    if (reuse) rec.output = y;
  }
  rec.counted_bytes = bytes_of(rec.input) + (rec.weights ? bytes_of(y) : 0);
  activation_bytes_ += rec.counted_bytes;
  in_flight_.emplace(Key{mb, op.micro}, std::move(rec));
  return out;
}

at::Tensor StageRuntime::backward_one(InFlight& rec, const at::Tensor& grad_out, OpEvent& ev, std::int64_t mb) {
  std::vector<at::Tensor> inputs;
  std::shared_ptr<WeightSet> ws = rec.weights;
  at::Tensor output = rec.output;
  at::Tensor input = rec.input;
  if (ws) {
    ev.basis_version = rec.basis;
    if (!output.defined()) {
      // Restored from a checkpoint: the forward's graph is rebuilt from the saved input at its weights.
      input = rec.input.detach();
      if (!first() && input.is_floating_point()) input.requires_grad_(true);
      output = ws->module->forward(input);
      if (last()) output = loss_of(output, rec);
    }
  } else {
    // The backward reads other weights than its forward did: recompute the stage's forward from the
    // saved input at those weights, so the gradient is exactly the one at the weights read.
    StageView v = view();
    if (rec.pinned) {
      v.forward_weights = &rec.pinned->params;
      v.forward_basis = rec.basis;
    }
    const WeightChoice choice = setup_.strategy->backward(v, mb, mb);
    ws = live_;
    if (choice.source == WeightSource::Computed) {
      ws = acquire_copy();
      setup_.strategy->fill(v, choice, ws->params);
      held_.push_back(ws);
      note_memory();
    } else if (choice.source == WeightSource::Version) {
      ws = version_for(choice);
    }
    ev.basis_version = choice.basis_version >= 0 ? choice.basis_version : live_->version;
    ev.prediction_distance = choice.prediction_distance;
    last_computed_ = is_prediction(choice);
    input = rec.input.detach();
    if (!first() && input.is_floating_point()) input.requires_grad_(true);
    output = ws->module->forward(input);
    if (last()) output = loss_of(output, rec);
  }
  inputs = ws->params;
  const bool want_input_grad = !first() && input.requires_grad();
  if (want_input_grad) inputs.push_back(input);
  std::vector<at::Tensor> grad_outputs;
  if (!last()) grad_outputs.push_back(grad_out.to(setup_.device));
  auto grads = torch::autograd::grad({output}, inputs, grad_outputs, /*retain_graph=*/false,
                                     /*create_graph=*/false, /*allow_unused=*/true);
  for (std::size_t i = 0; i < grad_acc_.size(); ++i) add_grad(i, grads[i]);
  last_used_ = ws;
  if (rec.weights) {
    if (--ws->graphs == 0 && ws != live_) release(ws);
  } else if (ws != live_) {
    release(ws);
  }
  if (rec.pinned && --rec.pinned->graphs == 0 && rec.pinned != live_) release(rec.pinned);
  activation_bytes_ -= rec.counted_bytes;
  return want_input_grad ? grads.back() : at::Tensor();
}

void StageRuntime::add_grad(std::size_t i, const at::Tensor& g) {
  if (!g.defined()) return;
  if (grad_acc_[i].defined()) grad_acc_[i].add_(g);
  else grad_acc_[i] = g;
}

at::Tensor StageRuntime::forward_units(WeightSet& ws, const at::Tensor& x, std::vector<at::Tensor>* outputs) {
  at::Tensor h = x;
  for (auto& unit : *ws.module) {
    h = unit.forward(h);
    if (outputs) outputs->push_back(h);
  }
  return h;
}

// A record restored from a checkpoint has no graph: it is rebuilt from the saved input at the weights
// its forward read (the same numbers, bit for bit).
void StageRuntime::rebuild_graph(InFlight& rec) {
  if (rec.output.defined()) return;
  at::Tensor input = rec.input.detach();
  if (!first() && input.is_floating_point()) input.requires_grad_(true);
  rec.input = input;
  rec.unit_outputs.clear();
  at::Tensor y = forward_units(*rec.weights, input, &rec.unit_outputs);
  rec.output = last() ? loss_of(y, rec) : y;
}

// I: the gradient of the chunk's input (the critical path: the previous chunk waits for it), and on the
// way, free while propagating, the gradient at every unit's output. The graph is kept for W.
std::optional<Message> StageRuntime::input_grad(const Op& op, std::optional<Message> in, OpEvent& ev) {
  const std::int64_t mb = base_ + op.minibatch;
  auto it = in_flight_.find(Key{mb, op.micro});
  if (it == in_flight_.end()) throw std::logic_error("input gradient of a minibatch that was not forwarded here");
  InFlight& rec = it->second;
  if (!rec.weights || !setup_.split_backward)
    throw std::logic_error("a split backward needs its forward's graph (a schedule with I and W ops)");
  if (rec.input_grad_done) throw std::logic_error(op_name(op) + " ran twice");
  at::Tensor grad_out;
  if (!last()) {
    if (!in || in->tensors.size() != 1) throw std::logic_error("input gradient without the output gradient");
    received(*in, true);
    grad_out = in->tensors.front().to(setup_.device);
  }
  rebuild_graph(rec);
  ev.basis_version = rec.basis;
  std::vector<at::Tensor> wrt = rec.unit_outputs;
  const bool want_input_grad = !first() && rec.input.requires_grad();
  if (want_input_grad) wrt.push_back(rec.input);
  std::vector<at::Tensor> grad_outputs;
  if (!last()) grad_outputs.push_back(grad_out);
  // The weight ops' nodes keep the gradient at their outputs on the way (weight_grads.h).
  auto store = std::make_shared<WeightGradStore>();
  const bool armed = store->arm(rec.output, rec.weights->params, wrt);
  auto grads = torch::autograd::grad({rec.output}, wrt, grad_outputs, /*retain_graph=*/true,
                                     /*create_graph=*/false, /*allow_unused=*/true);
  store->disarm();
  rec.by_unit.clear();
  if (armed && store->settle(unit_param_begin_, rec.by_unit)) {
    rec.weight_grads = std::move(store);
    activation_bytes_ += rec.weight_grads->bytes();
  }
  rec.unit_grads.assign(grads.begin(), grads.begin() + static_cast<std::ptrdiff_t>(rec.unit_outputs.size()));
  rec.input_grad_done = true;
  for (const auto& g : rec.unit_grads) activation_bytes_ += bytes_of(g);
  last_used_ = rec.weights;
  if (first()) return std::nullopt;
  return Message{static_cast<int>(mb), op.micro, {grads.back()}};
}

// W: from the gradients I left at the weight ops' outputs, each weight op's own backward (weight_grads.h);
// where there are none (the first chunk, or a record restored from a checkpoint between I and W), each
// unit's weight gradient from the gradient at its output, which walks that unit's own nodes.
void StageRuntime::weight_grad(const Op& op, OpEvent& ev) {
  const std::int64_t mb = base_ + op.minibatch;
  auto it = in_flight_.find(Key{mb, op.micro});
  if (it == in_flight_.end() || !it->second.input_grad_done)
    throw std::logic_error(op_name(op) + " before its input gradient");
  InFlight& rec = it->second;
  rebuild_graph(rec);  // restored between I and W: the graph again, the gradients from the checkpoint
  ev.basis_version = rec.basis;
  std::shared_ptr<WeightSet> ws = rec.weights;
  const bool by_nodes = rec.weight_grads != nullptr;
  if (rec.weight_grads) {
    rec.weight_grads->run([this](std::size_t i, const at::Tensor& g) { add_grad(i, g); });
    activation_bytes_ -= rec.weight_grads->bytes();
    rec.weight_grads.reset();
  }
  for (std::size_t u = 0; u + 1 < unit_param_begin_.size(); ++u) {
    const std::size_t begin = unit_param_begin_[u], end = unit_param_begin_[u + 1];
    if (begin == end || !rec.unit_grads[u].defined() || (by_nodes && !rec.by_unit[u])) continue;
    std::vector<at::Tensor> params(ws->params.begin() + static_cast<std::ptrdiff_t>(begin),
                                   ws->params.begin() + static_cast<std::ptrdiff_t>(end));
    auto grads = torch::autograd::grad({rec.unit_outputs[u]}, params, {rec.unit_grads[u]}, /*retain_graph=*/false,
                                       /*create_graph=*/false, /*allow_unused=*/true);
    for (std::size_t i = 0; i < grads.size(); ++i) add_grad(begin + i, grads[i]);
  }
  for (const auto& g : rec.unit_grads) activation_bytes_ -= bytes_of(g);
  activation_bytes_ -= rec.counted_bytes;
  last_used_ = ws;
  if (--ws->graphs == 0 && ws != live_) release(ws);
  in_flight_.erase(it);
  gradient_done(mb, 1);
}

// Data parallel: once every microbatch's weight gradient of `mb` is in (B, or W after a split), the
// chunk's gradients go to the all-reduce, where the same chunk of the other replicas finds them.
void StageRuntime::gradient_done(std::int64_t mb, int micros) {
  if (setup_.replica < 0 || setup_.collective) return;
  int& done = grads_done_[mb];
  done += micros;
  if (done < setup_.microbatches) return;
  grads_done_.erase(mb);
  // In-process sum: other replicas' threads read these gradients from their own streams, so on a
  // GPU they must be computed before they are handed over.
  if (setup_.backend->is_cuda()) setup_.backend->synchronize();
  std::vector<at::Tensor> mine;
  for (auto& g : grad_acc_) mine.push_back(g);
  setup_.all_reduce->deposit(mb, setup_.replica, std::move(mine));
}

std::optional<Message> StageRuntime::backward(const Op& op, std::optional<Message> in, OpEvent& ev) {
  const std::int64_t mb = base_ + op.minibatch;
  std::vector<int> micros;
  if (op.micro < 0 && setup_.microbatches > 1) {
    for (int j = 0; j < setup_.microbatches; ++j) micros.push_back(j);  // nf1b: the whole group
  } else {
    micros.push_back(op.micro);
  }
  if (!last() && (!in || in->tensors.size() != micros.size()))
    throw std::logic_error("backward without the expected output gradients");
  std::vector<at::Tensor> grads_in;
  if (!last()) {
    received(*in, true);
    for (const auto& g : in->tensors) grads_in.push_back(g.to(setup_.device));
  }
  Message out{static_cast<int>(mb), op.micro, {}};
  for (std::size_t n = 0; n < micros.size(); ++n) {
    auto it = in_flight_.find(Key{mb, micros[n]});
    if (it == in_flight_.end()) throw std::logic_error("backward of a minibatch that was not forwarded here");
    at::Tensor g = backward_one(it->second, last() ? at::Tensor() : grads_in[n], ev, mb);
    in_flight_.erase(it);
    out.tensors.push_back(g);
  }
  gradient_done(mb, static_cast<int>(micros.size()));
  if (first()) return std::nullopt;
  return out;
}

void StageRuntime::update(const Op& op, OpEvent& ev) {
  if (setup_.replica >= 0) {
    // Data parallelism: every replica applies the same sum of all replicas' gradients. Done first, so
    // that an update interrupted while it waits for the others has changed nothing (it runs again).
    const std::int64_t mb = base_ + op.minibatch;
    if (setup_.collective) {
      // NCCL: once one rank has started the collective, every rank must join it, so the replicas
      // first meet (interruptibly; a replica that gives up withdraws, and then none goes on).
      if (!setup_.all_reduce->meet(mb, setup_.replica, interrupted_)) throw Interrupted{};
      setup_.collective->all_reduce_sum(grad_acc_, live_->params);  // on the stage's stream
    } else {
      if (!setup_.all_reduce->sum(mb, grad_acc_, interrupted_)) throw Interrupted{};
      if (setup_.backend->is_cuda()) {
        // The sum was made on the first replica's GPU from blocks other streams own: brought here,
        // and done with before those blocks can be reused.
        for (auto& g : grad_acc_)
          if (g.defined()) g = g.to(setup_.device);
        setup_.backend->synchronize();
      }
    }
  }
  if (live_->graphs > 0 || setup_.strategy->keeps_version(live_->version)) {
    // Copy-on-write: forwards in flight still hold graphs on these weights (stashing), or a later op
    // will read this version, so they stay as they are and the update goes to a fresh copy, which
    // becomes the live version.
    auto fresh = acquire_copy();
    live_->superseded = true;
    held_.push_back(live_);
    live_ = fresh;
  }
  setup_.strategy->before_update(view());
  const double lr = lr_for_next_update();
  optimizer_.step(live_->params, grad_acc_, lr);
  ++live_->version;
  for (auto& g : grad_acc_) g = at::Tensor();
  setup_.strategy->after_update(view());
  check_finite(op);
}

// A NaN or an Inf in the new weights ends the run as diverged (the loss check alone misses a stage
// whose weights blow up while the loss is still finite). One reduction per update: the sum of every
// parameter's sum is finite exactly when no element is NaN or Inf (barring float64 overflow).
void StageRuntime::check_finite(const Op& op) const {
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> sums;
  sums.reserve(live_->params.size());
  for (const auto& p : live_->params) sums.push_back(p.sum().to(torch::kDouble));
  if (sums.empty()) return;
  const double total = torch::stack(sums).sum().item<double>();
  if (std::isfinite(total)) return;
  const std::int64_t mb = base_ + op.minibatch;
  throw PipelineError(setup_.index, op_name(op), static_cast<int>(mb),
                      "step " + std::to_string(mb + 1) + ": the weights are not finite after the update (diverged)");
}

// On the caller's current stream, not the stage's: evaluation passes the output from chunk to chunk
// on one thread, and one stream keeps those steps in order (finish_segment() left the weights ready).
at::Tensor StageRuntime::infer(const at::Tensor& x) {
  torch::NoGradGuard no_grad;
  return live_->module->forward(x.to(setup_.device));
}

}  // namespace ps
