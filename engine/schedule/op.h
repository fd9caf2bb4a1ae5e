// One unit of pipeline work on one device: a forward, backward (whole, or split into its input-gradient
// and weight-gradient halves) or optimizer step of a minibatch (or microbatch) of one model chunk.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ps {

// InputGrad (I) and WeightGrad (W) split a Backward (B) in two (SCHEDULES.md section 1): I passes the
// gradient to the previous chunk, W adds the chunk's own weight gradient and may wait to fill a bubble.
enum class OpKind : std::uint8_t { Forward, Backward, Update, InputGrad, WeightGrad };

struct Op {
  OpKind kind = OpKind::Forward;
  int minibatch = 0;
  int micro = -1;  // -1: the whole minibatch (or, for nf1b's backward, the whole group)
  // The model chunk (virtual stage) the op runs on, as a global index 0..S*v-1; -1 when the device
  // holds one chunk (v = 1) or, for an Update, every chunk of the device.
  int chunk = -1;
  // Issued together with the next op of the list (DualPipeV's OVERLAP pairs; one after the other on CPU).
  bool overlap_next = false;
  bool operator==(const Op& o) const {
    return kind == o.kind && minibatch == o.minibatch && micro == o.micro && chunk == o.chunk &&
           overlap_next == o.overlap_next;
  }
  bool operator!=(const Op& o) const { return !(*this == o); }
};

// "F3", "B3.1", "U3", "I3.1@2" (chunk 2): the names used by the CLI, the ledger and the trace.
std::string op_name(const Op& op);
char op_letter(OpKind kind);
// Passes that carry a gradient to the previous chunk (B and I), and passes of the backward half.
inline bool sends_gradient(OpKind k) { return k == OpKind::Backward || k == OpKind::InputGrad; }
inline bool is_backward_pass(OpKind k) { return k == OpKind::Backward || k == OpKind::InputGrad || k == OpKind::WeightGrad; }

using StageOps = std::vector<Op>;  // one device's op list

}  // namespace ps
