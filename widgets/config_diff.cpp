#include "widgets/config_diff.h"

#include <nlohmann/json.hpp>
#include <set>

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

}  // namespace ps::ui
