// The weight-gradient store of a split backward (SCHEDULES.md section 3, "a weight-gradient store").
// I walks the chunk's graph once, from the output to the chunk's input; on the way every weight op's
// backward node (the node where the data path meets a weight: the addmm of a Linear, a convolution, a
// layer norm) receives the gradient of its output. The store hooks those nodes for the duration of I
// and keeps what arrives. W then runs each such node's own backward once more from its stored gradient,
// with its data-path edges cut so that it computes only its weight side: the weight half of each op,
// nothing of the data path again.
// So I + W costs what B costs even when a layer unit holds many weight ops (a transformer block), where
// re-walking the unit from its output would redo most of the unit's backward.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>

namespace torch::autograd {
struct Node;
struct FunctionPreHook;
}  // namespace torch::autograd

namespace ps {

class WeightGradStore {
 public:
  WeightGradStore();
  ~WeightGradStore();
  WeightGradStore(WeightGradStore&&) noexcept;
  WeightGradStore& operator=(WeightGradStore&&) noexcept;

  // Finds the weight nodes of `output`'s graph over `params` (the chunk's weights, leaves) that I walks
  // on its way to `targets` (the gradients I asks for: the chunk's input, every unit's output) and hooks
  // them. False, and nothing hooked, when there are none.
  bool arm(const at::Tensor& output, const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& targets);
  void disarm();  // after I: removes the hooks
  // After I: keeps the weight nodes that received their gradient. True when those and whole layer units
  // account for every weight: by_unit[u] then says which units W takes unit by unit, from the gradient
  // at the unit's output (the first chunk's first unit, below the first gradient I asks for). False:
  // W takes every unit that way. `unit_param_begin`: where each unit's weights start in `params`.
  bool settle(const std::vector<std::size_t>& unit_param_begin, std::vector<bool>& by_unit);
  // W: each weight node's own backward from its stored gradient, into the weights below it; `add` gets
  // (index into params, gradient) for every weight reached, once per weight node above it.
  void run(const std::function<void(std::size_t, const at::Tensor&)>& add);
  std::int64_t bytes() const;  // the gradients held between I and W
  void clear();

 private:
  struct Entry;
  std::vector<Entry> entries_;
};

}  // namespace ps
