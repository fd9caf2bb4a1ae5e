// Live repartition: the state of drained stages, re-sliced from one partition of the model to another.
// Internal to the engine (LibTorch types through Checkpoint).
//
// A stage's parameter tensors are its units' tensors in unit order, so the whole model's are the
// stages' lists one after the other, whatever the partition. StageRuntime::save writes every per-tensor
// list of a stage (each weight version it holds, accumulated gradients, optimizer moments, a strategy's
// buffers) under "s<k>/..."; re-slicing concatenates each list over the old stages and cuts it again at
// the new stages' tensor counts, so that StageRuntime::load of freshly built stages of the new partition
// takes it as their own. Per-stage scalars (a strategy's delays, the stage's statistics) belong to the
// stage position and stay with its index.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/schedule/op.h"
#include "engine/session/checkpoint.h"

namespace ps {

// `stages`: records "s0".."s<S-1>" as StageRuntime::save wrote them for a drained pipeline (no minibatch
// in flight), whose stage k held old_counts[k] parameter tensors. Returns records "s0".."s<S'-1>" for
// stages of new_counts[j] tensors (the sums must agree). Weight versions: the live one, plus every older
// version that all of a new stage's source stages hold (a version only some of them hold cannot be put
// together, and no strategy reads one after a flush). Throws std::logic_error when the pipeline was not
// drained or the stages disagree on their live version or optimizer step.
Checkpoint reslice_stages(const Checkpoint& stages, const std::vector<std::size_t>& old_counts,
                          const std::vector<std::size_t>& new_counts);

struct PipelineCut;

// The ops of the first `k` minibatches of a segment, in their order: the segment then ends with a flush
// after them (a live repartition's drain).
std::vector<StageOps> first_minibatches(const std::vector<StageOps>& ops, std::int64_t k);
// How many of a segment's minibatches have started by a cut (one past the latest op's).
std::int64_t started_minibatches(const std::vector<StageOps>& ops, const PipelineCut& cut);

}  // namespace ps
