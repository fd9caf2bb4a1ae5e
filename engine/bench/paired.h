// Paired measurements for the ratio benchmarks. Machines drift (other processes, frequency, caches), so
// a ratio taken from two separate medians moves with them. Here the configurations run in rounds, one
// after another (the order reversed every other round), each round gives one ratio per pair of
// configurations, and the benchmark reports the median of those ratios with its spread, adding rounds
// until every spread is small or the time budget is spent. Torch-free.
#pragma once
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace ps {

struct RatioStats {
  int n = 0;
  double median = 0;
  double spread = 0;  // relative standard error of the median: 1.2533 * 1.4826 * MAD / sqrt(n) / median
  double min = 0, max = 0;
};

RatioStats ratio_stats(const std::vector<double>& values);

double median_of(std::vector<double> values);

// The fewest rounds whose spread may end a run of rounds before its budget (a spread from fewer says
// little).
inline constexpr int kFewestToSettle = 6;

struct PairedOptions {
  int min_rounds = 3;     // --repeats
  int max_rounds = 40;
  double budget_s = 60;   // --budget: no new round once this much time is spent (0: exactly min_rounds)
  double spread = 0.01;   // --spread: stop once every ratio's spread is at most this
};

struct Measurement {
  std::string label;
  std::function<double()> run;  // one timed run; returns samples/s
  std::vector<double> values;   // one per round
};

struct RatioOf {
  std::string name;  // printed as "NAME: ..."
  int a = 0, b = 0;  // measurements[a] / measurements[b]
  std::vector<double> values;  // one per round
  RatioStats stats() const { return ratio_stats(values); }
};

// Runs rounds of every measurement and fills the values; prints one line per round to `out`, prefixed
// by `prefix`. Returns the number of rounds run.
int run_paired(const std::string& prefix, std::vector<Measurement>& ms, std::vector<RatioOf>& ratios,
               const PairedOptions& opts, std::FILE* out);

// "0.973 +- 0.4% (median of 7 pair ratios, range 0.961..0.990)"
std::string describe(const RatioStats& s);

// The values with `decimals` decimals, `separator` between them: "0.962 1.041 1.070".
std::string join_fixed(const std::vector<double>& values, int decimals, const std::string& separator = " ");

}  // namespace ps
