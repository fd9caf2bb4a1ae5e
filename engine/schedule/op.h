// One unit of pipeline work: a forward, backward or optimizer step of a minibatch (or microbatch).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ps {

enum class OpKind : std::uint8_t { Forward, Backward, Update };

struct Op {
  OpKind kind = OpKind::Forward;
  int minibatch = 0;
  int micro = -1;  // -1: the whole minibatch (or, for nf1b's backward, the whole group)
  bool operator==(const Op& o) const { return kind == o.kind && minibatch == o.minibatch && micro == o.micro; }
  bool operator!=(const Op& o) const { return !(*this == o); }
};

// "F3", "B3.1", "U3": the names used by the CLI, the ledger and the trace.
std::string op_name(const Op& op);
char op_letter(OpKind kind);

using StageOps = std::vector<Op>;

}  // namespace ps
