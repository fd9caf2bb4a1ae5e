#include "engine/runtime/weight_grads.h"

#include <torch/csrc/autograd/engine.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <algorithm>
#include <utility>
#include <unordered_map>

namespace ps {

using torch::autograd::Edge;
using torch::autograd::Node;
using torch::autograd::variable_list;

namespace {

// Keeps the gradients a node receives (its inputs in the backward) while `armed`.
struct Capture : torch::autograd::FunctionPreHook {
  explicit Capture(std::shared_ptr<variable_list> slot) : slot(std::move(slot)) {}
  variable_list operator()(const variable_list& grads) override {
    *slot = grads;
    return grads;
  }
  std::shared_ptr<variable_list> slot;
};

}  // namespace

struct WeightGradStore::Entry {
  std::shared_ptr<Node> node;
  std::shared_ptr<variable_list> grads = std::make_shared<variable_list>();
  torch::autograd::FunctionPreHook* hook = nullptr;  // owned by the node while armed
  std::vector<std::size_t> data_edges;  // next edges on the data path (cut while W runs the node)
  std::vector<Edge> outputs;            // the weights' gradient edges below the node
  std::vector<std::size_t> params;      // their indices, in the order of outputs
};

WeightGradStore::WeightGradStore() = default;
WeightGradStore::~WeightGradStore() { disarm(); }
WeightGradStore::WeightGradStore(WeightGradStore&&) noexcept = default;
WeightGradStore& WeightGradStore::operator=(WeightGradStore&&) noexcept = default;

bool WeightGradStore::arm(const at::Tensor& output, const std::vector<at::Tensor>& params,
                          const std::vector<at::Tensor>& targets) {
  clear();
  const std::shared_ptr<Node> root = output.grad_fn();
  if (!root) return false;
  std::unordered_map<const Node*, std::size_t> weight_of;  // a weight's AccumulateGrad -> its index
  for (std::size_t i = 0; i < params.size(); ++i)
    if (auto acc = torch::autograd::impl::try_get_grad_accumulator(params[i])) weight_of[acc.get()] = i;
  std::unordered_map<const Node*, bool> target;  // where I's gradients are asked for
  for (const auto& t : targets)
    if (t.defined() && t.requires_grad()) target[torch::autograd::impl::gradient_edge(t).function.get()] = true;
  // data(n): I walks n (a path from n reaches a gradient I asks for). weights_only(n): not data, and
  // every path down from n ends in a weight (the weight side of a weight op, such as the transpose of a
  // Linear's weight, or a first layer unit below the gradient at its output); with the weights it
  // reaches. Graphs are DAGs: memoised.
  struct Info {
    bool data = false, weights_only = false;
    std::vector<std::size_t> weights;
  };
  std::unordered_map<const Node*, Info> info;
  std::vector<std::shared_ptr<Node>> data_nodes;
  std::function<const Info&(const std::shared_ptr<Node>&)> visit = [&](const std::shared_ptr<Node>& n) -> const Info& {
    if (auto it = info.find(n.get()); it != info.end()) return it->second;
    Info mine;
    if (auto w = weight_of.find(n.get()); w != weight_of.end()) {
      mine.weights_only = true;
      mine.weights.push_back(w->second);
    } else {
      bool any = false, all = true;
      mine.data = target.count(n.get()) > 0;
      for (const Edge& e : n->next_edges()) {
        if (!e.is_valid()) continue;
        any = true;
        const Info& below = visit(e.function);
        mine.data = mine.data || below.data;
        if (below.weights_only) mine.weights.insert(mine.weights.end(), below.weights.begin(), below.weights.end());
        else all = false;
      }
      mine.weights_only = !mine.data && any && all;
      if (mine.data) data_nodes.push_back(n);
    }
    return info.emplace(n.get(), std::move(mine)).first->second;
  };
  if (!visit(root).data) return false;
  // A weight node: walked by I, with an edge into a weights-only part. Each path from the output to a
  // weight enters the weights-only part once, so the weight nodes' parts sum to the weight's gradient.
  for (const auto& n : data_nodes) {
    Entry e;
    bool weights_below = false;
    const auto& edges = n->next_edges();
    for (std::size_t k = 0; k < edges.size(); ++k) {
      if (!edges[k].is_valid()) continue;
      const Info& below = info.at(edges[k].function.get());
      if (!below.weights_only) {
        e.data_edges.push_back(k);
        continue;
      }
      weights_below = true;
      for (std::size_t i : below.weights)
        if (std::find(e.params.begin(), e.params.end(), i) == e.params.end()) {
          e.params.push_back(i);
          e.outputs.push_back(torch::autograd::impl::gradient_edge(params[i]));
        }
    }
    if (!weights_below) continue;
    e.node = n;
    auto hook = std::make_unique<Capture>(e.grads);
    e.hook = hook.get();
    n->add_pre_hook(std::move(hook));
    entries_.push_back(std::move(e));
  }
  return !entries_.empty();
}

void WeightGradStore::disarm() {
  for (Entry& e : entries_) {
    if (!e.hook || !e.node) continue;
    auto& hooks = e.node->pre_hooks();
    hooks.erase(std::remove_if(hooks.begin(), hooks.end(), [&](const auto& h) { return h.get() == e.hook; }), hooks.end());
    e.hook = nullptr;
  }
}

bool WeightGradStore::settle(const std::vector<std::size_t>& unit_param_begin, std::vector<bool>& by_unit) {
  auto fired = [](const Entry& e) {
    return std::any_of(e.grads->begin(), e.grads->end(), [](const at::Tensor& g) { return g.defined(); });
  };
  const std::size_t units = unit_param_begin.empty() ? 0 : unit_param_begin.size() - 1;
  auto unit_of = [&](std::size_t i) {
    return static_cast<std::size_t>(std::upper_bound(unit_param_begin.begin(), unit_param_begin.end(), i) -
                                    unit_param_begin.begin()) - 1;
  };
  std::vector<std::size_t> covered(units, 0);  // weights reached by a node that received its gradient
  std::vector<bool> reached(unit_param_begin.empty() ? 0 : unit_param_begin.back(), false);
  for (const Entry& e : entries_)
    if (fired(e))
      for (std::size_t i : e.params)
        if (!reached[i]) reached[i] = true, ++covered[unit_of(i)];
  by_unit.assign(units, false);
  for (std::size_t u = 0; u < units; ++u) {
    const std::size_t n = unit_param_begin[u + 1] - unit_param_begin[u];
    if (covered[u] != 0 && covered[u] != n) return false;  // a unit half done by nodes: all unit by unit
    by_unit[u] = n > 0 && covered[u] == 0;
  }
  // A node I did not walk (below the gradient I asks for at a first unit's output) must lie in a unit
  // that W takes whole; else part of a weight's gradient would be lost.
  for (const Entry& e : entries_)
    if (!fired(e))
      for (std::size_t i : e.params)
        if (!by_unit[unit_of(i)]) return false;
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return !fired(e); }),
                 entries_.end());
  return !entries_.empty();
}

void WeightGradStore::run(const std::function<void(std::size_t, const at::Tensor&)>& add) {
  auto& engine = torch::autograd::Engine::get_default_engine();
  for (Entry& e : entries_) {
    // The node with its data-path edges cut: the engine then sees only the weight side below it (a
    // Linear's addmm computes its weight and bias gradients, not its input gradient again), and its
    // walk of the graph stops there. Restored afterwards, whatever happens.
    auto& edges = e.node->next_edges();
    std::vector<Edge> cut;
    for (std::size_t k : e.data_edges) cut.push_back(std::exchange(edges[k], Edge()));
    struct Restore {
      std::vector<Edge>& edges;
      const std::vector<std::size_t>& at;
      std::vector<Edge>& cut;
      ~Restore() {
        for (std::size_t i = 0; i < at.size(); ++i) edges[at[i]] = std::move(cut[i]);
      }
    } restore{edges, e.data_edges, cut};
    std::vector<Edge> roots;
    variable_list grads;
    for (std::uint32_t k = 0; k < e.grads->size(); ++k)
      if ((*e.grads)[k].defined()) {
        roots.emplace_back(e.node, k);
        grads.push_back((*e.grads)[k]);
      }
    // keep_graph: a weights-only node may sit below two weight nodes.
    const variable_list out = engine.execute(roots, grads, /*keep_graph=*/true, /*create_graph=*/false,
                                             /*accumulate_grad=*/false, e.outputs);
    for (std::size_t j = 0; j < out.size(); ++j)
      if (out[j].defined()) add(e.params[j], out[j]);
  }
}

std::int64_t WeightGradStore::bytes() const {
  std::int64_t n = 0;
  for (const Entry& e : entries_)
    for (const auto& g : *e.grads)
      if (g.defined()) n += static_cast<std::int64_t>(g.nbytes());
  return n;
}

void WeightGradStore::clear() {
  disarm();
  entries_.clear();
}

}  // namespace ps
