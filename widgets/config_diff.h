// The fields where two run configurations differ, by JSON path ("/optimizer/lr"), as the compare page
// shows them. Built on the preset JSON so it covers every field the preset format has.
#pragma once
#include <string>
#include <vector>

#include "engine/config/run_config.h"

namespace ps::ui {

struct ConfigDifference {
  std::string path;  // JSON pointer, e.g. "/strategy/name"
  std::string a;     // value in the first config ("—" when absent)
  std::string b;
};

// `source` (the preset file name) is ignored: two runs of the same preset with an override differ
// only by the override.
std::vector<ConfigDifference> config_diff(const RunConfig& a, const RunConfig& b);

}  // namespace ps::ui
