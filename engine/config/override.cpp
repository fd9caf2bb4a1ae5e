// Command-line overrides: "optimizer.lr=0.1" sets one field by its path, with the same type checks and
// messages as a preset (the source is "command line"). Cross-field checks wait for validate(), since
// a later override may still fix them (batch_size=8 then microbatches=8).
#include <cctype>

#include "engine/config/config_fields.h"
#include "engine/config/run_config.h"
#include "engine/schedule/schedule.h"
#include "engine/config/suggest.h"
#include "engine/strategy/strategy_info.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

const char* const kSource = "command line";

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

bool is_utf8(const std::string& text) {
  try {
    (void)ConfigJson(text).dump();
    return true;
  } catch (const ConfigJson::type_error&) {
    return false;
  }
}

ConfigJson number_from_text(const std::string& text, bool integer, const FieldLocation& at) {
  ConfigJson value = ConfigJson::parse(text, nullptr, false);
  if (value.is_discarded() || !value.is_number())
    at.fail(std::string(integer ? "expected an integer" : "expected a number") + ", got '" + text + "'");
  return value;
}

ConfigJson scalar_from_text(FieldKind kind, const std::string& text, const FieldLocation& at) {
  switch (kind) {
    case FieldKind::Integer: return number_from_text(text, true, at);
    case FieldKind::Number: return number_from_text(text, false, at);
    case FieldKind::Boolean:
      if (text == "true" || text == "1") return true;
      if (text == "false" || text == "0") return false;
      at.fail("expected true or false, got '" + text + "'");
    default: return text;
  }
}

// Lists are written "3,5,7" (or "[3,5,7]"); "" or "[]" is the empty list.
ConfigJson list_from_text(FieldKind element_kind, const std::string& text, const FieldLocation& at) {
  std::string body = trim(text);
  if (body.size() >= 2 && body.front() == '[' && body.back() == ']') body = trim(body.substr(1, body.size() - 2));
  ConfigJson list = ConfigJson::array();
  if (body.empty()) return list;
  std::size_t start = 0;
  for (std::size_t i = 0;; ++i) {
    const std::size_t comma = body.find(',', start);
    const std::string item = trim(body.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    list.push_back(scalar_from_text(element_kind, item, at.element(i)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return list;
}

ConfigJson value_from_text(FieldKind kind, const std::string& text, const FieldLocation& at) {
  if (kind == FieldKind::IntegerList) return list_from_text(FieldKind::Integer, text, at);
  if (kind == FieldKind::TextList) return list_from_text(FieldKind::Text, text, at);
  return scalar_from_text(kind, trim(text), at);
}

std::string unknown_path_reason(const std::string& path) {
  std::vector<std::string> paths;
  for (const auto& f : run_config_fields()) paths.push_back(f.path);
  // A bare key that names a field inside a section ("lr") is most likely that field.
  const std::string dotted = "." + path;
  if (path.find('.') == std::string::npos)
    for (const auto& p : paths)
      if (p.size() > dotted.size() && p.compare(p.size() - dotted.size(), std::string::npos, dotted) == 0)
        return "unknown key '" + path + "'; did you mean '" + p + "'?";
  return unknown_name_reason("key", path, paths);
}

void set_strategy_param(RunConfig& cfg, const std::string& key, const std::string& value, const FieldLocation& at) {
  if (key.empty()) at.fail("expected strategy.params.KEY=VALUE");
  // Check the key and value now; whether the strategy fits the schedule is validate()'s question,
  // because the schedule may be overridden next.
  try {
    resolve_strategy_params(StrategyConfig{cfg.strategy.name, {{key, value}}}, cfg.schedule, kSource);
  } catch (const InputError& e) {
    if (e.field().compare(0, 16, "strategy.params.") == 0) throw;
  }
  cfg.strategy.params[key] = value;
}

}  // namespace

void apply_override(RunConfig& cfg, const std::string& assignment) {
  const std::size_t equals = assignment.find('=');
  const std::string path = trim(assignment.substr(0, equals));
  if (equals == std::string::npos || path.empty())
    throw InputError(kSource, trim(assignment), "expected KEY=VALUE, e.g. optimizer.lr=0.1");
  const std::string text = assignment.substr(equals + 1);
  const FieldLocation at{kSource, path};
  // A preset is JSON, so its text is UTF-8; a value that is not could never be written back (the
  // dashboard's "save preset", a checkpoint's copy of the config): nlohmann throws type_error 316.
  if (!is_utf8(path)) throw InputError(kSource, "", "the key is not valid UTF-8 text");
  if (!is_utf8(text)) at.fail("the value is not valid UTF-8 text");

  const std::string params_prefix = "strategy.params.";
  if (path.compare(0, params_prefix.size(), params_prefix) == 0)
    return set_strategy_param(cfg, path.substr(params_prefix.size()), trim(text), at);
  if (path == "strategy.params") at.fail("set one parameter at a time: strategy.params.KEY=VALUE");
  if (is_section(path)) at.fail("is a section; set one of its keys, e.g. " + path + "." + section_keys(path).front());

  const FieldSpec* f = find_field(path);
  if (!f) at.fail(unknown_path_reason(path));
  RunConfig updated = cfg;
  f->read(updated, value_from_text(f->kind, text, at), at);
  f->check(updated, at);

  // The last word wins: a new partition sets the stage count (its chunks over the chunks per device), a
  // new stage count, chunk count or schedule drops a partition that disagrees with it, and a new strategy
  // drops the old one's parameters.
  // A schedule of another placement starts at its own chunk count (as in the dashboard): a preset made
  // for zbv's 2 chunks per device runs `--schedule zb-h1` on 1.
  if (path == "schedule" && updated.schedule != cfg.schedule && updated.chunks != 0) {
    try {
      if (schedule_info(updated.schedule).placement != schedule_info(cfg.schedule).placement) updated.chunks = 0;
    } catch (const InputError&) {  // an unknown old schedule: nothing to compare with
    }
  }
  const int chunks = static_cast<int>(updated.partition.size()) + 1;
  const int v = updated.chunks_per_device();
  if (path == "partition" && !updated.partition.empty() && chunks % v == 0) updated.stages = chunks / v;
  if ((path == "stages" || path == "chunks" || path == "schedule") && !updated.partition.empty() &&
      chunks != updated.stages * v)
    updated.partition.clear();
  if (path == "strategy.name" && updated.strategy.name != cfg.strategy.name) updated.strategy.params.clear();
  cfg = std::move(updated);
}

}  // namespace ps
