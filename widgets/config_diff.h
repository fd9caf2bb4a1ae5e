// The fields where two run configurations differ, by JSON path ("/optimizer/lr"), as the compare page
// shows them. Built on the preset JSON so it covers every field the preset format has.
#pragma once
#include <string>
#include <vector>

#include "engine/config/run_config.h"
#include "widgets/run_record.h"

namespace ps::ui {

struct ConfigDifference {
  std::string path;  // JSON pointer, e.g. "/strategy/name"
  std::string a;     // value in the first config ("—" when absent)
  std::string b;
};

// `source` (the preset file name) is ignored: two runs of the same preset with an override differ
// only by the override.
std::vector<ConfigDifference> config_diff(const RunConfig& a, const RunConfig& b);

// config_diff of two runs' settings; where a run's config is partial (an old CLI folder without
// config.json) only the fields summary.json records are compared.
std::vector<ConfigDifference> run_config_diff(const RunRecord& a, const RunRecord& b);

// What the runs did beyond their settings, shown for every run whether the values agree or not, so the
// weights of a dashboard run can be checked against the CLI's: "weights digest", "resumed from",
// "repartitions" (the last two only when some run has one).
struct RunFact {
  std::string field;
  std::vector<std::string> values;  // one per run
  bool same = true;
};
std::vector<RunFact> run_facts(const std::vector<const RunRecord*>& runs);
std::string repartition_history(const RunRecord& run);  // "step 120: 2,4,6 → 3,5,7; …" or "none"

}  // namespace ps::ui
