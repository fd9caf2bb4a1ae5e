// Error-message helpers shared by the config reader and the strategy catalogue: the nearest known
// name for a typo, and the "unknown X 'y'; did you mean 'z'? (known: ...)" reason built from it; and the
// optimizer settings a strategy needs, as changes and as the command-line flags that make them.
#pragma once
#include <string>
#include <vector>

namespace ps {

struct RunConfig;

// Edit distance: insertions, deletions, substitutions and swaps of two neighbouring letters each cost 1
// (optimal string alignment).
int edit_distance(const std::string& a, const std::string& b);

// The known name closest to `word`, or "" when none is close enough to be a plausible typo.
std::string nearest_name(const std::string& word, const std::vector<std::string>& known);

// "a, b, c"
std::string join_names(const std::vector<std::string>& names);

// "unknown <what> 'word'; did you mean 'x'? (known: a, b, c)"; the suggestion only when one is close.
std::string unknown_name_reason(const std::string& what, const std::string& word,
                                const std::vector<std::string>& known);

// One setting to change: `path` as --set names it, the new and the old value as --set writes them.
struct SettingChange {
  std::string path;
  std::string value;
  std::string was;
  bool needed = true;  // false: advised, not required (Adam's usual learning rate in place of SGD's)
};

// What the optimizer must become for cfg's strategy (spectrain and nesterov: SGD, nesterov with Nesterov
// momentum > 0; adam-predict: Adam, with Adam's usual rate when the rate is far above it); empty when it
// fits. The same rule as validate()'s strategy check, which refuses what this would change.
std::vector<SettingChange> strategy_optimizer_changes(const RunConfig& cfg);

// The flags that make `changes` on the pipescope-cli command line: "--set optimizer.name=adam --lr 0.001".
std::string setting_flags(const std::vector<SettingChange>& changes);

}  // namespace ps
