#include "engine/telemetry/run_meta.h"

namespace ps {

nlohmann::ordered_json mark_to_json(const RunMark& m) {
  nlohmann::ordered_json j;
  j["step"] = m.step;
  j["t_seconds"] = double(m.t_ns) * 1e-9;
  j["kind"] = m.kind;
  j["before"] = m.before;
  j["after"] = m.after;
  j["text"] = m.text;
  return j;
}

RunMark mark_from_json(const nlohmann::json& j) {
  RunMark m;
  m.step = j.value("step", std::int64_t(0));
  m.t_ns = std::int64_t(j.value("t_seconds", 0.0) * 1e9);
  m.kind = j.value("kind", std::string("repartition"));
  m.text = j.value("text", std::string());
  if (j.contains("before") && j["before"].is_array()) m.before = j["before"].get<std::vector<int>>();
  if (j.contains("after") && j["after"].is_array()) m.after = j["after"].get<std::vector<int>>();
  return m;
}

nlohmann::ordered_json run_meta_json(const std::string& origin, const std::string& created, const std::string& resumed_from,
                                     const std::vector<RunMark>& marks) {
  nlohmann::ordered_json j;
  j["origin"] = origin;
  j["created"] = created;
  j["resumed_from"] = resumed_from.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(resumed_from);
  j["repartitions"] = nlohmann::ordered_json::array();
  for (const RunMark& m : marks)
    if (m.kind == "repartition") j["repartitions"].push_back(mark_to_json(m));
  return j;
}

}  // namespace ps
