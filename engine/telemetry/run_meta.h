// run.json beside summary.json, in a pipescope-cli --out folder and in the dashboard's run library:
// where a run came from (origin, creation time, the checkpoint it resumed) and its repartitions, which
// the other files do not say. One writer and one reader for both.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/telemetry/events.h"

namespace ps {

nlohmann::ordered_json mark_to_json(const RunMark& m);
RunMark mark_from_json(const nlohmann::json& j);  // missing fields read as a repartition with no text

// {"origin", "created", "resumed_from" (null when none), "repartitions": [...]}; other marks are left out.
nlohmann::ordered_json run_meta_json(const std::string& origin, const std::string& created, const std::string& resumed_from,
                                     const std::vector<RunMark>& marks);

}  // namespace ps
