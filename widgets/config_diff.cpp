#include "widgets/config_diff.h"

#include <nlohmann/json.hpp>
#include <set>

#include "widgets/run_library.h"

namespace ps::ui {
namespace {

std::string value_text(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

std::vector<ConfigDifference> config_diff(const RunConfig& a, const RunConfig& b) {
  RunConfig left = a, right = b;
  left.source.clear();
  right.source.clear();
  const nlohmann::json fa = nlohmann::json::parse(preset_to_json(left)).flatten();
  const nlohmann::json fb = nlohmann::json::parse(preset_to_json(right)).flatten();
  std::set<std::string> keys;
  for (auto it = fa.begin(); it != fa.end(); ++it) keys.insert(it.key());
  for (auto it = fb.begin(); it != fb.end(); ++it) keys.insert(it.key());
  std::vector<ConfigDifference> out;
  for (const std::string& key : keys) {
    // flatten() writes an empty object or list as null: that is an absent value, not a difference of
    // its own (it gave "strategy.params: null vs —" beside the parameter's own row).
    const bool in_a = fa.contains(key) && !fa[key].is_null(), in_b = fb.contains(key) && !fb[key].is_null();
    if (!in_a && !in_b) continue;
    if (in_a && in_b && fa[key] == fb[key]) continue;
    out.push_back({key, in_a ? value_text(fa[key]) : "—", in_b ? value_text(fb[key]) : "—"});
  }
  return out;
}

std::vector<ConfigDifference> run_config_diff(const RunRecord& a, const RunRecord& b) {
  std::vector<ConfigDifference> all = config_diff(a.config, b.config);
  if (!a.partial_config && !b.partial_config) return all;
  std::vector<ConfigDifference> known;
  for (ConfigDifference& d : all)
    if (known_from_summary(d.path)) known.push_back(std::move(d));
  return known;
}

std::string repartition_history(const RunRecord& run) {
  auto list = [](const std::vector<int>& v) {
    std::string s;
    for (int b : v) s += (s.empty() ? "" : ",") + std::to_string(b);
    return s;
  };
  std::string out;
  for (const RunMark& m : run.marks)
    if (m.kind == "repartition")
      out += (out.empty() ? "" : "; ") + ("step " + std::to_string(m.step) + ": " + list(m.before) + " \u2192 " + list(m.after));
  return out.empty() ? "none" : out;
}

std::vector<RunFact> run_facts(const std::vector<const RunRecord*>& runs) {
  std::vector<RunFact> facts;
  auto add = [&](const std::string& field, auto value_of, bool always) {
    RunFact f{field, {}, true};
    bool any = false;
    for (const RunRecord* r : runs) {
      const auto [text, present] = value_of(*r);
      f.values.push_back(text);
      any = any || present;
    }
    for (const std::string& v : f.values) f.same = f.same && v == f.values.front();
    if (always || any) facts.push_back(std::move(f));
  };
  add("weights digest", [](const RunRecord& r) {
    return std::pair{r.summary.weights_digest.empty() ? std::string("— (not ended)") : r.summary.weights_digest, true};
  }, true);
  add("resumed from", [](const RunRecord& r) {
    return std::pair{r.resumed_from.isEmpty() ? std::string("—") : r.resumed_from.toStdString(), !r.resumed_from.isEmpty()};
  }, false);
  add("repartitions", [](const RunRecord& r) {
    const std::string h = repartition_history(r);
    return std::pair{h, h != "none"};
  }, false);
  return facts;
}

}  // namespace ps::ui
