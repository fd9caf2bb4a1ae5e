#include "engine/config/config_fields.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "engine/config/suggest.h"
#include "engine/data/catalog.h"
#include "engine/models/model_info.h"
#include "engine/partition/partition.h"
#include "engine/schedule/schedule.h"
#include "engine/strategy/strategy_info.h"

namespace ps {

std::string json_type_phrase(const ConfigJson& value) {
  switch (value.type()) {
    case ConfigJson::value_t::null: return "null";
    case ConfigJson::value_t::boolean: return value.get<bool>() ? "true" : "false";
    case ConfigJson::value_t::string: return "a string (" + value.dump() + ")";
    case ConfigJson::value_t::array: return "an array";
    case ConfigJson::value_t::object: return "an object";
    default: return "a number (" + value.dump() + ")";
  }
}

std::string number_text(double value) {
  // Whole numbers without JSON's ".0" so that messages read "at least 1, got 0".
  if (value == std::floor(value) && std::fabs(value) < 1e15) return std::to_string(static_cast<std::int64_t>(value));
  return ConfigJson(value).dump();
}

namespace {

using Loc = FieldLocation;

// ---- readers: JSON value -> field, with the type checks -------------------------------------------

void read_value(std::string& out, const ConfigJson& j, const Loc& at) {
  if (!j.is_string()) at.fail("expected a string, got " + json_type_phrase(j));
  out = j.get<std::string>();
}

void read_value(bool& out, const ConfigJson& j, const Loc& at) {
  if (!j.is_boolean()) at.fail("expected true or false, got " + json_type_phrase(j));
  out = j.get<bool>();
}

void read_value(double& out, const ConfigJson& j, const Loc& at) {
  if (!j.is_number()) at.fail("expected a number, got " + json_type_phrase(j));
  out = j.get<double>();
}

template <class Int>
void read_integer(Int& out, const ConfigJson& j, const Loc& at) {
  if (!j.is_number()) at.fail("expected an integer, got " + json_type_phrase(j));
  std::int64_t value = 0;
  if (j.is_number_float()) {
    // 1e3 is a fine way to write a step count; 0.5 is not.
    const double d = j.get<double>();
    if (d != std::floor(d)) at.fail("expected an integer, got " + number_text(d));
    if (std::fabs(d) > 9.0e15) at.fail("is too large, got " + number_text(d));
    value = static_cast<std::int64_t>(d);
  } else if (j.is_number_unsigned()) {
    const auto u = j.get<std::uint64_t>();
    if (std::is_same<Int, std::uint64_t>::value) {
      out = static_cast<Int>(u);
      return;
    }
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      at.fail("is too large, got " + std::to_string(u));
    value = static_cast<std::int64_t>(u);
  } else {
    value = j.get<std::int64_t>();
  }
  if (std::is_unsigned<Int>::value && value < 0)
    at.fail("expected a non-negative integer, got " + std::to_string(value));
  // For Int = int64_t the range test is always false: the template serves int too.
  if (!std::is_unsigned<Int>::value &&
      (value < static_cast<std::int64_t>(std::numeric_limits<Int>::min()) ||  // NOLINT(misc-redundant-expression)
       value > static_cast<std::int64_t>(std::numeric_limits<Int>::max())))
    at.fail("is out of range for this field, got " + std::to_string(value));
  out = static_cast<Int>(value);
}

void read_value(int& out, const ConfigJson& j, const Loc& at) { read_integer(out, j, at); }
void read_value(std::int64_t& out, const ConfigJson& j, const Loc& at) { read_integer(out, j, at); }
void read_value(std::uint64_t& out, const ConfigJson& j, const Loc& at) { read_integer(out, j, at); }

template <class T>
void read_value(std::vector<T>& out, const ConfigJson& j, const Loc& at) {
  if (!j.is_array()) at.fail("expected an array, got " + json_type_phrase(j));
  std::vector<T> values(j.size());
  for (std::size_t i = 0; i < j.size(); ++i) read_value(values[i], j[i], at.element(i));
  out = std::move(values);
}

template <class T> FieldKind kind_of() {
  if (std::is_same<T, bool>::value) return FieldKind::Boolean;
  if (std::is_same<T, double>::value) return FieldKind::Number;
  if (std::is_integral<T>::value) return FieldKind::Integer;
  if (std::is_same<T, std::string>::value) return FieldKind::Text;
  if (std::is_same<T, std::vector<std::string>>::value) return FieldKind::TextList;
  return FieldKind::IntegerList;
}

// ---- checks: generic callables (value, location) ----------------------------------------------------

struct NoCheck {
  template <class T> void operator()(const T&, const Loc&) const {}
};

auto at_least(double lo) {
  return [lo](const auto& v, const Loc& at) {
    const double x = static_cast<double>(v);
    if (x < lo) at.fail("must be at least " + number_text(lo) + ", got " + number_text(x));
  };
}

// In the interval from lo to hi; an open end excludes its bound. Written as [0, 1) in messages.
auto in_interval(double lo, bool lo_open, double hi, bool hi_open) {
  return [=](const auto& v, const Loc& at) {
    const double x = static_cast<double>(v);
    const bool ok = (lo_open ? x > lo : x >= lo) && (hi_open ? x < hi : x <= hi);
    if (!ok && std::isinf(hi)) at.fail(std::string(lo_open ? "must be greater than " : "must be at least ") +
                                       number_text(lo) + ", got " + number_text(x));
    if (!ok) {
      const std::string interval = std::string(lo_open ? "(" : "[") + number_text(lo) + ", " +
                                   number_text(hi) + (hi_open ? ")" : "]");
      at.fail("must be in " + interval + ", got " + number_text(x));
    }
  };
}

auto positive() { return in_interval(0, true, std::numeric_limits<double>::infinity(), true); }

auto known_name(std::string what, std::function<std::vector<std::string>()> names) {
  return [what = std::move(what), names = std::move(names)](const std::string& v, const Loc& at) {
    const auto known = names();
    for (const auto& n : known)
      if (n == v) return;
    at.fail(unknown_name_reason(what, v, known));
  };
}

auto fixed_names(std::string what, std::vector<std::string> names) {
  return known_name(std::move(what), [names = std::move(names)] { return names; });
}

template <class Check> auto each(Check check) {
  return [check](const auto& list, const Loc& at) {
    for (std::size_t i = 0; i < list.size(); ++i) check(list[i], at.element(i));
  };
}

void check_device_name(const std::string& v, const Loc& at) {
  if (v == "cpu" || v == "cuda") return;
  const std::string prefix = "cuda:";
  if (v.size() > prefix.size() && v.compare(0, prefix.size(), prefix) == 0 &&
      v.find_first_not_of("0123456789", prefix.size()) == std::string::npos)
    return;
  at.fail("expected cpu, cuda or cuda:N, got '" + v + "'");
}

void check_device(const std::string& v, const Loc& at) {
  if (v == "cpu" || v == "cuda") return;
  if (v == "gpu") at.fail("unknown device 'gpu'; did you mean 'cuda'? (known: cpu, cuda)");
  at.fail(unknown_name_reason("device", v, {"cpu", "cuda"}));
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& m : model_catalog()) names.push_back(m.name);
  return names;
}
std::vector<std::string> dataset_names() {
  std::vector<std::string> names;
  for (const auto& d : dataset_catalog()) names.push_back(d.name);
  return names;
}
std::vector<std::string> schedule_names() {
  std::vector<std::string> names;
  for (const auto& s : schedule_catalog()) names.push_back(s.name);
  return names;
}
std::vector<std::string> strategy_names() {
  std::vector<std::string> names;
  for (const auto& s : strategy_catalog()) names.push_back(s.name);
  return names;
}

template <class Get, class Check = NoCheck>
FieldSpec field(std::string path, Get get, Check check = {}) {
  using T = std::decay_t<decltype(get(std::declval<RunConfig&>()))>;
  FieldSpec f;
  f.path = std::move(path);
  f.kind = kind_of<T>();
  f.read = [get](RunConfig& c, const ConfigJson& j, const Loc& at) { read_value(get(c), j, at); };
  f.write = [get](const RunConfig& c) { return ConfigJson(get(c)); };
  f.check = [get, check](const RunConfig& c, const Loc& at) { check(get(c), at); };
  return f;
}

// Strategy parameters: scalars of any JSON type, kept as text; the strategy catalogue validates them.
FieldSpec strategy_params_field() {
  FieldSpec f;
  f.path = "strategy.params";
  f.kind = FieldKind::TextMap;
  f.read = [](RunConfig& c, const ConfigJson& j, const Loc& at) {
    if (!j.is_object()) at.fail("expected an object, got " + json_type_phrase(j));
    std::map<std::string, std::string> params;
    for (const auto& item : j.items()) {
      const ConfigJson& v = item.value();
      if (v.is_string()) params[item.key()] = v.get<std::string>();
      else if (v.is_boolean() || v.is_number()) params[item.key()] = v.dump();
      else at.child(item.key()).fail("expected a number, a string or true/false, got " + json_type_phrase(v));
    }
    c.strategy.params = std::move(params);
  };
  f.write = [](const RunConfig& c) {
    ConfigJson out = ConfigJson::object();
    for (const auto& [key, text] : c.strategy.params) {
      // Numbers and booleans go back as JSON scalars when that reads back to the very same text.
      ConfigJson typed = ConfigJson::parse(text, nullptr, false);
      const bool scalar = !typed.is_discarded() && (typed.is_number() || typed.is_boolean());
      out[key] = scalar && typed.dump() == text ? typed : ConfigJson(text);
    }
    return out;
  };
  f.check = [](const RunConfig&, const Loc&) {};  // validate() resolves them against the schedule
  return f;
}

void check_partition(const std::vector<int>& boundaries, const Loc& at) {
  // The model is not known here: check order and emptiness only (the session checks the upper end).
  validate_partition(boundaries, std::numeric_limits<int>::max(), at.source);
}

#define PS_MEMBER(m) ([](auto& c) -> auto& { return c.m; })

std::vector<FieldSpec> make_fields() {
  const double inf = std::numeric_limits<double>::infinity();
  return {
      field("name", PS_MEMBER(name)),
      field("description", PS_MEMBER(description)),
      field("model.name", PS_MEMBER(model.name), known_name("model", model_names)),
      field("model.hidden", PS_MEMBER(model.hidden), each(at_least(1))),
      field("model.width", PS_MEMBER(model.width), at_least(0)),
      field("model.depth", PS_MEMBER(model.depth), at_least(0)),
      field("dataset.name", PS_MEMBER(dataset.name), known_name("dataset", dataset_names)),
      field("dataset.path", PS_MEMBER(dataset.path)),
      field("dataset.train_limit", PS_MEMBER(dataset.train_limit), at_least(0)),
      field("dataset.test_limit", PS_MEMBER(dataset.test_limit), at_least(0)),
      field("dataset.synthetic_size", PS_MEMBER(dataset.synthetic_size), at_least(2)),
      field("dataset.test_fraction", PS_MEMBER(dataset.test_fraction), in_interval(0, true, 1, true)),
      field("dataset.normalize", PS_MEMBER(dataset.normalize)),
      field("optimizer.name", PS_MEMBER(optimizer.name), fixed_names("optimizer", {"sgd", "adam"})),
      field("optimizer.lr", PS_MEMBER(optimizer.lr), positive()),
      field("optimizer.momentum", PS_MEMBER(optimizer.momentum), in_interval(0, false, 1, true)),
      field("optimizer.weight_decay", PS_MEMBER(optimizer.weight_decay), at_least(0)),
      field("optimizer.nesterov", PS_MEMBER(optimizer.nesterov)),
      field("optimizer.beta1", PS_MEMBER(optimizer.beta1), in_interval(0, false, 1, true)),
      field("optimizer.beta2", PS_MEMBER(optimizer.beta2), in_interval(0, false, 1, true)),
      field("optimizer.eps", PS_MEMBER(optimizer.eps), positive()),
      field("lr_schedule.name", PS_MEMBER(lr_schedule.name),
            fixed_names("learning-rate schedule", {"constant", "step", "cosine"})),
      field("lr_schedule.warmup_steps", PS_MEMBER(lr_schedule.warmup_steps), at_least(0)),
      field("lr_schedule.step_size", PS_MEMBER(lr_schedule.step_size), at_least(1)),
      field("lr_schedule.gamma", PS_MEMBER(lr_schedule.gamma), in_interval(0, true, 1, false)),
      field("lr_schedule.min_lr", PS_MEMBER(lr_schedule.min_lr), in_interval(0, false, inf, true)),
      field("batch_size", PS_MEMBER(batch_size), at_least(1)),
      field("microbatches", PS_MEMBER(microbatches), at_least(1)),
      field("epochs", PS_MEMBER(epochs), at_least(1)),
      field("steps", PS_MEMBER(steps), at_least(0)),
      field("stages", PS_MEMBER(stages), at_least(1)),
      field("partition", PS_MEMBER(partition), check_partition),
      field("chunks", PS_MEMBER(chunks), at_least(0)),
      field("replicas", PS_MEMBER(replicas), at_least(1)),
      field("device", PS_MEMBER(device), check_device),
      field("stage_devices", PS_MEMBER(stage_devices), each(check_device_name)),
      field("schedule", PS_MEMBER(schedule), known_name("schedule", schedule_names)),
      field("strategy.name", PS_MEMBER(strategy.name), known_name("strategy", strategy_names)),
      strategy_params_field(),
      field("executor", PS_MEMBER(executor), fixed_names("executor", {"threaded", "sequential", "processes"})),
      field("processes.timeout_seconds", PS_MEMBER(processes_timeout_seconds), in_interval(0, true, 86400, false)),
      field("processes.spin_microseconds", PS_MEMBER(processes_spin_microseconds), at_least(0)),
      field("threads_per_stage", PS_MEMBER(threads_per_stage), at_least(1)),
      field("pin_threads", PS_MEMBER(pin_threads), fixed_names("pin_threads", {"auto", "on", "off"})),
      field("seed", PS_MEMBER(seed)),
      field("eval_every_epochs", PS_MEMBER(eval_every_epochs), at_least(1)),
      field("telemetry", PS_MEMBER(telemetry)),
      field("divergence_every", PS_MEMBER(divergence_every), at_least(0)),
      field("deterministic", PS_MEMBER(deterministic)),
  };
}

#undef PS_MEMBER

}  // namespace

const std::vector<FieldSpec>& run_config_fields() {
  static const std::vector<FieldSpec> fields = make_fields();
  return fields;
}

const FieldSpec* find_field(const std::string& path) {
  for (const auto& f : run_config_fields())
    if (f.path == path) return &f;
  return nullptr;
}

bool is_section(const std::string& path) {
  if (path.empty()) return true;
  const std::string prefix = path + ".";
  for (const auto& f : run_config_fields())
    if (f.path.compare(0, prefix.size(), prefix) == 0) return true;
  return false;
}

std::vector<std::string> section_keys(const std::string& section) {
  const std::string prefix = section.empty() ? "" : section + ".";
  std::vector<std::string> keys;
  for (const auto& f : run_config_fields()) {
    if (f.path.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string rest = f.path.substr(prefix.size());
    const std::string key = rest.substr(0, rest.find('.'));
    if (keys.empty() || keys.back() != key) keys.push_back(key);
  }
  return keys;
}

}  // namespace ps
