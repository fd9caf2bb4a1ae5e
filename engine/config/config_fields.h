// The RunConfig schema as one table: every preset key with its path, how it is read from JSON (with
// type checks), written back, and checked (ranges, known names). Parsing, writing, validation and
// command-line overrides all walk this table, so they cannot disagree about a field.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/config/run_config.h"
#include "engine/util/errors.h"

namespace ps {

using ConfigJson = nlohmann::ordered_json;  // keeps the key order when presets are written

// Where a value came from: the file (or "command line") and the field path ("optimizer.lr").
struct FieldLocation {
  std::string source;
  std::string path;

  [[noreturn]] void fail(const std::string& reason) const { throw InputError(source, path, reason); }
  FieldLocation element(std::size_t i) const { return {source, path + "[" + std::to_string(i) + "]"}; }
  FieldLocation child(const std::string& key) const { return {source, path.empty() ? key : path + "." + key}; }
};

enum class FieldKind { Integer, Number, Boolean, Text, IntegerList, TextList, TextMap };

struct FieldSpec {
  std::string path;  // "optimizer.lr"
  FieldKind kind;
  std::function<void(RunConfig&, const ConfigJson&, const FieldLocation&)> read;  // type-checks, then stores
  std::function<ConfigJson(const RunConfig&)> write;
  std::function<void(const RunConfig&, const FieldLocation&)> check;  // ranges and known names
};

const std::vector<FieldSpec>& run_config_fields();
const FieldSpec* find_field(const std::string& path);

// Sections are the nested objects: model, dataset, optimizer, lr_schedule, strategy.
bool is_section(const std::string& path);
// The keys directly inside a section ("" = the top level), in schema order.
std::vector<std::string> section_keys(const std::string& section);

// "a string (\"x\")", "a number (3)", ... for "expected X, got Y" messages.
std::string json_type_phrase(const ConfigJson& value);
// Numbers for messages: whole numbers as integers, others as JSON writes them (shortest round trip).
std::string number_text(double value);

}  // namespace ps
