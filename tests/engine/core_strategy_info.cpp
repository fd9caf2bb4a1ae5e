// The strategy catalogue: every strategy of STRATEGIES.md section 3, its text, parameters and schedule fit.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "engine/schedule/schedule.h"
#include "engine/strategy/strategy_info.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

bool contains(const std::string& text, const std::string& fragment) { return text.find(fragment) != std::string::npos; }

InputError resolve_error(const std::string& strategy, std::map<std::string, std::string> params,
                         const std::string& schedule = "1f1b-async") {
  try {
    resolve_strategy_params(StrategyConfig{strategy, std::move(params)}, schedule, "presets/x.json");
  } catch (const InputError& e) {
    return e;
  }
  ADD_FAILURE() << "expected an InputError for " << strategy << " on " << schedule;
  return InputError("", "", "");
}

const StrategyParamInfo& param(const std::string& strategy, const std::string& key) {
  const StrategyInfo* info = find_strategy(strategy);
  EXPECT_NE(info, nullptr) << strategy;
  const auto p = std::find_if(info->params.begin(), info->params.end(),
                              [&](const StrategyParamInfo& q) { return q.key == key; });
  EXPECT_NE(p, info->params.end()) << strategy << "." << key;
  return *p;
}

TEST(StrategyCatalog, ListsEveryStrategyOfTheReference) {
  std::vector<std::string> names;
  for (const auto& s : strategy_catalog()) names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{"latest", "stash", "vertical-sync", "2bw", "spectrain", "nesterov",
                                             "pipemare", "v-timeprest", "i-timeprest", "adam-predict"}));
  for (const auto& s : strategy_catalog()) {
    SCOPED_TRACE(s.name);
    EXPECT_EQ(find_strategy(s.name), &s);
    EXPECT_FALSE(s.title.empty());
    EXPECT_FALSE(s.forward_reads.empty());
    EXPECT_FALSE(s.backward_reads.empty());
    EXPECT_FALSE(s.formula.empty());
    EXPECT_FALSE(s.memory.empty());
    EXPECT_FALSE(s.source.empty());
  }
  EXPECT_EQ(find_strategy("stashing"), nullptr);
  EXPECT_TRUE(find_strategy("latest")->implemented);
  EXPECT_TRUE(find_strategy("stash")->implemented);
}

TEST(StrategyCatalog, FormulasAndSourcesAreTheReferenceOnes) {
  EXPECT_TRUE(contains(find_strategy("spectrain")->formula, "W_hat = live - s*lr*buf"));
  EXPECT_TRUE(contains(find_strategy("nesterov")->formula, "W_hat = live - lr*mu*(1-mu^s)/(1-mu)*buf"));
  EXPECT_TRUE(contains(find_strategy("pipemare")->formula, "live - (tau_f - tau_b)*delta"));
  EXPECT_TRUE(contains(find_strategy("pipemare")->formula, "gamma = D^(1/(tau_f - tau_b))"));
  EXPECT_TRUE(contains(find_strategy("pipemare")->formula, "lr / tau^(1 - min(step/K,1))"));
  EXPECT_TRUE(contains(find_strategy("i-timeprest")->formula, "W_int = W_live + sigma(d)*(W_stash - W_live)"));
  EXPECT_TRUE(contains(find_strategy("i-timeprest")->formula, "sigma(d) = exp(-lambda*d)"));
  EXPECT_TRUE(contains(find_strategy("i-timeprest")->formula, "1/(1+d)"));
  EXPECT_TRUE(contains(find_strategy("adam-predict")->formula, "W_hat = live - s*lr*m_hat/(sqrt(v_hat)+eps)"));
  EXPECT_TRUE(contains(find_strategy("2bw")->formula, "W(t+1)=W(t)-lr*grad(W(t-1))"));

  EXPECT_TRUE(contains(find_strategy("stash")->source, "msr-fiddle/pipedream"));
  EXPECT_TRUE(contains(find_strategy("spectrain")->source, "1809.02839"));
  EXPECT_TRUE(contains(find_strategy("pipemare")->source, "1910.05124"));
  EXPECT_TRUE(contains(find_strategy("i-timeprest")->source, "2509.23241"));
  EXPECT_TRUE(contains(find_strategy("v-timeprest")->source, "2509.23241"));
  EXPECT_TRUE(contains(find_strategy("adam-predict")->source, "1911.04610"));
  EXPECT_TRUE(contains(find_strategy("adam-predict")->source, "2312.00839"));

  EXPECT_TRUE(contains(find_strategy("i-timeprest")->caveat, "not public"));
  EXPECT_TRUE(contains(find_strategy("pipemare")->caveat, "confirmed in PipeMare's public code"));
  EXPECT_TRUE(contains(find_strategy("spectrain")->caveat, "floor((N-1)/2)"));
}

TEST(StrategyCatalog, ParameterDefaults) {
  EXPECT_EQ(param("spectrain", "distance").default_value, "exact");
  EXPECT_EQ(param("spectrain", "distance").choices, (std::vector<std::string>{"exact", "paper", "v2"}));
  EXPECT_EQ(param("pipemare", "lr_rescale").default_value, "true");
  EXPECT_EQ(param("pipemare", "correction").default_value, "true");
  EXPECT_EQ(param("pipemare", "decay").default_value, "0.1");
  EXPECT_EQ(param("pipemare", "warmup").default_value, "1000");
  EXPECT_TRUE(param("pipemare", "warmup").integer);
  EXPECT_EQ(param("i-timeprest", "significance").default_value, "exp");
  EXPECT_EQ(param("i-timeprest", "lambda").default_value, "0.5");
  EXPECT_EQ(param("adam-predict", "passes").choices, (std::vector<std::string>{"both", "forward"}));
  for (const char* none : {"latest", "stash", "vertical-sync", "2bw", "nesterov", "v-timeprest"})
    EXPECT_TRUE(find_strategy(none)->params.empty()) << none;
}

TEST(StrategyParams, DefaultsAreFilledIn) {
  for (const auto& s : strategy_catalog()) {
    if (!s.implemented) continue;
    const auto resolved = resolve_strategy_params(StrategyConfig{s.name, {}}, "1f1b-async", "");
    ASSERT_EQ(resolved.size(), s.params.size()) << s.name;
    for (const auto& p : s.params) EXPECT_EQ(resolved.at(p.key), p.default_value) << s.name << "." << p.key;
  }
}

TEST(StrategyParams, BadValuesNameTheParameter) {
  InputError e = resolve_error("i-timeprest", {{"lambda", "0"}});
  EXPECT_EQ(e.file(), "presets/x.json");
  EXPECT_EQ(e.field(), "strategy.params.lambda");
  EXPECT_EQ(e.reason(), "must be in (0, inf), got 0");
  EXPECT_EQ(resolve_error("i-timeprest", {{"lambda", "abc"}}).reason(), "expected a number, got 'abc'");
  e = resolve_error("i-timeprest", {{"significance", "gauss"}});
  EXPECT_EQ(e.field(), "strategy.params.significance");
  EXPECT_TRUE(contains(e.reason(), "unknown value 'gauss'")) << e.reason();
  EXPECT_TRUE(contains(e.reason(), "(known: exp, inverse)")) << e.reason();
  EXPECT_TRUE(contains(resolve_error("spectrain", {{"distance", "papr"}}).reason(), "did you mean 'paper'?"));
  EXPECT_EQ(resolve_error("pipemare", {{"correction", "yes"}}).reason(),
            "expected true or false (or 1 or 0), got 'yes'");
  EXPECT_EQ(resolve_error("pipemare", {{"warmup", "2.5"}}).reason(), "expected an integer, got '2.5'");
  EXPECT_EQ(resolve_error("pipemare", {{"warmup", "-1"}}).reason(), "must be in [0, inf), got -1");
  EXPECT_EQ(resolve_error("pipemare", {{"decay", "1"}}).reason(), "must be in (0, 1), got 1");
}

TEST(StrategyParams, UnknownKeysAndStrategies) {
  InputError e = resolve_error("i-timeprest", {{"lamda", "0.5"}});
  EXPECT_EQ(e.field(), "strategy.params.lamda");
  EXPECT_TRUE(contains(e.reason(), "did you mean 'lambda'?")) << e.reason();
  e = resolve_error("latest", {{"lambda", "0.5"}});
  EXPECT_EQ(e.reason(), "strategy 'latest' takes no parameters");
  e = resolve_error("spectrian", {});
  EXPECT_EQ(e.field(), "strategy.name");
  EXPECT_TRUE(contains(e.reason(), "did you mean 'spectrain'?")) << e.reason();
}

// Valid values pass the parameter checks: the strategy is then either resolved (booleans normalised)
// or refused only because it is not implemented yet.
TEST(StrategyParams, ValidValuesPass) {
  using Params = std::map<std::string, std::string>;
  struct Case {
    std::string name;
    Params given, resolved;
  };
  const std::vector<Case> cases = {
      {"spectrain", {{"distance", "v2"}}, {{"distance", "v2"}}},
      {"pipemare",
       {{"lr_rescale", "0"}, {"correction", "1"}, {"decay", "0.5"}, {"warmup", "0"}},
       {{"lr_rescale", "false"}, {"correction", "true"}, {"decay", "0.5"}, {"warmup", "0"}}},
      {"i-timeprest", {{"lambda", "2"}}, {{"significance", "exp"}, {"lambda", "2"}}},
      {"adam-predict", {{"passes", "forward"}}, {{"passes", "forward"}}},
  };
  for (const auto& [name, params, expected] : cases) {
    SCOPED_TRACE(name);
    if (find_strategy(name)->implemented) {
      EXPECT_EQ(resolve_strategy_params(StrategyConfig{name, params}, "1f1b-async", ""), expected);
    } else {
      const InputError e = resolve_error(name, params);
      EXPECT_EQ(e.field(), "strategy.name");
      EXPECT_EQ(e.reason(), "strategy '" + name + "' is not implemented yet");
    }
  }
}

TEST(StrategySchedules, EveryStrategyFitsTheAsynchronousSchedules) {
  for (const auto& s : strategy_catalog())
    for (const char* schedule : {"1f1b-async", "nf1b"}) {
      if (s.implemented) {
        EXPECT_NO_THROW(resolve_strategy_params(StrategyConfig{s.name, {}}, schedule, "")) << s.name;
      } else {
        EXPECT_TRUE(contains(resolve_error(s.name, {}, schedule).reason(), "not implemented yet")) << s.name;
      }
    }
}

TEST(StrategySchedules, SynchronousSchedulesTakeOnlyLatestAndStash) {
  for (const auto& schedule : schedule_catalog()) {
    if (!schedule.synchronous) continue;
    EXPECT_NO_THROW(resolve_strategy_params(StrategyConfig{"latest", {}}, schedule.name, "")) << schedule.name;
    EXPECT_NO_THROW(resolve_strategy_params(StrategyConfig{"stash", {}}, schedule.name, "")) << schedule.name;
    for (const auto& s : strategy_catalog()) {
      if (s.name == "latest" || s.name == "stash") continue;
      const InputError e = resolve_error(s.name, {}, schedule.name);
      EXPECT_EQ(e.field(), "strategy.name");
      EXPECT_EQ(e.reason(), "strategy '" + s.name + "' needs an asynchronous schedule (1f1b-async, nf1b); '" +
                                schedule.name + "' has no stale weights");
    }
  }
  EXPECT_EQ(resolve_error("latest", {}, "gpipe2").field(), "schedule");
}

TEST(StrategyDescription, ShowsFormulaSourceCaveatAndParameters) {
  for (const auto& s : strategy_catalog()) {
    SCOPED_TRACE(s.name);
    const std::string text = describe_strategy(s);
    EXPECT_EQ(text.rfind(s.name + ": " + s.title, 0), 0u) << text;
    EXPECT_TRUE(contains(text, s.formula));
    EXPECT_TRUE(contains(text, s.forward_reads));
    EXPECT_TRUE(contains(text, s.backward_reads));
    EXPECT_TRUE(contains(text, s.source));
    EXPECT_TRUE(contains(text, s.caveat));
    for (const auto& p : s.params) EXPECT_TRUE(contains(text, p.key + " = " + p.default_value)) << text;
    EXPECT_EQ(contains(text, "not implemented yet"), !s.implemented) << text;
  }
  EXPECT_TRUE(contains(describe_strategy(*find_strategy("i-timeprest")), "not public"));
  EXPECT_TRUE(contains(describe_strategy(*find_strategy("pipemare")), "warmup = 1000  (an integer in [0, inf))"));
}

}  // namespace
}  // namespace ps
