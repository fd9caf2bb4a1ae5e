// Small synthetic inputs shared by the widget tests.
#pragma once
#include <string>
#include <vector>

#include "engine/models/model_info.h"
#include "engine/telemetry/events.h"

namespace ps::test {

// `n` units; unit i has (i+1)*1000 parameters and forward flops given by `flops` (cycled).
inline ModelInfo make_model(int n, std::vector<double> flops = {1e6}) {
  ModelInfo m;
  m.name = "synthetic";
  m.input_shape = {8};
  m.num_classes = 2;
  for (int i = 0; i < n; ++i) {
    UnitInfo u;
    u.name = "unit" + std::to_string(i);
    u.kind = "linear";
    u.params = (i + 1) * 1000;
    u.output_shape = {16};
    u.forward_flops = flops[static_cast<std::size_t>(i) % flops.size()];
    u.activation_bytes = 64;
    m.units.push_back(u);
  }
  return m;
}

inline OpEvent make_op(int stage, OpKind kind, int minibatch, std::int64_t t0, std::int64_t t1,
                       std::int64_t live = 0, std::int64_t basis = 0, std::int64_t target = 0) {
  OpEvent e;
  e.stage = stage;
  e.kind = kind;
  e.minibatch = minibatch;
  e.t_start_ns = t0;
  e.t_end_ns = t1;
  e.live_version = live;
  e.basis_version = basis;
  e.target_version = target;
  return e;
}

// A 1F1B-like stream: stage k runs F(i) then B(i) then U(i) back to back for `minibatches`, each op
// `op_ns` long, stage k shifted by k ops. Ops on one stage never overlap.
inline TelemetryBatch make_stream(int stages, int minibatches, std::int64_t op_ns) {
  TelemetryBatch b;
  for (int k = 0; k < stages; ++k) {
    std::int64_t t = k * op_ns;
    for (int i = 0; i < minibatches; ++i) {
      for (OpKind kind : {OpKind::Forward, OpKind::Backward, OpKind::Update}) {
        const std::int64_t len = kind == OpKind::Update ? op_ns / 10 : op_ns;
        b.ops.push_back(make_op(k, kind, i, t, t + len, i, i, i));
        t += len;
      }
    }
  }
  return b;
}

}  // namespace ps::test
