// Error-message helpers shared by the config reader and the strategy catalogue: the nearest known
// name for a typo, and the "unknown X 'y'; did you mean 'z'? (known: ...)" reason built from it.
#pragma once
#include <string>
#include <vector>

namespace ps {

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

}  // namespace ps
