// Presets: reading (with errors that name the file, the field path and the reason), writing, validation.
#include "engine/config/run_config.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/config/config_fields.h"
#include "engine/config/suggest.h"
#include "engine/data/catalog.h"
#include "engine/schedule/schedule.h"
#include "engine/strategy/strategy_info.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

// nlohmann reports the byte offset of the offending character; people need line and column.
std::string malformed_json_reason(const std::string& text, const ConfigJson::parse_error& e) {
  std::size_t position = e.byte > 0 ? e.byte - 1 : 0;
  if (position > text.size()) position = text.size();
  std::size_t line = 1, line_start = 0;
  for (std::size_t i = 0; i < position; ++i)
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  const std::size_t column = position - line_start + 1;
  // e.what(): "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..."
  std::string detail = e.what();
  const std::size_t after_location = detail.find(": ", detail.find("parse error"));
  detail = after_location == std::string::npos ? detail : detail.substr(after_location + 2);
  return "malformed JSON at line " + std::to_string(line) + ", column " + std::to_string(column) + ": " + detail;
}

std::string unknown_key_reason(const std::string& section, const std::string& key) {
  // "lr" at the top level most likely means the field of that name inside a section.
  if (section.empty())
    for (const FieldSpec& f : run_config_fields()) {
      const std::size_t dot = f.path.rfind('.');
      if (dot != std::string::npos && f.path.substr(dot + 1) == key)
        return "unknown key '" + key + "' at the top level; did you mean '" + f.path + "' (inside \"" +
               f.path.substr(0, dot) + "\")?";
    }
  return unknown_name_reason("key", key, section_keys(section));
}

void read_section(RunConfig& cfg, const ConfigJson& object, const FieldLocation& at) {
  if (!object.is_object()) at.fail("expected an object, got " + json_type_phrase(object));
  for (const auto& item : object.items()) {
    const FieldLocation key_at = at.child(item.key());
    if (const FieldSpec* f = find_field(key_at.path)) {
      f->read(cfg, item.value(), key_at);
    } else if (is_section(key_at.path)) {
      read_section(cfg, item.value(), key_at);
    } else {
      key_at.fail(unknown_key_reason(at.path, item.key()));
    }
  }
}

void require_name(const ConfigJson& root, const std::string& section, const std::string& example,
                  const std::string& source) {
  if (!root.contains(section))
    throw InputError(source, section, "missing; every preset names its " + section + ", e.g. \"" + section +
                                          "\": {\"name\": \"" + example + "\"}");
  if (!root.at(section).contains("name"))
    throw InputError(source, section + ".name", "missing; say which " + section + ", e.g. \"" + example + "\"");
}

std::string stage_count_text(std::size_t boundaries) {
  return std::to_string(boundaries) + (boundaries == 1 ? " boundary" : " boundaries") + " (" +
         std::to_string(boundaries + 1) + " stages)";
}

// Strategies that read optimizer state need that optimizer (STRATEGIES.md section 3).
void check_strategy_optimizer(const RunConfig& cfg) {
  const std::string& strategy = cfg.strategy.name;
  const OptimizerConfig& opt = cfg.optimizer;
  const std::string intro = "strategy '" + strategy + "' ";
  if ((strategy == "spectrain" || strategy == "nesterov") && opt.name != "sgd")
    throw InputError(cfg.source, "optimizer.name",
                     intro + "extrapolates SGD's momentum buffer: needs optimizer 'sgd', got '" + opt.name + "'");
  if (strategy == "nesterov" && !opt.nesterov)
    throw InputError(cfg.source, "optimizer.nesterov",
                     intro + "trains with SGD with Nesterov momentum: set optimizer.nesterov to true");
  if (strategy == "adam-predict" && opt.name != "adam")
    throw InputError(cfg.source, "optimizer.name",
                     intro + "extrapolates Adam's moments: needs optimizer 'adam', got '" + opt.name + "'");
}

void check_across_fields(const RunConfig& cfg) {
  const std::string& src = cfg.source;
  if (cfg.microbatches > cfg.batch_size)
    throw InputError(src, "microbatches", "must not exceed batch_size (" + std::to_string(cfg.batch_size) +
                                              "), got " + std::to_string(cfg.microbatches));
  const ScheduleInfo& schedule = schedule_info(cfg.schedule);
  if (cfg.microbatches > 1 && !schedule.takes_microbatches)
    throw InputError(src, "microbatches", "schedule '" + cfg.schedule + "' takes no microbatches: set 1, got " +
                                              std::to_string(cfg.microbatches));
  if (cfg.chunks != 0 || schedule.placement != Placement::OnePerDevice) {
    try {
      check_schedule(cfg.schedule, cfg.num_stages(), cfg.microbatches, cfg.chunks);
    } catch (const InputError& e) {
      throw InputError(src, e.field(), e.reason());
    }
  }
  if (!cfg.partition.empty() && (static_cast<int>(cfg.partition.size()) + 1) % cfg.chunks_per_device() != 0)
    throw InputError(src, "partition", "has " + std::to_string(cfg.partition.size() + 1) +
                                           " chunks, not a multiple of the " + std::to_string(cfg.chunks_per_device()) +
                                           " chunks per device");
  if (schedule.replicas && !cfg.partition.empty())
    throw InputError(src, "partition", "schedule '" + cfg.schedule +
                                           "' runs whole-model replicas: give their number in stages, not a partition");
  if (schedule.replicas && cfg.batch_size < cfg.stages)
    throw InputError(src, "batch_size",
                     "schedule '" + cfg.schedule + "' splits each minibatch across " + std::to_string(cfg.stages) +
                         " replicas: needs at least that many samples, got " + std::to_string(cfg.batch_size));
  if (schedule.replicas && cfg.replicas > 1)
    throw InputError(src, "replicas", "schedule '" + cfg.schedule + "' gives its replicas in stages (" +
                                          std::to_string(cfg.stages) + " now): set replicas to 1, got " +
                                          std::to_string(cfg.replicas));
  if (cfg.replicas > 1 && cfg.batch_size < cfg.replicas * cfg.microbatches)
    throw InputError(src, "batch_size",
                     "each of the " + std::to_string(cfg.replicas) + " replicas takes 1/" + std::to_string(cfg.replicas) +
                         " of a minibatch, in " + std::to_string(cfg.microbatches) + " microbatches: needs at least " +
                         std::to_string(cfg.replicas * cfg.microbatches) + " samples, got " + std::to_string(cfg.batch_size));
  if (!cfg.stage_devices.empty() && static_cast<int>(cfg.stage_devices.size()) != cfg.num_devices())
    throw InputError(src, "stage_devices", "lists " + std::to_string(cfg.stage_devices.size()) +
                                               (cfg.stage_devices.size() == 1 ? " device for " : " devices for ") +
                                               (cfg.replicas > 1 ? std::to_string(cfg.num_devices()) + " devices (" +
                                                                       std::to_string(cfg.num_stages()) + " stages x " +
                                                                       std::to_string(cfg.replicas) + " replicas)"
                                                                 : std::to_string(cfg.num_stages()) + " stages"));
  if (cfg.optimizer.nesterov && cfg.optimizer.name != "sgd")
    throw InputError(src, "optimizer.nesterov", "Nesterov momentum applies to optimizer 'sgd' only, got '" +
                                                    cfg.optimizer.name + "'");
  if (cfg.optimizer.nesterov && cfg.optimizer.momentum <= 0)
    throw InputError(src, "optimizer.nesterov", "Nesterov momentum needs optimizer.momentum > 0");
  if (cfg.lr_schedule.name == "cosine" && cfg.lr_schedule.min_lr > cfg.optimizer.lr)
    throw InputError(src, "lr_schedule.min_lr", "must not exceed optimizer.lr (" + number_text(cfg.optimizer.lr) +
                                                    "), got " + number_text(cfg.lr_schedule.min_lr));
}

// A data set read from files needs a directory: say so while the preset's name is still at hand
// (the loader would only see the data set's options).
void check_dataset_path(const RunConfig& cfg) {
  for (const DatasetCatalogEntry& d : dataset_catalog())
    if (d.name == cfg.dataset.name && d.needs_files && d.default_path.empty() && cfg.dataset.path.empty())
      throw InputError(cfg.source, "dataset.path",
                       "missing; the " + d.name + " data set is read from files: set the directory that holds them");
}

}  // namespace

int RunConfig::chunks_per_device() const {
  if (chunks > 0) return chunks;
  return is_schedule(schedule) ? schedule_info(schedule).default_chunks() : 1;
}

RunConfig parse_preset(const std::string& json_text, const std::string& source) {
  ConfigJson root;
  try {
    root = ConfigJson::parse(json_text);
  } catch (const ConfigJson::parse_error& e) {
    throw InputError(source, "", malformed_json_reason(json_text, e));
  }
  if (!root.is_object())
    throw InputError(source, "", "expected a JSON object at the top level, got " + json_type_phrase(root));

  RunConfig cfg;
  cfg.source = source;
  read_section(cfg, root, FieldLocation{source, ""});
  require_name(root, "model", "mlp", source);
  require_name(root, "dataset", "fashion-mnist", source);

  // A partition fixes the stage count; "stages" beside it must agree. (Built in code, a config's
  // partition simply wins over its stages, as RunConfig::num_stages() says.)
  if (!cfg.partition.empty()) {
    const int v = cfg.chunks_per_device();
    const int chunks = static_cast<int>(cfg.partition.size()) + 1;
    if (chunks % v != 0)
      throw InputError(source, "partition", "has " + std::to_string(chunks) + " chunks, not a multiple of the " +
                                                std::to_string(v) + " chunks per device of schedule '" + cfg.schedule + "'");
    const int from_partition = chunks / v;
    if (root.contains("stages") && cfg.stages != from_partition)
      throw InputError(source, "stages", "is " + std::to_string(cfg.stages) + " but partition has " +
                                             (v == 1 ? stage_count_text(cfg.partition.size())
                                                     : std::to_string(chunks) + " chunks, " + std::to_string(v) +
                                                           " per device: " + std::to_string(from_partition) + " stages"));
    cfg.stages = from_partition;
  }
  validate(cfg);
  return cfg;
}

RunConfig load_preset(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw InputError(path, "", "cannot open file: it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", std::string("cannot open file: ") + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw InputError(path, "", std::string("cannot read file: ") + std::strerror(errno));
  return parse_preset(text.str(), path);
}

std::string preset_to_json(const RunConfig& cfg) {
  ConfigJson out = ConfigJson::object();
  for (const FieldSpec& f : run_config_fields()) {
    ConfigJson* slot = &out;
    std::size_t start = 0;
    for (std::size_t dot; (dot = f.path.find('.', start)) != std::string::npos; start = dot + 1)
      slot = &(*slot)[f.path.substr(start, dot - start)];
    // The stage count is written as the partition implies, so the file reads back consistently.
    (*slot)[f.path.substr(start)] = f.path == "stages" ? ConfigJson(cfg.num_stages()) : f.write(cfg);
  }
  return out.dump(2) + "\n";
}

void validate(const RunConfig& cfg) {
  for (const FieldSpec& f : run_config_fields()) f.check(cfg, FieldLocation{cfg.source, f.path});
  check_across_fields(cfg);
  check_strategy_optimizer(cfg);
  check_dataset_path(cfg);
  resolve_strategy_params(cfg.strategy, cfg.schedule, cfg.source);
}

}  // namespace ps
