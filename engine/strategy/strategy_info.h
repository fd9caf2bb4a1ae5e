// The catalogue of weight-staleness strategies: names, parameters, and the text that explains them.
// One place for this text: `pipescope-cli list strategies --verbose` and the dashboard both show it.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "engine/config/run_config.h"

namespace ps {

struct StrategyParamInfo {
  std::string key;
  std::string default_value;
  std::string description;
  std::vector<std::string> choices;  // non-empty: an enumeration
  bool numeric = false;
  double min = 0, max = 0;  // bounds for numeric parameters (inclusive unless marked exclusive)
  bool integer = false;     // numeric parameters: whole numbers only
  bool min_exclusive = false, max_exclusive = false;
};

struct StrategyInfo {
  std::string name;
  std::string title;          // one line
  std::string forward_reads;  // which weights F reads
  std::string backward_reads; // which weights B reads
  std::string formula;        // the exact rule, plain text
  std::string memory;         // extra weight-sized memory per stage
  std::string source;         // paper / code it follows
  std::string caveat;         // what is our reading rather than the source's (may be empty)
  bool implemented = false;   // false: listed but refused at validation
  std::vector<StrategyParamInfo> params;
};

const std::vector<StrategyInfo>& strategy_catalog();
const StrategyInfo* find_strategy(const std::string& name);

// The strategy's parameters with defaults filled in. Throws InputError naming `source` and the field
// path ("strategy.params.KEY") for unknown keys, bad values and strategies that do not fit the schedule.
std::map<std::string, std::string> resolve_strategy_params(const StrategyConfig& cfg, const std::string& schedule,
                                                           const std::string& source);

// Multi-line description: formula, reads, memory, source, caveat, parameters.
std::string describe_strategy(const StrategyInfo& info);

}  // namespace ps
