// The summary.json side of outputs.h: RunSummary to JSON and back.
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/telemetry/outputs.h"
#include "engine/util/errors.h"

namespace ps {

namespace {

using OrderedJson = nlohmann::ordered_json;  // keys in the documented order
using Json = nlohmann::json;

OrderedJson number_or_null(double v) { return std::isfinite(v) ? OrderedJson(v) : OrderedJson(nullptr); }
OrderedJson number_or_null(const std::optional<double>& v) { return v ? number_or_null(*v) : OrderedJson(nullptr); }

OrderedJson stage_to_json(const StageSummary& s) {
  OrderedJson j;
  j["stage"] = s.stage;
  j["device"] = s.device;
  j["first_layer"] = s.first_layer;
  j["last_layer"] = s.last_layer;
  j["params"] = s.params;
  j["utilization"] = number_or_null(s.utilization);
  j["weight_copies_max"] = s.weight_copies_max;
  j["weight_bytes_max"] = s.weight_bytes_max;
  j["activation_bytes_max"] = s.activation_bytes_max;
  j["device_activation_bytes_max"] = s.device_activation_bytes_max;
  j["link_wait_seconds"] = number_or_null(s.link_wait_seconds);
  j["bytes_sent"] = s.bytes_sent;
  j["messages_sent"] = s.messages_sent;
  if (!s.process.empty()) j["process"] = s.process;
  if (s.replica >= 0) j["replica"] = s.replica;
  if (s.gpu_allocated_max >= 0) {  // CUDA stages only: CPU summaries keep their shape
    j["gpu_allocated_max"] = s.gpu_allocated_max;
    j["gpu_reserved_max"] = s.gpu_reserved_max;
    j["gpu_shared_by"] = s.gpu_shared_by;
  }
  j["staleness_forward_mean"] = number_or_null(s.staleness_forward_mean);
  j["staleness_backward_mean"] = number_or_null(s.staleness_backward_mean);
  j["inconsistency_mean"] = number_or_null(s.inconsistency_mean);
  j["divergence_mean"] = number_or_null(s.divergence_mean);
  j["prediction_gain_mean"] = number_or_null(s.prediction_gain_mean);
  return j;
}

// Reads fields of one JSON object, naming the file and the field path in every error.
class FieldReader {
 public:
  FieldReader(const Json& object, std::string file, std::string prefix)
      : object_(object), file_(std::move(file)), prefix_(std::move(prefix)) {}

  std::string string(const char* key) const {
    const Json& v = required(key);
    if (!v.is_string()) fail(key, "expected a string");
    return v.get<std::string>();
  }
  bool has(const char* key) const { return object_.find(key) != object_.end(); }
  std::string optional_string(const char* key) const {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return "";
    if (!it->is_string()) fail(key, "expected a string");
    return it->get<std::string>();
  }
  std::int64_t integer(const char* key) const {
    const Json& v = required(key);
    if (!v.is_number_integer()) fail(key, "expected an integer");
    return v.get<std::int64_t>();
  }
  int int32(const char* key) const {
    const std::int64_t v = integer(key);
    if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) fail(key, "out of range");
    return static_cast<int>(v);
  }
  double number(const char* key) const {  // null stands for a non-finite value
    const Json& v = required(key);
    if (v.is_null()) return std::nan("");
    if (!v.is_number()) fail(key, "expected a number or null");
    return v.get<double>();
  }
  std::optional<double> optional_number(const char* key) const {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return std::nullopt;
    if (!it->is_number()) fail(key, "expected a number or null");
    return it->get<double>();
  }
  const Json& array(const char* key) const {
    const Json& v = required(key);
    if (!v.is_array()) fail(key, "expected an array");
    return v;
  }
  [[noreturn]] void fail(const std::string& key, const std::string& reason) const {
    throw InputError(file_, prefix_ + key, reason);
  }

 private:
  const Json& required(const char* key) const {
    auto it = object_.find(key);
    if (it == object_.end()) fail(key, "missing");
    return *it;
  }
  const Json& object_;
  std::string file_, prefix_;
};

StageSummary stage_from_json(const Json& j, const std::string& file, const std::string& prefix) {
  if (!j.is_object()) throw InputError(file, prefix.substr(0, prefix.size() - 1), "expected an object");
  FieldReader r(j, file, prefix);
  StageSummary s;
  s.stage = r.int32("stage");
  s.device = r.string("device");
  s.first_layer = r.int32("first_layer");
  s.last_layer = r.int32("last_layer");
  s.params = r.integer("params");
  s.utilization = r.number("utilization");
  s.weight_copies_max = r.int32("weight_copies_max");
  s.weight_bytes_max = r.integer("weight_bytes_max");
  s.activation_bytes_max = r.integer("activation_bytes_max");
  s.device_activation_bytes_max = r.has("device_activation_bytes_max") ? r.integer("device_activation_bytes_max")
                                                                       : s.activation_bytes_max;
  // Link figures and the process came later: a summary without them reads as zero / in one process.
  s.link_wait_seconds = r.optional_number("link_wait_seconds").value_or(0);
  if (r.has("bytes_sent")) s.bytes_sent = r.integer("bytes_sent");
  if (r.has("messages_sent")) s.messages_sent = r.integer("messages_sent");
  s.process = r.optional_string("process");
  if (r.has("replica")) s.replica = r.int32("replica");
  if (r.has("gpu_allocated_max")) {
    s.gpu_allocated_max = r.integer("gpu_allocated_max");
    s.gpu_reserved_max = r.integer("gpu_reserved_max");
    s.gpu_shared_by = r.int32("gpu_shared_by");
  }
  s.staleness_forward_mean = r.optional_number("staleness_forward_mean");
  s.staleness_backward_mean = r.optional_number("staleness_backward_mean");
  s.inconsistency_mean = r.optional_number("inconsistency_mean");
  s.divergence_mean = r.optional_number("divergence_mean");
  s.prediction_gain_mean = r.optional_number("prediction_gain_mean");
  return s;
}

}  // namespace

std::optional<RunStatus> parse_run_status(const std::string& text) {
  for (RunStatus s : {RunStatus::Idle, RunStatus::Running, RunStatus::Paused, RunStatus::Completed, RunStatus::Stopped,
                      RunStatus::Diverged, RunStatus::Failed})
    if (to_string(s) == text) return s;
  return std::nullopt;
}

std::string summary_to_json(const RunSummary& s) {
  OrderedJson j;
  j["status"] = to_string(s.status);
  if (!s.error.empty()) j["error"] = s.error;
  j["model"] = s.model;
  j["dataset"] = s.dataset;
  j["schedule"] = s.schedule;
  j["strategy"] = s.strategy;
  j["stages"] = s.stages;
  j["chunks"] = s.chunks;
  if (s.replicas > 1) j["replicas"] = s.replicas;
  j["microbatches"] = s.microbatches;
  j["steps"] = s.steps;
  j["samples"] = s.samples;
  j["final_train_loss"] = number_or_null(s.final_train_loss);
  j["test_accuracy"] = number_or_null(s.test_accuracy);
  j["test_loss"] = number_or_null(s.test_loss);
  j["samples_per_second"] = number_or_null(s.samples_per_second);
  j["wall_seconds"] = number_or_null(s.wall_seconds);
  j["bubble_fraction_measured"] = number_or_null(s.bubble_fraction_measured);
  j["bubble_fraction_ideal"] = number_or_null(s.bubble_fraction_ideal);
  j["weights_digest"] = s.weights_digest;
  j["per_stage"] = OrderedJson::array();
  for (const StageSummary& stage : s.per_stage) j["per_stage"].push_back(stage_to_json(stage));
  // Replacing invalid UTF-8 (an odd device or error text) beats failing to write the summary at all.
  return j.dump(2, ' ', false, OrderedJson::error_handler_t::replace) + "\n";
}

void write_summary_json(const std::string& path, const RunSummary& summary) {
  write_file_atomically(path, summary_to_json(summary));
}

RunSummary summary_from_json(const std::string& json_text, const std::string& source_name) {
  Json j;
  try {
    j = Json::parse(json_text);
  } catch (const Json::parse_error& e) {
    throw InputError(source_name, "", std::string("invalid JSON: ") + e.what());
  }
  if (!j.is_object()) throw InputError(source_name, "", "expected a JSON object");
  FieldReader r(j, source_name, "");
  RunSummary s;
  const std::string status = r.string("status");
  const auto parsed = parse_run_status(status);
  if (!parsed) r.fail("status", "unknown status '" + status + "'");
  s.status = *parsed;
  s.error = r.optional_string("error");
  s.model = r.string("model");
  s.dataset = r.string("dataset");
  s.schedule = r.string("schedule");
  s.strategy = r.string("strategy");
  s.stages = r.int32("stages");
  if (r.has("chunks")) s.chunks = r.int32("chunks");
  if (r.has("replicas")) s.replicas = r.int32("replicas");
  s.microbatches = r.int32("microbatches");
  s.steps = r.integer("steps");
  s.samples = r.integer("samples");
  s.final_train_loss = r.number("final_train_loss");
  s.test_accuracy = r.optional_number("test_accuracy");
  s.test_loss = r.optional_number("test_loss");
  s.samples_per_second = r.number("samples_per_second");
  s.wall_seconds = r.number("wall_seconds");
  s.bubble_fraction_measured = r.number("bubble_fraction_measured");
  s.bubble_fraction_ideal = r.number("bubble_fraction_ideal");
  s.weights_digest = r.string("weights_digest");
  const Json& stages = r.array("per_stage");
  for (std::size_t k = 0; k < stages.size(); ++k)
    s.per_stage.push_back(stage_from_json(stages[k], source_name, "per_stage[" + std::to_string(k) + "]."));
  return s;
}

RunSummary read_summary_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", "cannot open the file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw InputError(path, "", "read failed");
  return summary_from_json(text.str(), path);
}

}  // namespace ps
