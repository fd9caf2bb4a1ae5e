// The strategy catalogue: STRATEGIES.md section 3, one entry per strategy, and the checks of their
// parameters. The text here is what users read (CLI `list strategies --verbose`, the dashboard).
#include "engine/strategy/strategy_info.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "engine/config/suggest.h"
#include "engine/schedule/schedule.h"
#include "engine/util/errors.h"

namespace ps {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

StrategyParamInfo choice_param(std::string key, std::vector<std::string> choices, std::string description) {
  StrategyParamInfo p;
  p.key = std::move(key);
  p.default_value = choices.front();
  p.choices = std::move(choices);
  p.description = std::move(description);
  return p;
}

StrategyParamInfo bool_param(std::string key, bool default_value, std::string description) {
  StrategyParamInfo p = choice_param(std::move(key), {"true", "false"}, std::move(description));
  p.default_value = default_value ? "true" : "false";
  return p;
}

StrategyParamInfo number_param(std::string key, std::string default_value, double min, bool min_exclusive, double max,
                               bool max_exclusive, bool integer, std::string description) {
  StrategyParamInfo p;
  p.key = std::move(key);
  p.default_value = std::move(default_value);
  p.description = std::move(description);
  p.numeric = true;
  p.min = min;
  p.max = max;
  p.min_exclusive = min_exclusive;
  p.max_exclusive = max_exclusive;
  p.integer = integer;
  return p;
}

std::vector<StrategyInfo> make_catalog() {
  std::vector<StrategyInfo> all;

  StrategyInfo latest;
  latest.name = "latest";
  latest.title = "Naive asynchronous pipelining: every pass reads the live weights";
  latest.forward_reads = "live";
  latest.backward_reads = "live at B time (may differ from F's: inconsistent)";
  latest.formula = "F: W = live;  B: W = live (at B time)";
  latest.memory = "0";
  latest.source = "baseline in every paper";
  latest.implemented = true;
  all.push_back(latest);

  StrategyInfo stash;
  stash.name = "stash";
  stash.title = "PipeDream weight stashing: the backward reads the weights its forward used";
  stash.forward_reads = "live, and a copy is stashed";
  stash.backward_reads = "the stashed copy F used";
  stash.formula = "F: W_F = live (a copy is stashed);  B: W = W_F";
  stash.memory = "up to S-k copies (stage 0 holds S)";
  stash.source = "PipeDream (Narayanan et al.), SOSP'19; runtime/optimizer.py in msr-fiddle/pipedream";
  stash.implemented = true;
  all.push_back(stash);

  StrategyInfo vertical;
  vertical.name = "vertical-sync";
  vertical.title = "PipeDream vertical sync: every stage reads the version stage 0 used for the minibatch";
  vertical.forward_reads = "the version stage 0 used for this minibatch (version id travels with the minibatch)";
  vertical.backward_reads = "same as F";
  vertical.formula = "F and B of minibatch i at stage k: W = version v0(i), the version stage 0's forward of i read";
  vertical.memory = "stash of versions";
  vertical.source = "PipeDream, SOSP'19, sec. 3.3 (not in its public code)";
  vertical.caveat =
      "PipeDream's public code does not implement vertical sync; this follows the paper's text. Stage k keeps "
      "every version from the latest v0 it has seen on, so under 1f1b-async stage 0 holds up to S versions and "
      "every other stage up to S+1.";
  vertical.implemented = true;
  all.push_back(vertical);

  StrategyInfo two_bw;
  two_bw.name = "2bw";
  two_bw.title = "PipeDream-2BW: double-buffered weights, one update per M microbatches";
  two_bw.forward_reads =
      "version i-1 for minibatch i (two buffers: the live one and the one before); the live weights where the "
      "schedule's delay exceeds 1";
  two_bw.backward_reads = "same as F";
  two_bw.formula = "W(t+1)=W(t)-lr*grad(W(t-1)), the gradient computed on the previous buffer";
  two_bw.memory = "1 extra copy";
  two_bw.source = "PipeDream-2BW (Memory-Efficient Pipeline-Parallel DNN Training), ICML'21";
  two_bw.caveat =
      "The schedule decides when updates happen (one per minibatch). With nf1b and microbatches >= stages-1 "
      "every stage's delay is at most 1 and every forward of minibatch i reads version i-1, as in 2BW (a stage "
      "with delay 0 keeps the version before its live one). Under 1f1b-async, stages k < S-2 cannot read "
      "version i-1 yet: they read their live weights, stashed as in PipeDream, and hold more than two versions.";
  two_bw.implemented = true;
  all.push_back(two_bw);

  StrategyInfo spectrain;
  spectrain.name = "spectrain";
  spectrain.title = "SpecTrain: predict the future weights along the momentum direction";
  spectrain.forward_reads = "predicted W_hat = live - s*lr*buf";
  spectrain.backward_reads = "predicted again with the B-time s";
  spectrain.formula = "W_hat = live - s*lr*buf  (s: prediction distance, buf: momentum buffer, lr: current rate)";
  spectrain.memory = "1 temporary copy (v2: the forward's prediction is kept until its backward)";
  spectrain.source = "SpecTrain (Chen et al.), arXiv 1809.02839";
  spectrain.caveat =
      "The paper's closed-form distance (distance=paper: forward s = floor(k/2) + N - k - 1, backward "
      "s = floor(k/2)) assumes SpecTrain's own timing. Under a strict per-stage 1F1B order the last stage's "
      "exact forward s is 0 while the paper's is floor((N-1)/2); compare the two rather than trusting either.";
  spectrain.implemented = true;
  spectrain.params = {choice_param("distance", {"exact", "paper", "v2"},
                                   "prediction distance s: exact = target - live version read off the ledger at "
                                   "the op; paper = SpecTrain's closed form; v2 = SpecTrain repository's variant "
                                   "(forward s = N - k - 1, the backward reuses the forward's prediction)")};
  all.push_back(spectrain);

  StrategyInfo nesterov;
  nesterov.name = "nesterov";
  nesterov.title = "Nesterov look-ahead (the NWPT seed): predict with the momentum's geometric decay";
  nesterov.forward_reads = "look-ahead W_hat = live - lr*mu*(1-mu^s)/(1-mu)*buf";
  nesterov.backward_reads = "same rule at B time";
  nesterov.formula = "W_hat = live - lr*mu*(1-mu^s)/(1-mu)*buf; the optimizer is SGD with Nesterov momentum";
  nesterov.memory = "1 temporary copy";
  nesterov.source = "NWPT seed; Nesterov's accelerated gradient (NAG) look-ahead";
  nesterov.caveat =
      "The NWPT seed's description is loose; this closed form is Nesterov's look-ahead with the future "
      "gradients taken as zero (SpecTrain takes them equal to the smoothed gradient), summed as classic momentum "
      "steps; with LibTorch's Nesterov step lr*(g + mu*buf) the sum would carry one more factor mu. Needs "
      "optimizer sgd with optimizer.nesterov = true and momentum > 0.";
  nesterov.implemented = true;
  all.push_back(nesterov);

  StrategyInfo pipemare;
  pipemare.name = "pipemare";
  pipemare.title = "PipeMare: learning-rate rescheduling and a backward weight correction";
  pipemare.forward_reads = "live";
  pipemare.backward_reads = "live corrected: live - (tau_f - tau_b)*delta";
  pipemare.formula =
      "B: W = live - (tau_f - tau_b)*delta, delta = EMA of weight deltas with gamma = D^(1/(tau_f - tau_b)); "
      "learning rate lr / tau^(1 - min(step/K,1)), tau = stage delay";
  pipemare.memory = "1 delta buffer";
  pipemare.source = "PipeMare (Yang et al.), arXiv 1910.05124";
  pipemare.caveat =
      "The learning-rate rule is confirmed in PipeMare's public code; the delta (weight correction) rule is "
      "taken from the paper's text and has not been checked against code. The defaults of decay and warmup "
      "are PipeScope's choices. The delays are read off the ledger: tau_f (tau_b) is the largest forward "
      "(backward) staleness seen at the stage, and one backward's correction uses its own live(B) - live(F).";
  pipemare.implemented = true;
  pipemare.params = {
      bool_param("lr_rescale", true, "divide the learning rate by tau^(1 - min(step/K,1))"),
      bool_param("correction", true, "correct the backward's weights by the delta EMA"),
      number_param("decay", "0.1", 0, true, 1, true, false, "D: the delta EMA uses gamma = D^(1/(tau_f - tau_b))"),
      number_param("warmup", "1000", 0, false, kInf, false, true,
                   "K: steps over which the rescaling fades out (0 = no rescaling)"),
  };
  all.push_back(pipemare);

  StrategyInfo v_timeprest;
  v_timeprest.name = "v-timeprest";
  v_timeprest.title = "V-TiMePReSt: latest weights, no stash, outdated copies dropped at once";
  v_timeprest.forward_reads = "live (latest)";
  v_timeprest.backward_reads = "live (latest); no stash, outdated copies dropped at once";
  v_timeprest.formula = "F: W = live;  B: W = live (no stash; outdated copies are dropped at once)";
  v_timeprest.memory = "0";
  v_timeprest.source = "V-TiMePReSt, arXiv 2509.23241";
  v_timeprest.caveat =
      "Under the same schedule it reads the same weights as 'latest'; the method's difference is its nF1B "
      "schedule (schedule nf1b).";
  v_timeprest.implemented = true;
  all.push_back(v_timeprest);

  StrategyInfo i_timeprest;
  i_timeprest.name = "i-timeprest";
  i_timeprest.title = "I-TiMePReSt: the backward reads a staleness-weighted mix of stashed and live weights";
  i_timeprest.forward_reads = "live, stashed";
  i_timeprest.backward_reads = "intermediate W_int = W_live + sigma(d)*(W_stash - W_live), d = live - stash version";
  i_timeprest.formula =
      "W_int = W_live + sigma(d)*(W_stash - W_live), d = live version - stash version, "
      "sigma(d) = exp(-lambda*d) (or 1/(1+d))";
  i_timeprest.memory = "stash + 1 temporary";
  i_timeprest.source = "I-TiMePReSt, arXiv 2509.23241";
  i_timeprest.caveat =
      "The paper's exact significance function is not public in any source we could reach. "
      "sigma(d) = exp(-lambda*d) (and the 1/(1+d) option) is our reading of its description, "
      "\"exponential decay with the degree of staleness\", not the authors' equation.";
  i_timeprest.implemented = true;
  i_timeprest.params = {
      choice_param("significance", {"exp", "inverse"}, "sigma(d): exp = exp(-lambda*d), inverse = 1/(1+d)"),
      number_param("lambda", "0.5", 0, true, kInf, false, false, "decay rate of exp(-lambda*d)"),
  };
  all.push_back(i_timeprest);

  StrategyInfo adam_predict;
  adam_predict.name = "adam-predict";
  adam_predict.title = "XPipe / PipeOptim: predict the future weights along Adam's update direction";
  adam_predict.forward_reads = "W_hat = live - s*lr*m_hat/(sqrt(v_hat)+eps)";
  adam_predict.backward_reads = "same at B time, or live (PipeOptim predicts forward only: option passes)";
  adam_predict.formula = "W_hat = live - s*lr*m_hat/(sqrt(v_hat)+eps)  (m_hat, v_hat: Adam's bias-corrected moments)";
  adam_predict.memory = "1 temporary copy";
  adam_predict.source = "XPipe, arXiv 1911.04610; PipeOptim, arXiv 2312.00839";
  adam_predict.caveat =
      "With the exact distance a backward under 1f1b-async or nf1b runs at its target version (s = 0), so "
      "passes=both and passes=forward read the same weights there; they differ where a backward runs stale.";
  adam_predict.implemented = true;
  adam_predict.params = {choice_param("passes", {"both", "forward"},
                                      "both = predict for F and B (XPipe); forward = B reads live (PipeOptim)")};
  all.push_back(adam_predict);

  return all;
}

std::vector<std::string> strategy_names() {
  std::vector<std::string> names;
  for (const auto& s : strategy_catalog()) names.push_back(s.name);
  return names;
}

std::string bound_text(double v) {
  if (std::isinf(v)) return "inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string range_text(const StrategyParamInfo& p) {
  return std::string(p.min_exclusive ? "(" : "[") + bound_text(p.min) + ", " + bound_text(p.max) +
         (p.max_exclusive || std::isinf(p.max) ? ")" : "]");
}

// Returns the value in canonical form ("1" -> "true" for booleans) or throws.
std::string check_param(const StrategyParamInfo& p, const std::string& value,
                        const std::string& source) {
  const std::string field = "strategy.params." + p.key;
  const bool boolean = p.choices == std::vector<std::string>{"true", "false"};
  if (boolean) {
    if (value == "true" || value == "1") return "true";
    if (value == "false" || value == "0") return "false";
    throw InputError(source, field, "expected true or false (or 1 or 0), got '" + value + "'");
  }
  if (!p.choices.empty()) {
    for (const auto& c : p.choices)
      if (c == value) return value;
    throw InputError(source, field, unknown_name_reason("value", value, p.choices));
  }
  if (p.numeric) {
    char* end = nullptr;
    errno = 0;
    const double x = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(x))
      throw InputError(source, field, "expected a number, got '" + value + "'");
    if (p.integer && x != std::floor(x)) throw InputError(source, field, "expected an integer, got '" + value + "'");
    const bool above = p.min_exclusive ? x > p.min : x >= p.min;
    const bool below = p.max_exclusive ? x < p.max : x <= p.max;
    if (!above || !below)
      throw InputError(source, field, "must be in " + range_text(p) + ", got " + value);
  }
  return value;
}

std::string asynchronous_schedules() {
  std::string names;
  for (const auto& s : schedule_catalog())
    if (!s.synchronous) names += (names.empty() ? "" : ", ") + s.name;
  return names;
}

}  // namespace

const std::vector<StrategyInfo>& strategy_catalog() {
  static const std::vector<StrategyInfo> catalog = make_catalog();
  return catalog;
}

const StrategyInfo* find_strategy(const std::string& name) {
  for (const auto& s : strategy_catalog())
    if (s.name == name) return &s;
  return nullptr;
}

std::map<std::string, std::string> resolve_strategy_params(const StrategyConfig& cfg, const std::string& schedule,
                                                           const std::string& source) {
  const StrategyInfo* info = find_strategy(cfg.name);
  if (!info) throw InputError(source, "strategy.name", unknown_name_reason("strategy", cfg.name, strategy_names()));

  // Parameters first, then the schedule, then whether it is implemented: each check says as much as it can.
  std::vector<std::string> keys;
  for (const auto& p : info->params) keys.push_back(p.key);
  std::map<std::string, std::string> resolved;
  for (const auto& p : info->params) resolved[p.key] = p.default_value;
  for (const auto& [key, value] : cfg.params) {
    const auto p = std::find_if(info->params.begin(), info->params.end(),
                                [&key = key](const StrategyParamInfo& q) { return q.key == key; });
    if (p == info->params.end()) {
      if (keys.empty())
        throw InputError(source, "strategy.params." + key, "strategy '" + info->name + "' takes no parameters");
      const std::string suggestion = nearest_name(key, keys);
      throw InputError(source, "strategy.params." + key,
                       "strategy '" + info->name + "' has no parameter '" + key + "'" +
                           (suggestion.empty() ? "" : "; did you mean '" + suggestion + "'?") + " (known: " +
                           join_names(keys) + ")");
    }
    resolved[key] = check_param(*p, value, source);
  }

  if (!is_schedule(schedule)) {
    std::vector<std::string> names;
    for (const auto& s : schedule_catalog()) names.push_back(s.name);
    throw InputError(source, "schedule", unknown_name_reason("schedule", schedule, names));
  }
  // Synchronous schedules read the staleness-free version by construction: nothing to correct, so only
  // 'latest' (and 'stash', a no-op there) are accepted.
  if (schedule_info(schedule).synchronous && info->name != "latest" && info->name != "stash")
    throw InputError(source, "strategy.name",
                     "strategy '" + info->name + "' needs an asynchronous schedule (" + asynchronous_schedules() +
                         "); '" + schedule + "' has no stale weights");
  if (!info->implemented)
    throw InputError(source, "strategy.name", "strategy '" + info->name + "' is not implemented yet");
  return resolved;
}

std::string describe_strategy(const StrategyInfo& info) {
  std::string text = info.name + ": " + info.title + "\n";
  auto line = [&](const std::string& label, const std::string& value) {
    if (!value.empty()) text += "  " + label + std::string(16 - label.size(), ' ') + value + "\n";
  };
  line("formula:", info.formula);
  line("forward reads:", info.forward_reads);
  line("backward reads:", info.backward_reads);
  line("extra memory:", info.memory);
  line("source:", info.source);
  line("caveat:", info.caveat);
  if (info.params.empty()) {
    line("parameters:", "none");
  } else {
    text += "  parameters:\n";
    for (const auto& p : info.params) {
      std::string allowed;
      if (!p.choices.empty()) allowed = "one of " + join_names(p.choices);
      else if (p.numeric) allowed = (p.integer ? "an integer in " : "in ") + range_text(p);
      text += "    " + p.key + " = " + p.default_value + "  (" + allowed + "): " + p.description + "\n";
    }
  }
  if (!info.implemented) line("status:", "listed, not implemented yet");
  return text;
}

}  // namespace ps
