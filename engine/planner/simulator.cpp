// Event-driven what-if simulation of a schedule's op lists (see simulator.h).
//
// Each stage follows its op list in order. An op can start when the previous op of its stage has ended,
// its input has arrived (F at stage k > 0: the activation of F at k-1 after its transfer; B at k < S-1:
// the gradient of B at k+1 after its transfer; data-parallel U: every replica's B plus the all-reduce),
// and its device is free. A device picks, among its stages' ready ops, the one ready first. Transfers
// queue on one full-duplex link per pair of adjacent stages (none between stages on the same device),
// and arrive `latency_s` after they leave it; with `spin_s`, a message reaches a receiver that is still
// spinning for it at once (its link's recent waits short, as in ChannelLink).
// Time advances from event to event (an op ends, an input arrives); with `cores` set, the running ops
// share the cores evenly, so every op's remaining work shrinks at min(1, cores / running) per second;
// an op that starts while every hardware thread runs another pays `switch_s` more work.
#include "engine/planner/simulator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <tuple>

#include "engine/partition/partition.h"
#include "engine/schedule/schedule.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

using MessageKey = std::tuple<int, int, int, int>;  // receiving stage, kind, minibatch, micro
using LinkKey = std::pair<int, int>;                 // receiving stage, kind (F: activations, B: gradients)

struct Message {
  double sent = 0;       // when it left the link (its bytes sent; before any hand-off)
  bool crosses = false;  // between two devices: pays the hand-off
  int transfer = -1;     // its SimResult::transfers entry, if recorded
};

struct Running {
  int stage = 0;
  double start = 0;
  double remaining = 0;  // seconds of work at full speed
};

std::int64_t to_ns(double s) { return std::int64_t(std::llround(s * 1e9)); }

}  // namespace

SimResult simulate(const ModelProfile& profile, const SimOptions& opts) {
  const ScheduleInfo& info = schedule_info(opts.schedule);
  const int n = int(profile.units.size());
  const bool replicas = info.replicas;
  int C = int(opts.boundaries.size()) + 1;  // chunks (stages when one per device)
  if (replicas) {
    C = std::max(1, opts.replicas > 0 ? opts.replicas : C);
  } else {
    validate_partition(opts.boundaries, n, "");
  }
  const int M = std::max(1, opts.microbatches);
  const int N = opts.minibatches;
  if (N < 1) throw InputError("", "minibatches", "must be at least 1, got " + std::to_string(N));
  if (opts.devices < 0) throw InputError("", "devices", "must be at least 1, got " + std::to_string(opts.devices));
  if (opts.bandwidth_bytes_per_s < 0) throw InputError("", "bandwidth", "must not be negative");
  if (opts.latency_s < 0) throw InputError("", "latency", "must not be negative");
  if (opts.cores < 0) throw InputError("", "cores", "must not be negative");
  if (opts.switch_s < 0) throw InputError("", "switch", "must not be negative");
  if (opts.spin_s < 0) throw InputError("", "spin", "must not be negative");
  // One op list per worker: per stage, or, for schedules that place several chunks on a device, per device
  // (its ops name their chunk).
  const int v = replicas ? 1 : resolve_chunks(opts.schedule, opts.chunks);
  if (C % v != 0)
    throw InputError("", "partition", std::to_string(C) + " chunks are not " + std::to_string(v) + " per device");
  const int S = C / v;  // op lists
  const std::vector<StageOps> ops = make_schedule(opts.schedule, S, M, N, v);
  const std::vector<int> list_of_chunk = replicas ? std::vector<int>() : chunk_devices(opts.schedule, S, v);
  auto list_of = [&](int c) { return replicas ? c : list_of_chunk[std::size_t(c)]; };
  auto chunk_of = [](const Op& op, int k) { return op.chunk >= 0 ? op.chunk : k; };
  const int D = std::min(S, opts.devices > 0 ? opts.devices : S);
  auto device_of = [&](int k) { return opts.round_robin ? k % D : int(std::int64_t(k) * D / S); };

  // Units of every chunk and op durations. A split backward's I and W are taken as half of B each
  // (the profile measures whole backwards; SCHEDULES.md section 3 makes I + W cost about one B).
  std::vector<StageRange> ranges;
  if (replicas)
    ranges.assign(C, StageRange{0, n - 1});
  else
    ranges = stage_ranges(opts.boundaries, n);
  const int batch = std::max(1, profile.batch_size / (replicas ? C : 1));
  const int micro = std::max(1, batch / M);
  auto samples_of = [&](const Op& op) { return op.micro >= 0 ? micro : batch; };
  auto duration = [&](int k, const Op& op) {
    double t = 0;
    auto over = [&](int c, auto&& per_unit) {
      for (int u = ranges[c].first; u <= ranges[c].last; ++u) t += per_unit(u);
    };
    if (op.kind == OpKind::Update) {
      for (int c = 0; c < C; ++c)
        if (list_of(c) == k) over(c, [&](int u) { return profile.units[u].update_s; });
      return t;
    }
    const int c = chunk_of(op, k);
    if (op.kind == OpKind::Forward) over(c, [&](int u) { return profile.forward_s(u, samples_of(op)); });
    if (op.kind == OpKind::Backward) over(c, [&](int u) { return profile.backward_s(u, samples_of(op)); });
    if (op.kind == OpKind::InputGrad) over(c, [&](int u) { return profile.input_grad_s(u, samples_of(op)); });
    if (op.kind == OpKind::WeightGrad) over(c, [&](int u) { return profile.weight_grad_s(u, samples_of(op)); });
    return t;
  };
  auto boundary_bytes = [&](int c, const Op& op) {  // activation leaving chunk c (= gradient entering it)
    return profile.activation_bytes(ranges[c].last, samples_of(op));
  };
  const double bw = opts.bandwidth_bytes_per_s;
  const std::int64_t model_bytes = profile.total_param_bytes();
  const double all_reduce_s = (replicas && S > 1 && bw > 0) ? 2.0 * (S - 1) / S * double(model_bytes) / bw : 0;

  SimResult res;
  res.stages = S;
  res.stage_busy_s.assign(S, 0);
  res.device_busy_s.assign(D, 0);
  std::map<MessageKey, Message> arrival;
  // The spin (SimOptions::spin_s): only when every worker has a hardware thread of its own. Per link,
  // its receiver's smoothed waits; per op list, when its last op ended (where a wait for a message starts).
  const bool spins = opts.spin_s > 0 && opts.hardware_threads > 0 && D <= opts.hardware_threads;
  std::map<LinkKey, double> typical_wait;
  std::vector<double> free_since(S, 0);
  std::vector<int> backward_done(N, 0);
  std::vector<double> backward_last(N, 0);
  std::vector<double> link_free_fwd(C, 0), link_free_bwd(C, 0);  // link c: between chunks c and c+1
  std::vector<std::size_t> pos(S, 0);
  std::vector<bool> stage_running(S, false), device_running(D, false);
  std::vector<Running> active;
  std::size_t total = 0, done = 0;
  for (const auto& l : ops) total += l.size();

  // The link the next op of stage k takes its input from (kind -1: none).
  auto input_link = [&](int k) -> LinkKey {
    const Op& op = ops[k][pos[k]];
    const int c = chunk_of(op, k);
    if (!replicas && op.kind == OpKind::Forward && c > 0) return {c, int(OpKind::Forward)};
    if (!replicas && sends_gradient(op.kind) && c < C - 1) return {c, int(OpKind::Backward)};
    return {c, -1};
  };
  // Whether stage k's receiver is still spinning when message m comes (it started waiting when its last
  // op ended) and so takes it at once.
  auto caught_spinning = [&](int k, const LinkKey& link, const Message& m) {
    return spins && m.sent <= free_since[k] + opts.spin_s && worth_spinning(typical_wait[link], opts.spin_s);
  };
  // When the next op of stage k may start as far as its inputs go (nullopt: not produced yet).
  auto ready_time = [&](int k) -> std::optional<double> {
    const Op& op = ops[k][pos[k]];
    const LinkKey link = input_link(k);
    if (link.second >= 0) {
      auto it = arrival.find({link.first, link.second, op.minibatch, op.micro});
      if (it == arrival.end()) return std::nullopt;
      const Message& m = it->second;
      if (!m.crosses) return m.sent;
      return caught_spinning(k, link, m) ? std::max(m.sent, free_since[k]) : m.sent + opts.latency_s;
    }
    if (replicas && op.kind == OpKind::Update && C > 1) {
      if (backward_done[op.minibatch] < C) return std::nullopt;
      return backward_last[op.minibatch] + all_reduce_s;
    }
    return 0.0;
  };
  auto send = [&](int from, int to, bool gradient, const Op& op, double at) {
    const std::int64_t bytes = boundary_bytes(std::min(from, to), op);
    double start = at, end = at;
    const bool crosses = device_of(list_of(from)) != device_of(list_of(to));
    int transfer = -1;  // its res.transfers entry, where one is recorded
    if ((bw > 0 || opts.latency_s > 0) && crosses) {
      if (bw > 0) {
        double& free_at = gradient ? link_free_bwd[std::min(from, to)] : link_free_fwd[std::min(from, to)];
        start = std::max(at, free_at);
        end = start + double(bytes) / bw;
        free_at = end;
      }
      TransferEvent tr;
      tr.from_stage = from;
      tr.to_stage = to;
      tr.gradient = gradient;
      tr.minibatch = op.minibatch;
      tr.micro = op.micro;
      tr.t_start_ns = to_ns(start);
      tr.t_end_ns = to_ns(end + opts.latency_s);  // the hand-off; its receiver's op may take it sooner
      tr.bytes = bytes;
      transfer = int(res.transfers.size());
      res.transfers.push_back(tr);
    }
    arrival[{to, int(gradient ? OpKind::Backward : OpKind::Forward), op.minibatch, op.micro}] = {end, crosses, transfer};
  };

  double t = 0;
  while (done < total) {
    // Start what can start now: per free device, the ready op that was ready first.
    for (int d = 0; d < D; ++d) {
      if (device_running[d]) continue;
      int pick = -1;
      double pick_ready = kInf;
      for (int k = 0; k < S; ++k) {
        if (device_of(k) != d || stage_running[k] || pos[k] >= ops[k].size()) continue;
        const auto r = ready_time(k);
        if (r && *r <= t + 1e-15 && *r < pick_ready) {
          pick = k;
          pick_ready = *r;
        }
      }
      if (pick < 0) continue;
      stage_running[pick] = device_running[d] = true;
      if (spins) {
        const LinkKey link = input_link(pick);
        if (link.second >= 0) {
          const Op& op = ops[pick][pos[pick]];
          const Message& m = arrival.at({link.first, link.second, op.minibatch, op.micro});
          // A message its receiver caught spinning paid no hand-off: its transfer ends when it left the link.
          if (m.transfer >= 0 && caught_spinning(pick, link, m)) res.transfers[std::size_t(m.transfer)].t_end_ns = to_ns(m.sent);
          // A receiver that waited for its message, asleep or spinning: its link's smoothed waits.
          if (m.crosses && pick_ready > free_since[pick]) typical_wait[link] = smoothed_wait(typical_wait[link], t - free_since[pick]);
        }
      }
      const bool preempts = opts.switch_s > 0 && opts.hardware_threads > 0 && int(active.size()) >= opts.hardware_threads;
      active.push_back({pick, t, duration(pick, ops[pick][pos[pick]]) + (preempts ? opts.switch_s : 0.0)});
    }
    // The next input arrival that could let an idle stage start.
    double next_arrival = kInf;
    for (int k = 0; k < S; ++k) {
      if (stage_running[k] || pos[k] >= ops[k].size()) continue;
      const auto r = ready_time(k);
      if (r && *r > t) next_arrival = std::min(next_arrival, *r);
    }
    if (active.empty()) {
      if (next_arrival == kInf) {
        std::string stuck;
        for (int k = 0; k < S; ++k)
          if (pos[k] < ops[k].size()) stuck += " stage " + std::to_string(k) + " at " + op_name(ops[k][pos[k]]);
        throw std::logic_error("simulated schedule '" + opts.schedule + "' deadlocks:" + stuck);
      }
      t = next_arrival;
      continue;
    }
    const double running = double(active.size());
    const double rate = (opts.cores > 0 && running > opts.cores) ? opts.cores / running : 1.0;
    double min_remaining = kInf;
    for (const auto& a : active) min_remaining = std::min(min_remaining, a.remaining);
    const double t_next = std::min(t + min_remaining / rate, next_arrival);
    const double progressed = (t_next - t) * rate;
    t = t_next;
    std::vector<Running> still;
    for (auto& a : active) {
      a.remaining -= progressed;
      if (a.remaining > 1e-12) {  // seconds: far below any op, far above the rounding of the step
        still.push_back(a);
        continue;
      }
      // Completed.
      const int k = a.stage;
      const Op op = ops[k][pos[k]];
      OpEvent ev;
      const int c = chunk_of(op, k);
      ev.stage = op.kind == OpKind::Update ? k : c;
      ev.device = k;
      ev.kind = op.kind;
      ev.minibatch = op.minibatch;
      ev.micro = op.micro;
      ev.t_start_ns = to_ns(a.start);
      ev.t_end_ns = to_ns(t);
      res.ops.push_back(ev);
      res.stage_busy_s[k] += t - a.start;
      res.device_busy_s[device_of(k)] += t - a.start;
      stage_running[k] = device_running[device_of(k)] = false;
      free_since[k] = t;
      ++pos[k];
      ++done;
      if (!replicas && op.kind == OpKind::Forward && c < C - 1) send(c, c + 1, false, op, t);
      if (!replicas && sends_gradient(op.kind) && c > 0) send(c, c - 1, true, op, t);
      if (op.kind == OpKind::Backward) {
        ++backward_done[op.minibatch];
        backward_last[op.minibatch] = std::max(backward_last[op.minibatch], t);
      }
    }
    active.swap(still);
  }
  res.makespan_s = t;
  res.spins = spins;
  res.samples_per_second = t > 0 ? double(N) * profile.batch_size / t : 0;
  double util = 0;
  for (int k = 0; k < S; ++k) util += t > 0 ? res.stage_busy_s[k] / t : 0;
  res.bubble_fraction = 1.0 - util / S;
  std::sort(res.ops.begin(), res.ops.end(),
            [](const OpEvent& a, const OpEvent& b) { return std::tie(a.t_start_ns, a.stage) < std::tie(b.t_start_ns, b.stage); });
  return res;
}

}  // namespace ps
