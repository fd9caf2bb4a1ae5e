#include "engine/config/suggest.h"

#include <algorithm>
#include <cctype>

#include "engine/config/config_fields.h"
#include "engine/config/run_config.h"

namespace ps {

int edit_distance(const std::string& a, const std::string& b) {
  // Three rows of the table: two letters swapped ("stpes" for "steps") is one typo, not two.
  std::vector<int> before(b.size() + 1), above(b.size() + 1), row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) above[j] = static_cast<int>(j);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    row[0] = static_cast<int>(i);
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const int substitute = above[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above[j] + 1, row[j - 1] + 1, substitute});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) row[j] = std::min(row[j], before[j - 2] + 1);
    }
    before.swap(above);
    above.swap(row);
  }
  return above[b.size()];
}

std::string nearest_name(const std::string& word, const std::vector<std::string>& known) {
  std::string lower = word;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  std::string best;
  int best_distance = 0;
  std::size_t best_shared = 0;
  for (const auto& name : known) {
    // A word that is the start of a name ("warmup" for "warmup_steps") is as good as a one-letter typo.
    const bool prefix = lower.size() >= 4 && name.compare(0, lower.size(), lower) == 0;
    const int d = prefix ? 1 : edit_distance(lower, name);
    // Between names as far away, the one that starts like the word ("lrate": "lr", not "name").
    std::size_t shared = 0;
    while (shared < lower.size() && shared < name.size() && lower[shared] == name[shared]) ++shared;
    if (best.empty() || d < best_distance || (d == best_distance && shared > best_shared)) {
      best = name;
      best_distance = d;
      best_shared = shared;
    }
  }
  // A plausible typo changes at most a third of the word (and at least two letters are allowed).
  const int allowed = std::max<int>(2, static_cast<int>(std::max(word.size(), best.size()) / 3));
  return best_distance <= allowed ? best : std::string();
}

std::string join_names(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

std::string unknown_name_reason(const std::string& what, const std::string& word,
                                const std::vector<std::string>& known) {
  std::string reason = "unknown " + what + " '" + word + "'";
  const std::string suggestion = nearest_name(word, known);
  if (!suggestion.empty()) reason += "; did you mean '" + suggestion + "'?";
  return reason + " (known: " + join_names(known) + ")";
}

std::vector<SettingChange> strategy_optimizer_changes(const RunConfig& cfg) {
  const std::string& s = cfg.strategy.name;
  const OptimizerConfig& o = cfg.optimizer;
  std::vector<SettingChange> out;
  const auto yes_no = [](bool b) { return std::string(b ? "true" : "false"); };
  if ((s == "spectrain" || s == "nesterov") && o.name != "sgd") out.push_back({"optimizer.name", "sgd", o.name});
  if (s == "nesterov" && !o.nesterov) out.push_back({"optimizer.nesterov", "true", "false"});
  if (s == "nesterov" && o.momentum <= 0) out.push_back({"optimizer.momentum", "0.9", number_text(o.momentum)});
  if (s == "adam-predict" && o.name != "adam") {
    out.push_back({"optimizer.name", "adam", o.name});
    if (o.nesterov) out.push_back({"optimizer.nesterov", "false", yes_no(o.nesterov)});
    // SGD's usual rates make Adam diverge: Adam's usual one when the rate is far above it.
    if (o.lr > 0.01) {
      out.push_back({"optimizer.lr", "0.001", number_text(o.lr), false});
      if (cfg.lr_schedule.min_lr > 0.001)
        out.push_back({"lr_schedule.min_lr", "0", number_text(cfg.lr_schedule.min_lr), false});
    }
  }
  return out;
}

std::string setting_flags(const std::vector<SettingChange>& changes) {
  std::string flags;
  for (const auto& c : changes)
    flags += (flags.empty() ? "" : " ") + (c.path == "optimizer.lr" ? "--lr " + c.value : "--set " + c.path + "=" + c.value);
  return flags;
}

}  // namespace ps
