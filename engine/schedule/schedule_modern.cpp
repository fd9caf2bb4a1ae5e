// The modern synchronous schedules of SCHEDULES.md section 2: chunks per device, split backward.
// Each generator builds one minibatch's per-device list; make_schedule repeats it and appends U.
//
// interleaved-1f1b, S=2, v=2, M=4 (torch notation: "2F0" = chunk 2, forward, microbatch 0):
//   d0: 0F0 0F1 2F0 2F1 0F2 2B0 0F3 2B1 2F2 0B0 2F3 0B1 2B2 2B3 0B2 0B3
//   d1: 1F0 1F1 3F0 3B0 3F1 3B1 1F2 1B0 1F3 1B1 3F2 3B2 3F3 3B3 1B2 1B3
// zb-h1, S=2, M=4:
//   d0: 0F0 0F1 0I0 0W0 0F2 0I1 0W1 0F3 0I2 0W2 0I3 0W3
//   d1: 1F0 1I0 1F1 1I1 1W0 1F2 1I2 1W1 1F3 1I3 1W2 1W3
// dualpipev, S=2, M=4 ("(a;b)" is an OVERLAP pair):
//   d0: 0F0 0F1 0F2 3F0 3I0 3W0 3F1 (0F3;3B1) (3F2;0B0) 3B2 (3F3;0B1) 3B3 0I2 0W2 0I3 0W3
//   d1: 1F0 2F0 1F1 2F1 1F2 2B0 (2F2;1B0) (1F3;2B1) (2F3;1B1) 2B2 1B2 2I3 1I3 2W3 1W3
#include <algorithm>
#include <deque>
#include <limits>
#include <map>

#include "engine/schedule/schedule.h"
#include "engine/util/errors.h"

namespace ps::detail {
namespace {

// Builds one device's list: per-chunk counters hand out microbatch ids in order (F and the backward
// half count separately; B and I share a counter: both are "the backward of microbatch j"), and W runs
// in the order of its I through a FIFO. Ops of microbatches >= M are dropped (zbv pads to 2S-1).
class DeviceList {
 public:
  DeviceList(int M, int chunks_total) : M_(M), f_(chunks_total, 0), b_(chunks_total, 0), w_(chunks_total, 0) {}

  void F(int c, bool overlap_next = false) { add(OpKind::Forward, c, f_[c]++, overlap_next); }
  void B(int c) { add(OpKind::Backward, c, b_[c]++); }
  void I(int c) {
    const int j = b_[c]++;
    if (add(OpKind::InputGrad, c, j)) pending_w_.push_back({c, j});  // for W_oldest()
  }
  // The W of the oldest pending I of any chunk (one FIFO across the device's chunks).
  void W_oldest() {
    if (pending_w_.empty()) return;
    const auto [c, j] = pending_w_.front();
    pending_w_.pop_front();
    add(OpKind::WeightGrad, c, j);
  }
  // The next W of chunk c, in microbatch order (its own counter, like F and the backward half).
  void W(int c) { add(OpKind::WeightGrad, c, w_[c]++); }
  void all_W() {
    while (!pending_w_.empty()) W_oldest();
  }
  void all_W(int c) {
    while (w_[c] < b_[c]) W(c);
  }
  int forwards(int c) const { return f_[c]; }
  StageOps take() { return std::move(ops_); }

 private:
  bool add(OpKind kind, int c, int j, bool overlap_next = false) {
    if (j >= M_) return false;
    Op op{kind, 0, M_ > 1 ? j : -1, c, overlap_next};
    ops_.push_back(op);
    return true;
  }
  int M_;
  std::vector<int> f_, b_, w_;
  std::deque<std::pair<int, int>> pending_w_;
  StageOps ops_;
};

int rounds_of(int S, int M) { return std::max(1, M / S); }

// interleaved-1f1b (split = false) and zb1p-interleaved / zb-h1 (split = true, v = 1 for zb-h1).
StageOps interleaved(int S, int M, int v, int d, bool split) {
  DeviceList l(M, S * v);
  const int mpr = M / rounds_of(S, M);
  const int total = v * M;
  const int warmup = std::min((v - 1) * mpr + (split ? 1 : 2) * (S - 1 - d), total);
  auto forward_chunk = [&](int k) { return ((k / mpr) % v) * S + d; };
  auto backward_chunk = [&](int j) { return (v - 1 - (j / mpr) % v) * S + d; };
  int nf = 0, nb = 0;
  for (; nf < warmup; ++nf) l.F(forward_chunk(nf));
  int steady = 0;
  while (nf < total) {
    l.F(forward_chunk(nf++));
    if (split) {
      l.I(backward_chunk(nb++));
      if (steady >= d) l.W_oldest();  // the W of the oldest pending I, deferred by d steady steps
    } else {
      l.B(backward_chunk(nb++));
    }
    ++steady;
  }
  while (nb < total) {
    if (split) {
      l.I(backward_chunk(nb++));
      l.W_oldest();
    } else {
      l.B(backward_chunk(nb++));
    }
  }
  l.all_W();
  return l.take();
}

StageOps looped_bfs(int S, int M, int v, int d) {
  std::vector<Op> ops;
  for (int local = 0; local < v; ++local)
    for (int j = 0; j < M; ++j) ops.push_back({OpKind::Forward, 0, M > 1 ? j : -1, local * S + d});
  for (int local = v - 1; local >= 0; --local)
    for (int j = M - 1; j >= 0; --j) ops.push_back({OpKind::Backward, 0, M > 1 ? j : -1, local * S + d});
  return ops;
}

// zb-h2: a unit-time greedy over all devices at once. Each tick every device runs (1) an I whose
// dependencies finished before this tick, else (2) an F while it holds fewer than 2S-1 activations
// (F done - W done) and its upstream F is done, else (3) its oldest pending W.
std::vector<StageOps> zb_h2(int S, int M) {
  std::vector<StageOps> out(S);
  std::vector<int> f_done(S, 0), i_done(S, 0), w_done(S, 0);
  // Completion tick of F(d, j) and I(d, j).
  std::vector<std::vector<int>> f_at(S, std::vector<int>(M, -1)), i_at(S, std::vector<int>(M, -1));
  auto micro = [M](int j) { return M > 1 ? j : -1; };
  for (int tick = 0;; ++tick) {
    bool remaining = false;
    for (int d = 0; d < S; ++d) {
      if (w_done[d] < M) remaining = true;
      const int j = i_done[d];
      const bool i_ready = j < M && j < f_done[d] && f_at[d][j] < tick &&
                           (d == S - 1 || (i_at[d + 1][j] >= 0 && i_at[d + 1][j] < tick));
      if (i_ready) {
        out[d].push_back({OpKind::InputGrad, 0, micro(j), d});
        i_at[d][j] = tick;
        ++i_done[d];
        continue;
      }
      const int f = f_done[d];
      const bool f_ready = f < M && f_done[d] - w_done[d] < 2 * S - 1 &&
                           (d == 0 || (f_at[d - 1][f] >= 0 && f_at[d - 1][f] < tick));
      if (f_ready) {
        out[d].push_back({OpKind::Forward, 0, micro(f), d});
        f_at[d][f] = tick;
        ++f_done[d];
        continue;
      }
      if (w_done[d] < i_done[d]) {
        out[d].push_back({OpKind::WeightGrad, 0, micro(w_done[d]), d});
        ++w_done[d];
      }
    }
    if (!remaining) break;
    if (tick > 16 * (M + S) + 16) throw std::logic_error("zb-h2: the greedy did not finish");
  }
  return out;
}

StageOps zbv(int S, int M, int d) {
  const int c0 = d, c1 = 2 * S - 1 - d, n = std::max(2 * S - 1, M);
  DeviceList l(M, 2 * S);
  for (int k = 0; k < 2 * (S - d) - 1; ++k) l.F(c0);
  for (int k = 0; k < d; ++k) l.F(c1), l.F(c0);
  for (int k = 0; k < S - d; ++k) l.F(c1), l.I(c1), l.W(c1);
  while (l.forwards(c1) < l.forwards(c0) || l.forwards(c0) < n) {
    if (l.forwards(c0) < n) l.F(c0);
    l.I(c0), l.W(c0), l.F(c1), l.I(c1), l.W(c1);
  }
  for (int k = 0; k < d; ++k) l.I(c0), l.I(c1);  // their W deferred
  for (int k = 0; k < S - d; ++k) l.I(c0), l.W(c0);
  l.all_W(c1);
  l.all_W(c0);
  return l.take();
}

StageOps dualpipev(int S, int M, int d) {
  const int s0 = d, s1 = 2 * S - 1 - d;
  DeviceList l(M, 2 * S);
  auto overlap = [&](int f_chunk, int b_chunk) {
    l.F(f_chunk, /*overlap_next=*/true);
    l.B(b_chunk);
  };
  for (int k = 0; k < (S - d - 1) * 2; ++k) l.F(s0);                      // 1
  for (int k = 0; k < d + 1; ++k) l.F(s0), l.F(s1);                        // 2
  for (int k = 0; k < S - d - 1; ++k) l.I(s1), l.W_oldest(), l.F(s1);      // 3
  for (int k = 0; k < M - 2 * S + d + 1; ++k) {                            // 4
    if (k == 0 && d == S - 1) {
      l.F(s0), l.B(s1);
    } else {
      overlap(s0, s1);
    }
    overlap(s1, s0);
  }
  for (int k = 0; k < S - d - 1; ++k) l.B(s1), overlap(s1, s0);            // 5
  bool split = false;                                                      // 6
  const int switch_at = (d + 1) / 2;
  auto X = [&](int c) { split ? l.I(c) : l.B(c); };
  for (int i = 0; i < d + 1; ++i) {
    if (i == switch_at && d % 2 == 1) split = true;
    X(s1);
    if (i == switch_at && d % 2 == 0) split = true;
    X(s0);
  }
  for (int k = 0; k < S - d - 1; ++k) l.W_oldest(), X(s0);                 // 7
  l.all_W();                                                               // 8: the d+1 left
  return l.take();
}

}  // namespace

void check_modern(const std::string& name, int S, int M, int v) {
  const ScheduleInfo& info = schedule_info(name);
  if (info.placement == Placement::V && v != 2)
    throw InputError("", "chunks", "schedule '" + name + "' places two chunks per device in a V (chunks must be 2, got " +
                                       std::to_string(v) + ")");
  if (info.placement == Placement::Loop && name != "looped-bfs" && v < 2)
    throw InputError("", "chunks", "schedule '" + name + "' interleaves chunks: chunks must be at least 2, got " +
                                       std::to_string(v) + " (with one chunk per device use 1f1b-flush or zb-h1)");
  if (name == "dualpipev" && M < 2 * S)
    throw InputError("", "microbatches", "dualpipev needs at least 2S = " + std::to_string(2 * S) +
                                             " microbatches for " + std::to_string(S) + " devices, got " + std::to_string(M));
  if ((name == "interleaved-1f1b" || name == "zb1p-interleaved") && M % rounds_of(S, M) != 0)
    throw InputError("", "microbatches",
                     name + " runs rounds of S microbatches: with S = " + std::to_string(S) + " devices M = " +
                         std::to_string(M) + " is not a multiple of its " + std::to_string(rounds_of(S, M)) +
                         " rounds (use a multiple of S, or M < S)");
}

std::vector<StageOps> modern_minibatch(const std::string& name, int S, int M, int v) {
  if (name == "zb-h2") return zb_h2(S, M);
  std::vector<StageOps> out(S);
  for (int d = 0; d < S; ++d) {
    if (name == "interleaved-1f1b") out[d] = interleaved(S, M, v, d, false);
    else if (name == "zb1p-interleaved") out[d] = interleaved(S, M, v, d, true);
    else if (name == "zb-h1") out[d] = interleaved(S, M, 1, d, true);
    else if (name == "looped-bfs") out[d] = looped_bfs(S, M, v, d);
    else if (name == "zbv") out[d] = zbv(S, M, d);
    else if (name == "dualpipev") out[d] = dualpipev(S, M, d);
    else throw std::logic_error("not a modern schedule: " + name);
  }
  return out;
}

double unit_time_bubble(const std::string& name, int S, int M, int v) {
  const std::vector<StageOps> lists = modern_minibatch(name, S, M, v);
  const int C = S * v;
  const std::vector<int> device = chunk_devices(name, S, v);
  // Finish time of each (kind, chunk, micro); ops are replayed in list order per device.
  std::map<std::tuple<int, int, int>, double> done;
  auto key = [](OpKind k, int c, int j) {
    const int kind = k == OpKind::Forward ? 0 : k == OpKind::WeightGrad ? 2 : 1;  // B and I: the backward
    return std::make_tuple(kind, c, j);
  };
  std::vector<std::size_t> pos(S, 0);
  std::vector<double> free_at(S, 0), busy(S, 0);
  const double unit = 1.0 / v;
  for (;;) {
    bool progressed = false, remaining = false;
    for (int d = 0; d < S; ++d) {
      if (pos[d] >= lists[d].size()) continue;
      remaining = true;
      const Op& op = lists[d][pos[d]];
      std::vector<std::tuple<int, int, int>> deps;
      if (op.kind == OpKind::Forward && op.chunk > 0) deps.push_back(key(OpKind::Forward, op.chunk - 1, op.micro));
      if (sends_gradient(op.kind)) {
        deps.push_back(key(OpKind::Forward, op.chunk, op.micro));
        if (op.chunk < C - 1) deps.push_back(key(OpKind::Backward, op.chunk + 1, op.micro));
      }
      if (op.kind == OpKind::WeightGrad) deps.push_back(key(OpKind::InputGrad, op.chunk, op.micro));
      double start = free_at[d];
      bool ready = true;
      for (const auto& k : deps) {
        auto it = done.find(k);
        if (it == done.end()) ready = false;
        else start = std::max(start, it->second);
      }
      if (!ready) continue;
      const double len = (op.kind == OpKind::Backward ? 2 : 1) * unit;
      free_at[d] = start + len;
      busy[d] += len;
      done[key(op.kind, op.chunk, op.micro)] = free_at[d];
      ++pos[d];
      progressed = true;
    }
    if (!remaining) break;
    if (!progressed) throw std::logic_error("schedule '" + name + "' deadlocks");
  }
  const double makespan = *std::max_element(free_at.begin(), free_at.end());
  double total = 0;
  for (double b : busy) total += b;
  return makespan > 0 ? 1.0 - total / (S * makespan) : 0.0;
}

}  // namespace ps::detail
