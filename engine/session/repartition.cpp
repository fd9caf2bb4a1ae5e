#include "engine/session/repartition.h"
#include "engine/util/initial_weights.h"

#include "engine/session/session_impl.h"

#include <ATen/ATen.h>

#include <map>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>

namespace ps {
namespace {

std::string stage_key(std::size_t k) { return "s" + std::to_string(k); }

// The per-tensor lists a stage record holds, by name after "s<k>/": "set0", "grad_acc", "optimizer/buf", ...
std::set<std::string> list_suffixes(const Checkpoint& c, std::size_t stages) {
  std::set<std::string> out;
  if (!c.meta.contains("lists")) return out;
  for (const auto& [name, size] : c.meta["lists"].items()) {
    for (std::size_t k = 0; k < stages; ++k) {
      const std::string prefix = stage_key(k) + "/";
      if (name.compare(0, prefix.size(), prefix) == 0) out.insert(name.substr(prefix.size()));
    }
  }
  return out;
}

}  // namespace

Checkpoint reslice_stages(const Checkpoint& c, const std::vector<std::size_t>& old_counts,
                          const std::vector<std::size_t>& new_counts) {
  const std::size_t S = old_counts.size(), T = new_counts.size();
  std::vector<std::size_t> old_off(S + 1, 0), new_off(T + 1, 0);
  for (std::size_t k = 0; k < S; ++k) old_off[k + 1] = old_off[k] + old_counts[k];
  for (std::size_t j = 0; j < T; ++j) new_off[j + 1] = new_off[j] + new_counts[j];
  if (old_off[S] != new_off[T])
    throw std::logic_error("repartition: the partitions hold " + std::to_string(old_off[S]) + " and " +
                           std::to_string(new_off[T]) + " parameter tensors");

  const nlohmann::json& recs = c.meta["stages"];
  std::int64_t live_version = -1, opt_steps = -1;
  for (std::size_t k = 0; k < S; ++k) {
    const nlohmann::json& r = recs.at(stage_key(k));
    if (!r["in_flight"].empty() || !r["results"].empty())
      throw std::logic_error("repartition: stage " + std::to_string(k) + " still has minibatches in flight");
    const std::int64_t v = r["sets"].at(0)["version"].get<std::int64_t>();
    if (live_version >= 0 && v != live_version)
      throw std::logic_error("repartition: the stages disagree on their live version (" + std::to_string(live_version) +
                             " and " + std::to_string(v) + ")");
    live_version = v;
    const std::string opt = stage_key(k) + "/optimizer";
    if (c.meta.contains("optimizers") && c.meta["optimizers"].contains(opt)) {
      const std::int64_t steps = c.meta["optimizers"][opt]["steps"].get<std::int64_t>();
      if (opt_steps >= 0 && steps != opt_steps)
        throw std::logic_error("repartition: the stages disagree on their optimizer step");
      opt_steps = steps;
    }
  }

  // The whole model's tensors, list by list: the stages' lists one after the other. A stage that has
  // none of a list (a buffer it never needed) contributes zeros of its parameters' shapes (an empty
  // accumulated gradient stays absent).
  std::vector<at::Tensor> live;
  for (std::size_t k = 0; k < S; ++k) {
    const auto set0 = c.get_list(stage_key(k) + "/set0");
    if (set0.size() != old_counts[k])
      throw std::logic_error("repartition: stage " + std::to_string(k) + " saved " + std::to_string(set0.size()) +
                             " live tensors for " + std::to_string(old_counts[k]));
    live.insert(live.end(), set0.begin(), set0.end());
  }
  static const std::regex set_name("set[0-9]+");
  std::map<std::string, std::vector<at::Tensor>> whole;  // per list suffix (weight sets apart)
  for (const std::string& suffix : list_suffixes(c, S)) {
    if (std::regex_match(suffix, set_name)) continue;
    std::vector<at::Tensor> all;
    bool any = false;
    for (std::size_t k = 0; k < S; ++k) any = any || !c.get_list(stage_key(k) + "/" + suffix).empty();
    if (!any) continue;
    for (std::size_t k = 0; k < S; ++k) {
      std::vector<at::Tensor> part = c.get_list(stage_key(k) + "/" + suffix);
      if (part.empty()) part.resize(old_counts[k]);
      if (part.size() != old_counts[k])
        throw std::logic_error("repartition: stage " + std::to_string(k) + "'s list " + suffix + " has " +
                               std::to_string(part.size()) + " tensors for " + std::to_string(old_counts[k]));
      for (std::size_t i = 0; i < part.size(); ++i) {
        at::Tensor t = part[i];
        if (!t.defined() && suffix != "grad_acc") t = at::zeros_like(live[old_off[k] + i]);
        all.push_back(t);
      }
    }
    whole[suffix] = std::move(all);
  }
  // Older weight versions: per old stage, version -> its set index.
  std::vector<std::map<std::int64_t, std::size_t>> held(S);
  for (std::size_t k = 0; k < S; ++k) {
    const nlohmann::json& sets = recs.at(stage_key(k))["sets"];
    for (std::size_t n = 1; n < sets.size(); ++n)
      if (sets[n]["superseded"].get<bool>()) held[k].emplace(sets[n]["version"].get<std::int64_t>(), n);
  }

  Checkpoint out;
  out.source = c.source;
  for (std::size_t j = 0; j < T; ++j) {
    const std::string key = stage_key(j);
    const std::size_t lo = new_off[j], hi = new_off[j + 1];
    // The old stages this one takes tensors from (its own index when it has no tensors at all).
    std::vector<std::size_t> sources;
    for (std::size_t k = 0; k < S; ++k)
      if (old_off[k] < hi && lo < old_off[k + 1]) sources.push_back(k);
    const std::size_t same = std::min(j, S - 1);
    if (sources.empty()) sources.push_back(same);
    auto slice = [&](const std::vector<at::Tensor>& all) {
      return std::vector<at::Tensor>(all.begin() + static_cast<std::ptrdiff_t>(lo), all.begin() + static_cast<std::ptrdiff_t>(hi));
    };

    const nlohmann::json& own = recs.at(stage_key(same));
    nlohmann::json rec;
    rec["sets"] = nlohmann::json::array();
    rec["sets"].push_back({{"version", live_version}, {"superseded", false}});
    out.put_list(key + "/set0", slice(live));
    std::size_t n = 1;
    for (const auto& [version, index] : held[sources.front()]) {
      bool everywhere = true;
      for (std::size_t k : sources) everywhere = everywhere && held[k].count(version);
      if (!everywhere) continue;
      std::vector<at::Tensor> tensors;
      for (std::size_t k : sources) {
        const auto part = c.get_list(stage_key(k) + "/set" + std::to_string(held[k].at(version)));
        for (std::size_t i = 0; i < part.size(); ++i) {
          const std::size_t g = old_off[k] + i;
          if (g >= lo && g < hi) tensors.push_back(part[i]);
        }
      }
      rec["sets"].push_back({{"version", version}, {"superseded", true}});
      out.put_list(key + "/set" + std::to_string(n++), tensors);
    }
    rec["in_flight"] = nlohmann::json::array();
    rec["results"] = nlohmann::json::array();
    for (const char* stat : {"copies_max", "bytes_max", "activation_bytes_max", "busy_ns"}) rec[stat] = own[stat];
    out.meta["stages"][key] = rec;
    for (const auto& [suffix, all] : whole) out.put_list(key + "/" + suffix, slice(all));
    if (!out.meta.contains("lists") || !out.meta["lists"].contains(key + "/grad_acc"))
      out.put_list(key + "/grad_acc", {});
    const std::string opt = stage_key(same) + "/optimizer";
    if (c.meta.contains("optimizers") && c.meta["optimizers"].contains(opt))
      out.meta["optimizers"][key + "/optimizer"] = c.meta["optimizers"][opt];
    const std::string strategy = stage_key(same) + "/strategy";
    if (c.meta.contains("strategies") && c.meta["strategies"].contains(strategy))
      out.meta["strategies"][key + "/strategy"] = c.meta["strategies"][strategy];
  }
  return out;
}

// The ops of the first `k` minibatches of a segment, in their order: the segment then ends with a flush
// after them. Ops of one minibatch wait only for ops of the same or earlier minibatches, so the lists
// still run to the end, and what ran before a cut is a prefix of them (a cut's positions stay valid).
std::vector<StageOps> first_minibatches(const std::vector<StageOps>& ops, std::int64_t k) {
  std::vector<StageOps> out(ops.size());
  for (std::size_t s = 0; s < ops.size(); ++s)
    for (const Op& op : ops[s])
      if (op.minibatch < k) out[s].push_back(op);
  return out;
}

// How many of a segment's minibatches have started by a cut (one past the latest op's).
std::int64_t started_minibatches(const std::vector<StageOps>& ops, const PipelineCut& cut) {
  std::int64_t started = 0;
  for (std::size_t s = 0; s < ops.size() && s < cut.next.size(); ++s)
    for (std::size_t i = 0; i < cut.next[s]; ++i) started = std::max<std::int64_t>(started, ops[s][i].minibatch + 1);
  return started;
}

void Session::Impl::apply_repartition(const std::vector<int>& to) {
  // The request stays pending until its partition is in effect (pending_partition() and partition() never
  // both say the old one): it is dropped with the swap below, unless a newer one replaced it meanwhile.
  const auto drop_request = [&] {
    if (repart && repart->boundaries == to) repart.reset();
  };
  std::vector<int> from;
  {
    std::lock_guard<std::mutex> lock(mu);
    from = boundaries;
    if (to == from) {
      drop_request();
      return;
    }
  }
  const int S = pipeline->num_stages();
  const std::vector<StageRange> to_ranges = stage_ranges(to, builder->num_units());
  // The drained stages' whole state, re-sliced to the new partition.
  Checkpoint state;
  std::vector<std::size_t> old_counts, new_counts;
  for (int k = 0; k < S; ++k) {
    pipeline->stage(k).save(state, "s" + std::to_string(k));
    old_counts.push_back(pipeline->stage(k).live_params().size());
  }
  std::vector<std::unique_ptr<StageRuntime>> stages;
  {
    // Building modules draws initial weights from the default generator: leave the run's draws as they were.
    auto weights_lock = lock_initial_weights();
    at::Generator gen = at::detail::getDefaultCPUGenerator();
    at::Tensor rng;
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      rng = gen.get_state();
    }
    for (int k = 0; k < S; ++k) stages.push_back(make_stage(k, S, to_ranges[static_cast<std::size_t>(k)]));
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(rng);
  }
  for (const auto& st : stages) new_counts.push_back(st->live_params().size());
  const Checkpoint moved = reslice_stages(state, old_counts, new_counts);
  for (int k = 0; k < S; ++k) stages[static_cast<std::size_t>(k)]->load(moved, "s" + std::to_string(k));
  std::unique_ptr<Pipeline> next = make_pipeline(std::move(stages));

  RunMark mark;
  mark.kind = "repartition";
  mark.t_ns = started ? std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - origin).count() : 0;
  mark.step = steps_done;
  mark.before = from;
  mark.after = to;
  auto list = [](const std::vector<int>& b) {
    std::string t;
    for (int v : b) t += (t.empty() ? "" : ",") + std::to_string(v);
    return t;
  };
  mark.text = "partition " + list(from) + " -> " + list(to) + " at step " + std::to_string(mark.step);
  {
    std::lock_guard<std::mutex> lock(mu);
    std::swap(pipeline, next);  // summaries read the pipeline under mu
    boundaries = to;
    drop_request();
    ranges = to_ranges;
    repartitioned = true;
    if (started) new_marks.push_back(mark);
  }
}  // the old stages go here, outside the lock

}  // namespace ps
