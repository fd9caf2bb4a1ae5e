// The schedules of STRATEGIES.md section 2 as pure functions.
//
// 1f1b-async, S=3 (stage k warms up with S-1-k forwards, then alternates F, B, U):
//   stage 0: F0 F1 F2 B0 U0 F3 B1 U1 F4 B2 U2 ...
//   stage 1: F0 F1 B0 U0 F2 B1 U1 F3 B2 U2 ...
//   stage 2: F0 B0 U0 F1 B1 U1 F2 B2 U2 ...
// gpipe, M=2: every stage F0.0 F0.1 B0.0 B0.1 U0 F1.0 ...
// 1f1b-flush, S=3, M=4 (Megatron's PipeDream-Flush): stage 0: F.0 F.1 F.2 B.0 F.3 B.1 B.2 B.3 U
#include "engine/schedule/schedule.h"

#include <algorithm>

#include "engine/util/errors.h"

namespace ps {
namespace {

Op F(int i, int j) { return {OpKind::Forward, i, j}; }
Op B(int i, int j) { return {OpKind::Backward, i, j}; }
Op U(int i) { return {OpKind::Update, i, -1}; }

int micro_id(int j, int m) { return m > 1 ? j : -1; }

std::vector<StageOps> gpipe(int S, int M, int N) {
  std::vector<StageOps> out(S);
  for (int k = 0; k < S; ++k) {
    for (int i = 0; i < N; ++i) {
      for (int j = 0; j < M; ++j) out[k].push_back(F(i, micro_id(j, M)));
      for (int j = 0; j < M; ++j) out[k].push_back(B(i, micro_id(j, M)));
      out[k].push_back(U(i));
    }
  }
  return out;
}

std::vector<StageOps> one_f_one_b_flush(int S, int M, int N) {
  std::vector<StageOps> out(S);
  for (int k = 0; k < S; ++k) {
    const int warmup = std::min(S - 1 - k, M);
    for (int i = 0; i < N; ++i) {
      int next_f = 0, next_b = 0;
      for (; next_f < warmup; ++next_f) out[k].push_back(F(i, micro_id(next_f, M)));
      while (next_f < M) {
        out[k].push_back(F(i, micro_id(next_f++, M)));
        out[k].push_back(B(i, micro_id(next_b++, M)));
      }
      while (next_b < M) out[k].push_back(B(i, micro_id(next_b++, M)));
      out[k].push_back(U(i));
    }
  }
  return out;
}

// Asynchronous 1F1B over groups: a "forward" of minibatch i is M microbatch forwards back to back
// (M = 1 for PipeDream's 1f1b-async), the backward is one op for the group, and U follows every B.
std::vector<StageOps> async_groups(const std::string& name, int S, int M, int N) {
  std::vector<StageOps> out(S);
  for (int k = 0; k < S; ++k) {
    const int warmup = std::min(warmup_minibatches(name, S, k, M), N);
    auto forward_group = [&](int i) {
      for (int j = 0; j < M; ++j) out[k].push_back(F(i, micro_id(j, M)));
    };
    for (int i = 0; i < warmup; ++i) forward_group(i);
    for (int i = 0; i < N; ++i) {
      if (i + warmup < N) forward_group(i + warmup);
      out[k].push_back(B(i, -1));
      out[k].push_back(U(i));
    }
  }
  return out;
}

// Each stage (or replica) runs F, B, U per minibatch; the executor's data dependencies make
// `sequential` strictly one stage at a time, and data-parallel replicas all-reduce inside U.
std::vector<StageOps> per_minibatch(int S, int N) {
  std::vector<StageOps> out(S);
  for (int k = 0; k < S; ++k)
    for (int i = 0; i < N; ++i) {
      out[k].push_back(F(i, -1));
      out[k].push_back(B(i, -1));
      out[k].push_back(U(i));
    }
  return out;
}

}  // namespace

const std::vector<ScheduleInfo>& schedule_catalog() {
  static const std::vector<ScheduleInfo> catalog = {
      {"sequential", "naive model parallelism: one minibatch through all stages forward then backward, no overlap",
       true, false, false},
      {"gpipe", "fill-drain: all M microbatch forwards, then all backwards, then one update (flush)", true, true,
       false},
      {"1f1b-flush", "PipeDream-Flush / Megatron 1F1B: min(S-1-k, M) warm-up forwards, alternate F/B, drain, update",
       true, true, false},
      {"1f1b-async", "PipeDream 1F1B without flushes: S-1-k warm-up forwards, then F, B, U per minibatch", false,
       false, false},
      {"nf1b", "TiMePReSt: N microbatch forwards back to back, one backward for the group, backward first", false,
       true, false},
      {"data-parallel", "R replicas each take 1/R of the minibatch; gradients all-reduced; one update", true, false,
       true},
      {"interleaved-1f1b",
       "Megatron's virtual pipeline: v chunks per device (loop placement), 1F1B over the chunks, one update",
       true, true, false, Placement::Loop},
      {"looped-bfs", "breadth-first: every forward of each local chunk, then every backward in reverse; loop placement",
       true, true, false, Placement::Loop},
      {"zb-h1", "zero bubble H1: backward split into I and W, the W deferred into the bubbles; 1F1B's memory", true,
       true, false, Placement::OnePerDevice, true},
      {"zb-h2",
       "zero bubble H2: unit-time greedy (I first, then F while fewer than 2S-1 activations, then the oldest W)", true,
       true, false, Placement::OnePerDevice, true, false,
       "PipeScope's construction from the paper's description (no reference generator is public)"},
      {"zb1p-interleaved", "interleaved zero bubble: interleaved 1F1B with I in place of B and deferred W", true, true,
       false, Placement::Loop, true},
      {"zbv", "zero bubble V: two chunks per device in V placement (the loss on device 0), split backward", true, true,
       false, Placement::V, true},
      {"dualpipev", "DeepSeek's DualPipeV: V placement, OVERLAP(F;B) pairs, split backward at the tail", true, true,
       false, Placement::V, true, true,
       "its OVERLAP(F;B) pairs run one after the other on a CPU device (on GPUs they overlap compute and transfers)"},
  };
  return catalog;
}

bool is_schedule(const std::string& name) {
  for (const auto& s : schedule_catalog())
    if (s.name == name) return true;
  return false;
}

const ScheduleInfo& schedule_info(const std::string& name) {
  for (const auto& s : schedule_catalog())
    if (s.name == name) return s;
  std::string known;
  for (const auto& s : schedule_catalog()) known += (known.empty() ? "" : ", ") + s.name;
  throw InputError("", "schedule", "unknown schedule '" + name + "' (known: " + known + ")");
}

int warmup_minibatches(const std::string& name, int S, int k, int M) {
  if (name == "1f1b-async") return S - 1 - k;
  if (name == "nf1b") return (S - k + M - 2) / M;  // ceil((S-1-k)/M); stage 0 gives v = floor((S+M-2)/M)
  return 0;
}

int resolve_chunks(const std::string& name, int v) { return v == 0 ? schedule_info(name).default_chunks() : v; }

void check_schedule(const std::string& name, int S, int M, int v) {
  const ScheduleInfo& info = schedule_info(name);
  v = resolve_chunks(name, v);
  if (S < 1) throw InputError("", "stages", "must be at least 1, got " + std::to_string(S));
  if (M < 1) throw InputError("", "microbatches", "must be at least 1, got " + std::to_string(M));
  if (M > 1 && !info.takes_microbatches)
    throw InputError("", "microbatches",
                     "schedule '" + name + "' takes whole minibatches (microbatches must be 1, got " +
                         std::to_string(M) + ")" + (name == "1f1b-async" ? "; nf1b splits minibatches" : ""));
  if (v < 1) throw InputError("", "chunks", "must be at least 1, got " + std::to_string(v));
  if (info.placement == Placement::OnePerDevice && v != 1)
    throw InputError("", "chunks",
                     "schedule '" + name + "' runs one chunk per device (chunks must be 1, got " + std::to_string(v) +
                         "); interleaved-1f1b, looped-bfs, zb1p-interleaved, zbv and dualpipev take chunks");
  if (info.placement != Placement::OnePerDevice) detail::check_modern(name, S, M, v);
}

std::vector<StageOps> make_schedule(const std::string& name, int S, int M, int N, int v) {
  check_schedule(name, S, M, v);
  v = resolve_chunks(name, v);
  if (N < 0) throw InputError("", "minibatches", "must not be negative, got " + std::to_string(N));
  const ScheduleInfo& info = schedule_info(name);
  if (info.split_backward || info.placement != Placement::OnePerDevice) {
    const std::vector<StageOps> one = detail::modern_minibatch(name, S, M, v);
    std::vector<StageOps> out(S);
    for (int d = 0; d < S; ++d)
      for (int i = 0; i < N; ++i) {
        for (Op op : one[d]) {
          op.minibatch = i;
          if (v == 1) op.chunk = -1;  // one chunk per device: the device's own
          out[d].push_back(op);
        }
        out[d].push_back(U(i));
      }
    return out;
  }
  if (name == "gpipe") return gpipe(S, M, N);
  if (name == "1f1b-flush") return one_f_one_b_flush(S, M, N);
  if (name == "1f1b-async" || name == "nf1b") return async_groups(name, S, M, N);
  return per_minibatch(S, N);  // sequential, data-parallel
}

std::vector<int> chunk_devices(const std::string& name, int S, int v) {
  const Placement p = schedule_info(name).placement;
  v = resolve_chunks(name, v);
  std::vector<int> out(static_cast<std::size_t>(S * v));
  for (int c = 0; c < S * v; ++c) out[c] = p == Placement::V ? (c < S ? c : 2 * S - 1 - c) : c % S;
  return out;
}

std::string torch_notation(const StageOps& ops, int device) {
  std::string s;
  bool open = false;
  for (const Op& op : ops) {
    if (op.kind == OpKind::Update) continue;
    const std::string one = std::to_string(op.chunk < 0 ? device : op.chunk) + op_letter(op.kind) +
                            std::to_string(op.micro < 0 ? 0 : op.micro);
    if (open) {
      s += ";" + one + ")";
      open = false;
      continue;
    }
    if (!s.empty()) s += " ";
    if (op.overlap_next) {
      s += "(" + one;
      open = true;
    } else {
      s += one;
    }
  }
  return s;
}

double ideal_bubble_fraction(const std::string& name, int S, int M, int v) {
  if (is_schedule(name) && (schedule_info(name).split_backward || schedule_info(name).placement != Placement::OnePerDevice)) {
    v = resolve_chunks(name, v);
    try {
      check_schedule(name, S, M, v);
    } catch (const InputError&) {
      return 0.0;  // no such schedule: nothing to show (the run itself refuses it)
    }
    return detail::unit_time_bubble(name, S, M, v);
  }
  if (name == "gpipe" || name == "1f1b-flush") return double(S - 1) / double(M + S - 1);
  if (name == "sequential") return double(S - 1) / double(S);
  return 0.0;
}

}  // namespace ps
