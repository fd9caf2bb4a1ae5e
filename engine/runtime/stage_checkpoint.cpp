// A stage's checkpoint: everything StageRuntime holds (weight versions, optimizer and strategy state,
// the gradients accumulated so far, the minibatches in flight), saved and loaded by name (stage.h).
#include <nlohmann/json.hpp>

#include "engine/runtime/stage.h"
#include "engine/session/checkpoint.h"
#include "engine/util/errors.h"

namespace ps {

void StageRuntime::save(Checkpoint& c, const std::string& prefix) const {
  nlohmann::json& j = c.meta["stages"][prefix];
  // Weight sets: the live one first, then every held one (former versions, computed copies).
  std::vector<const WeightSet*> sets{live_.get()};
  for (const auto& ws : held_) sets.push_back(ws.get());
  auto index_of = [&](const std::shared_ptr<WeightSet>& ws) -> int {
    if (!ws) return -1;
    for (std::size_t n = 0; n < sets.size(); ++n)
      if (sets[n] == ws.get()) return static_cast<int>(n);
    throw std::logic_error("stage " + std::to_string(setup_.index) + ": an in-flight minibatch reads weights the stage does not hold");
  };
  j["sets"] = nlohmann::json::array();
  for (std::size_t n = 0; n < sets.size(); ++n) {
    j["sets"].push_back({{"version", sets[n]->version}, {"superseded", sets[n]->superseded}});
    c.put_list(prefix + "/set" + std::to_string(n), sets[n]->params);
  }
  j["in_flight"] = nlohmann::json::array();
  int r = 0;
  for (const auto& [key, rec] : in_flight_) {
    const std::string name = prefix + "/rec" + std::to_string(r++);
    j["in_flight"].push_back({{"minibatch", key.first}, {"micro", key.second}, {"basis", rec.basis},
                              {"scale", rec.scale}, {"weights", index_of(rec.weights)}, {"pinned", index_of(rec.pinned)},
                              {"name", name}, {"input_grad_done", rec.input_grad_done}});
    c.put(name + "/input", rec.input.detach());
    c.put(name + "/labels", rec.labels);
    if (rec.input_grad_done) c.put_list(name + "/unit_grads", rec.unit_grads);
  }
  c.put_list(prefix + "/grad_acc", grad_acc_);
  j["grads_done"] = nlohmann::json::array();
  for (const auto& [mb, n] : grads_done_) j["grads_done"].push_back({{"minibatch", mb}, {"micros", n}});
  j["results"] = nlohmann::json::array();
  for (const auto& [mb, res] : results_)
    j["results"].push_back({{"minibatch", mb}, {"loss", res.loss}, {"correct", res.correct}, {"count", res.count}});
  j["copies_max"] = copies_max_;
  j["bytes_max"] = bytes_max_;
  j["activation_bytes_max"] = activation_bytes_max_;
  j["busy_ns"] = busy_ns_;
  optimizer_.save(c, prefix + "/optimizer");
  setup_.strategy->save_state(c, prefix + "/strategy");
}

void StageRuntime::load(const Checkpoint& c, const std::string& prefix) {
  const std::string where = "stages." + prefix;
  if (!c.meta.contains("stages") || !c.meta["stages"].contains(prefix))
    throw InputError(c.source, where, "missing");
  const nlohmann::json& j = c.meta["stages"][prefix];
  torch::NoGradGuard no_grad;
  std::vector<std::shared_ptr<WeightSet>> sets;
  for (std::size_t n = 0; n < j["sets"].size(); ++n) {
    const std::vector<at::Tensor> params = c.get_list(prefix + "/set" + std::to_string(n));
    std::shared_ptr<WeightSet> ws = n == 0 ? live_ : acquire_copy();
    if (params.size() != ws->params.size())
      throw InputError(c.source, where + ".sets", "the stage has " + std::to_string(ws->params.size()) +
                                                       " parameter tensors, the checkpoint " + std::to_string(params.size()));
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (!params[i].defined() || params[i].sizes() != ws->params[i].sizes())
        throw InputError(c.source, where + ".sets", "parameter " + std::to_string(i) + " has another shape");
      ws->params[i].copy_(params[i]);
    }
    ws->version = j["sets"][n]["version"].get<std::int64_t>();
    ws->superseded = j["sets"][n]["superseded"].get<bool>();
    ws->graphs = 0;
    if (n > 0) held_.push_back(ws);
    sets.push_back(ws);
  }
  auto set_at = [&](int index) -> std::shared_ptr<WeightSet> {
    if (index < 0) return nullptr;
    if (index >= static_cast<int>(sets.size())) throw InputError(c.source, where + ".in_flight", "bad weight set index");
    ++sets[static_cast<std::size_t>(index)]->graphs;
    return sets[static_cast<std::size_t>(index)];
  };
  in_flight_.clear();
  activation_bytes_ = 0;
  for (const auto& r : j["in_flight"]) {
    InFlight rec;
    const std::string name = r["name"].get<std::string>();
    rec.input = c.get(name + "/input").to(setup_.device);
    const at::Tensor labels = c.get(name + "/labels");
    if (labels.defined()) rec.labels = labels.to(setup_.device);
    rec.basis = r["basis"].get<std::int64_t>();
    rec.scale = r["scale"].get<double>();
    rec.weights = set_at(r["weights"].get<int>());
    rec.pinned = set_at(r["pinned"].get<int>());
    rec.input_grad_done = r.value("input_grad_done", false);
    if (rec.input_grad_done) {
      rec.unit_grads = c.get_list(name + "/unit_grads");
      for (auto& g : rec.unit_grads)
        if (g.defined()) g = g.to(setup_.device);
      if (rec.unit_grads.size() + 1 != unit_param_begin_.size())
        throw InputError(c.source, where + ".in_flight", "the gradients of " + std::to_string(rec.unit_grads.size()) +
                                                             " units for a chunk of " +
                                                             std::to_string(unit_param_begin_.size() - 1));
    }
    rec.counted_bytes = static_cast<std::int64_t>(rec.input.nbytes());  // no graph kept: the input only
    activation_bytes_ += rec.counted_bytes;
    for (const auto& g : rec.unit_grads) activation_bytes_ += g.defined() ? static_cast<std::int64_t>(g.nbytes()) : 0;
    in_flight_.emplace(Key{r["minibatch"].get<std::int64_t>(), r["micro"].get<int>()}, std::move(rec));
  }
  const std::vector<at::Tensor> acc = c.get_list(prefix + "/grad_acc");
  if (!acc.empty()) {
    if (acc.size() != grad_acc_.size()) throw InputError(c.source, where + ".grad_acc", "wrong number of tensors");
    for (std::size_t i = 0; i < acc.size(); ++i) grad_acc_[i] = acc[i].defined() ? acc[i].to(setup_.device) : at::Tensor();
  }
  grads_done_.clear();
  if (j.contains("grads_done"))
    for (const auto& g : j["grads_done"]) grads_done_[g["minibatch"].get<std::int64_t>()] = g["micros"].get<int>();
  results_.clear();
  for (const auto& r : j["results"]) {
    MinibatchResult res;
    res.minibatch = r["minibatch"].get<std::int64_t>();
    res.loss = r["loss"].get<double>();
    res.correct = r["correct"].get<std::int64_t>();
    res.count = r["count"].get<std::int64_t>();
    results_[res.minibatch] = res;
  }
  copies_max_ = j["copies_max"].get<int>();
  bytes_max_ = j["bytes_max"].get<std::int64_t>();
  activation_bytes_max_ = j["activation_bytes_max"].get<std::int64_t>();
  busy_ns_ = j["busy_ns"].get<std::int64_t>();
  optimizer_.load(c, prefix + "/optimizer", setup_.device);
  setup_.strategy->load_state(c, prefix + "/strategy", setup_.device);
}

}  // namespace ps
