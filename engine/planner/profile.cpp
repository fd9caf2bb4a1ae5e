// ModelProfile arithmetic, the analytic estimate, the JSON cache format and the cache location.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <nlohmann/json.hpp>

#include "engine/bench/paired.h"
#include "engine/partition/partition.h"
#include "engine/planner/profiler.h"
#include "engine/planner/simulator.h"
#include "engine/telemetry/text_file.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

// Time at `samples` on the line through (micro, t_micro) and (batch, t_batch); proportional when the two
// sizes coincide. Never below zero (a line fitted to noisy medians can cross it for tiny sizes).
double interpolate(int micro, double t_micro, int batch, double t_batch, int samples) {
  if (batch == micro || micro <= 0) return micro > 0 ? t_micro * samples / micro : t_micro;
  const double slope = (t_batch - t_micro) / double(batch - micro);
  return std::max(0.0, t_micro + slope * (samples - micro));
}

}  // namespace

double ModelProfile::forward_s(int unit, int samples) const {
  const UnitProfile& u = units.at(unit);
  return interpolate(microbatch_size(), u.forward_micro_s, batch_size, u.forward_batch_s, samples);
}

double ModelProfile::backward_s(int unit, int samples) const {
  const UnitProfile& u = units.at(unit);
  return interpolate(microbatch_size(), u.backward_micro_s, batch_size, u.backward_batch_s, samples);
}

double ModelProfile::input_grad_s(int unit, int samples) const {
  const UnitProfile& u = units.at(unit);
  const double b = backward_s(unit, samples);
  return u.input_grad_micro_s > 0 && u.backward_micro_s > 0 ? b * u.input_grad_micro_s / u.backward_micro_s : 0.5 * b;
}

double ModelProfile::weight_grad_s(int unit, int samples) const {
  const UnitProfile& u = units.at(unit);
  const double b = backward_s(unit, samples);
  // A unit without parameters has no W to speak of: its measured W is the op's fixed cost.
  return u.weight_grad_micro_s > 0 && u.backward_micro_s > 0 ? b * u.weight_grad_micro_s / u.backward_micro_s : 0.5 * b;
}

void ModelProfile::apply_machine(SimOptions& so, int hardware_threads, const std::string& executor) const {
  so.latency_s = std::max(0.0, executor == "processes" && processes_latency_s >= 0 ? processes_latency_s : link_latency_s);
  so.switch_s = std::max(0.0, switch_s);
  so.hardware_threads = hardware_threads;
  // The threaded executor's links spin (kThreadsSpin) where every worker has cores of its own; the
  // processes' measured hand-off already includes their link's spin.
  so.spin_s = executor == "processes" ? 0.0 : kThreadsSpin_s;
  if (cores > 0) so.cores = std::min<double>(cores, std::max(1, hardware_threads));
}

double typical_op_cost(const std::vector<double>& seconds) {
  if (seconds.empty()) return 0;
  std::vector<double> sorted = seconds;
  std::sort(sorted.begin(), sorted.end());
  const double cap = 3 * median_of(sorted);
  const auto capped_mean = [cap](auto begin, auto end) {
    double sum = 0;
    for (auto it = begin; it != end; ++it) sum += std::min(*it, cap);
    return sum / double(end - begin);
  };
  const std::size_t n = seconds.size();
  if (n < 3 * kFewestPerThird) return capped_mean(seconds.begin(), seconds.end());
  // The median of the three thirds' means, in the order the ops ran: a slow spell of the VM that covers
  // less than a third of the run moves one of them only.
  std::vector<double> thirds;
  for (std::size_t k = 0; k < 3; ++k)
    thirds.push_back(capped_mean(seconds.begin() + static_cast<std::ptrdiff_t>(k * n / 3),
                                 seconds.begin() + static_cast<std::ptrdiff_t>((k + 1) * n / 3)));
  std::sort(thirds.begin(), thirds.end());
  return thirds[1];
}

ModelProfile median_profile(const std::vector<ModelProfile>& profiles) {
  if (profiles.empty()) throw std::invalid_argument("median_profile: no profiles");
  ModelProfile out = profiles.front();
  for (const auto& p : profiles)
    if (p.key != out.key || p.units.size() != out.units.size())
      throw std::invalid_argument("median_profile: profiles of different models or configs ('" + p.key + "', '" + out.key + "')");
  const auto median_of_field = [&](auto field) {
    std::vector<double> v;
    for (const auto& p : profiles) v.push_back(field(p));
    return median_of(std::move(v));
  };
  out.profiles = static_cast<int>(profiles.size());
  out.cores = median_of_field([](const ModelProfile& p) { return p.cores; });
  out.link_latency_s = median_of_field([](const ModelProfile& p) { return p.link_latency_s; });
  out.switch_s = median_of_field([](const ModelProfile& p) { return p.switch_s; });
  out.processes_latency_s = median_of_field([](const ModelProfile& p) { return p.processes_latency_s; });
  for (std::size_t u = 0; u < out.units.size(); ++u) {
    UnitProfile& up = out.units[u];
    const auto unit = [&](double UnitProfile::*field) {
      return median_of_field([&](const ModelProfile& p) { return p.units[u].*field; });
    };
    up.forward_micro_s = unit(&UnitProfile::forward_micro_s);
    up.backward_micro_s = unit(&UnitProfile::backward_micro_s);
    up.forward_batch_s = unit(&UnitProfile::forward_batch_s);
    up.backward_batch_s = unit(&UnitProfile::backward_batch_s);
    up.update_s = unit(&UnitProfile::update_s);
    up.input_grad_micro_s = unit(&UnitProfile::input_grad_micro_s);
    up.weight_grad_micro_s = unit(&UnitProfile::weight_grad_micro_s);
  }
  return out;
}

bool ModelProfile::split_measured() const {
  if (units.empty()) return false;
  for (const auto& u : units)
    if (u.input_grad_micro_s <= 0 || u.weight_grad_micro_s <= 0) return false;
  return true;
}

std::int64_t ModelProfile::activation_bytes(int unit, int samples) const {
  return units.at(unit).activation_bytes * samples / microbatch_size();
}

std::int64_t ModelProfile::total_param_bytes() const {
  std::int64_t n = 0;
  for (const auto& u : units) n += u.param_bytes;
  return n;
}

ModelProfile estimate_profile(const ModelInfo& info, int batch_size, int microbatches, double seconds_per_cost) {
  ModelProfile p;
  p.key = "estimate:" + info.name;
  p.model = info.name;
  p.batch_size = std::max(1, batch_size);
  p.microbatches = std::max(1, microbatches);
  const int micro = p.microbatch_size();
  for (const auto& u : info.units) {
    UnitProfile up;
    up.name = u.name;
    const double per_sample = unit_cost(u) * seconds_per_cost;  // forward + backward, backward ~2x forward
    up.forward_micro_s = per_sample / 3 * micro;
    up.backward_micro_s = per_sample * 2 / 3 * micro;
    up.forward_batch_s = per_sample / 3 * p.batch_size;
    up.backward_batch_s = per_sample * 2 / 3 * p.batch_size;
    up.update_s = 4.0 * double(u.params) * seconds_per_cost;
    up.activation_bytes = u.activation_bytes * micro;
    up.param_bytes = u.params * 4;
    p.units.push_back(up);
  }
  return p;
}

std::string profile_cache_dir() {
  if (const char* dir = std::getenv("PIPESCOPE_PROFILE_DIR"); dir && *dir) return dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/pipescope/profiles";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/pipescope/profiles";
  return ".pipescope-profiles";
}

namespace {

nlohmann::json profile_json(const ModelProfile& p) {
  nlohmann::json j;
  j["format"] = "pipescope-profile-1";
  j["key"] = p.key;
  j["model"] = p.model;
  j["device"] = p.device;
  j["batch_size"] = p.batch_size;
  j["microbatches"] = p.microbatches;
  j["threads"] = p.threads;
  j["measured"] = p.measured;
  j["in_engine"] = p.in_engine;
  j["cores"] = p.cores;
  j["link_latency_s"] = p.link_latency_s;
  j["switch_s"] = p.switch_s;
  j["processes_latency_s"] = p.processes_latency_s;
  j["profiles"] = p.profiles;
  j["units"] = nlohmann::json::array();
  for (const auto& u : p.units)
    j["units"].push_back({{"name", u.name},
                          {"forward_micro_s", u.forward_micro_s},
                          {"backward_micro_s", u.backward_micro_s},
                          {"forward_batch_s", u.forward_batch_s},
                          {"backward_batch_s", u.backward_batch_s},
                          {"update_s", u.update_s},
                          {"input_grad_micro_s", u.input_grad_micro_s},
                          {"weight_grad_micro_s", u.weight_grad_micro_s},
                          {"activation_bytes", u.activation_bytes},
                          {"param_bytes", u.param_bytes}});
  return j;
}

}  // namespace

std::string profile_to_json(const ModelProfile& p) { return profile_json(p).dump(2) + "\n"; }

ModelProfile profile_from_json(const std::string& text, const std::string& source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw InputError(source, "", std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object() || j.value("format", "") != "pipescope-profile-1")
    throw InputError(source, "format", "not a PipeScope profile (expected \"pipescope-profile-1\")");
  ModelProfile p;
  try {
    p.key = j.at("key").get<std::string>();
    p.model = j.at("model").get<std::string>();
    p.device = j.at("device").get<std::string>();
    p.batch_size = j.at("batch_size").get<int>();
    p.microbatches = j.at("microbatches").get<int>();
    p.threads = j.at("threads").get<int>();
    p.measured = j.value("measured", true);
    p.in_engine = j.value("in_engine", false);
    p.cores = j.value("cores", 0.0);
    p.link_latency_s = j.value("link_latency_s", -1.0);
    p.switch_s = j.value("switch_s", -1.0);
    p.processes_latency_s = j.value("processes_latency_s", -1.0);
    p.profiles = j.value("profiles", 1);
    for (const auto& u : j.at("units")) {
      UnitProfile up;
      up.name = u.at("name").get<std::string>();
      up.forward_micro_s = u.at("forward_micro_s").get<double>();
      up.backward_micro_s = u.at("backward_micro_s").get<double>();
      up.forward_batch_s = u.at("forward_batch_s").get<double>();
      up.backward_batch_s = u.at("backward_batch_s").get<double>();
      up.update_s = u.at("update_s").get<double>();
      up.input_grad_micro_s = u.value("input_grad_micro_s", 0.0);  // profiles before the split: not measured
      up.weight_grad_micro_s = u.value("weight_grad_micro_s", 0.0);
      up.activation_bytes = u.at("activation_bytes").get<std::int64_t>();
      up.param_bytes = u.at("param_bytes").get<std::int64_t>();
      p.units.push_back(up);
    }
  } catch (const nlohmann::json::exception& e) {
    throw InputError(source, "units", std::string("malformed profile: ") + e.what());
  }
  if (p.batch_size < 1 || p.microbatches < 1) throw InputError(source, "batch_size", "must be at least 1");
  if (p.profiles < 1) throw InputError(source, "profiles", "must be at least 1");
  return p;
}

ModelProfile keep_profile(const std::string& dir, const ModelProfile& measured, int keep, bool replace) {
  const std::string base = dir + "/" + measured.key;
  const std::string kept_path = base + ".kept.jsonl";
  // Of the same config and measured alike: a figure one of them lacks (-1, or an older profile without
  // the split backward's I and W) would drag the median toward its placeholder.
  const auto same_kind = [&](const ModelProfile& p) {
    return p.key == measured.key && p.units.size() == measured.units.size() && p.in_engine == measured.in_engine &&
           p.measured == measured.measured && p.split_measured() == measured.split_measured() &&
           (p.cores > 0) == (measured.cores > 0) && (p.link_latency_s >= 0) == (measured.link_latency_s >= 0) &&
           (p.switch_s >= 0) == (measured.switch_s >= 0) && (p.processes_latency_s >= 0) == (measured.processes_latency_s >= 0);
  };
  std::vector<ModelProfile> kept;
  const auto take = [&](const std::string& text, const std::string& source) {
    try {
      ModelProfile p = profile_from_json(text, source);
      if (same_kind(p) && p.profiles == 1) kept.push_back(std::move(p));
    } catch (const InputError&) {
      // a torn or foreign entry: the others still count
    }
  };
  if (!replace) {
    if (const auto text = read_text_file(kept_path)) {
      std::istringstream lines(*text);
      for (std::string line; std::getline(lines, line);)
        if (!line.empty()) take(line, kept_path);
    } else if (const auto old = read_text_file(base + ".json")) {  // a cache written before the kept file
      take(*old, base + ".json");
    }
  }
  ModelProfile one = measured;
  one.profiles = 1;
  kept.push_back(std::move(one));
  const std::size_t limit = static_cast<std::size_t>(std::max(1, keep));
  if (kept.size() > limit) kept.erase(kept.begin(), kept.end() - static_cast<std::ptrdiff_t>(limit));
  std::string lines;
  for (const ModelProfile& p : kept) lines += profile_json(p).dump() + "\n";
  const ModelProfile median = median_profile(kept);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  write_file_atomically(kept_path, lines);
  write_file_atomically(base + ".json", profile_to_json(median));
  return median;
}

}  // namespace ps
