// The strategy families behind make_strategy(), one .cpp each, and the reading of their parameters.
// Internal to engine/strategy (LibTorch types).
#pragma once
#include <map>
#include <memory>
#include <string>

#include "engine/strategy/strategy.h"

namespace ps {

using StrategyParams = std::map<std::string, std::string>;

// The value of `key` for `strategy`: the given one, else the catalogue's default. Throws InputError
// (field strategy.params.KEY) when a number or flag does not parse.
std::string strategy_param(const std::string& strategy, const StrategyParams& params, const std::string& key);
double strategy_number(const std::string& strategy, const StrategyParams& params, const std::string& key);
bool strategy_flag(const std::string& strategy, const StrategyParams& params, const std::string& key);

// prediction_strategies.cpp
std::unique_ptr<Strategy> make_spectrain(const StrategyParams& params, int stage, int num_stages);
std::unique_ptr<Strategy> make_nesterov();
std::unique_ptr<Strategy> make_adam_predict(const StrategyParams& params);
// pipemare_strategy.cpp
std::unique_ptr<Strategy> make_pipemare(const StrategyParams& params);
// timeprest_strategies.cpp
std::unique_ptr<Strategy> make_v_timeprest();
std::unique_ptr<Strategy> make_i_timeprest(const StrategyParams& params);
// version_strategies.cpp
std::unique_ptr<Strategy> make_vertical_sync(int stage);
std::unique_ptr<Strategy> make_two_buffer();

}  // namespace ps
