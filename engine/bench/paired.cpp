#include "engine/bench/paired.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace ps {

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

RatioStats ratio_stats(const std::vector<double>& values) {
  RatioStats s;
  s.n = int(values.size());
  if (values.empty()) return s;
  s.median = median_of(values);
  s.min = *std::min_element(values.begin(), values.end());
  s.max = *std::max_element(values.begin(), values.end());
  std::vector<double> dev;
  for (double v : values) dev.push_back(std::fabs(v - s.median));
  // MAD scaled to a standard deviation (normal data), times the median's efficiency factor, over sqrt(n).
  const double se = 1.2533 * 1.4826 * median_of(dev) / std::sqrt(double(s.n));
  s.spread = s.median != 0 ? se / std::fabs(s.median) : 0;
  if (s.n < 2) s.spread = 1;  // one ratio says nothing about its spread
  return s;
}

std::string describe(const RatioStats& s) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%.3f +- %.1f%% (median of %d pair ratio%s, range %.3f..%.3f)", s.median,
                100 * s.spread, s.n, s.n == 1 ? "" : "s", s.min, s.max);
  return buf;
}

int run_paired(const std::string& prefix, std::vector<Measurement>& ms, std::vector<RatioOf>& ratios,
               const PairedOptions& opts, std::FILE* out) {
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  int round = 0;
  for (;;) {
    // Reversed every other round (AB BA AB...), so a slow drift favours neither side.
    std::vector<std::size_t> order(ms.size());
    for (std::size_t i = 0; i < ms.size(); ++i) order[i] = round % 2 ? ms.size() - 1 - i : i;
    for (std::size_t i : order) ms[i].values.push_back(ms[i].run());
    std::fprintf(out, "%s: round %d:", prefix.c_str(), round + 1);
    for (const auto& m : ms) std::fprintf(out, " %s %.1f", m.label.c_str(), m.values.back());
    std::fprintf(out, " samples/s;");
    for (auto& r : ratios) {
      const double b = ms[r.b].values.back();
      r.values.push_back(b > 0 ? ms[r.a].values.back() / b : 0);
      std::fprintf(out, " %s %.3f", r.name.c_str(), r.values.back());
    }
    std::fprintf(out, "\n");
    std::fflush(out);
    ++round;
    if (round < opts.min_rounds) continue;
    if (round >= opts.max_rounds || elapsed() >= opts.budget_s) break;
    // The spread stops the rounds only from kFewestToSettle ratios on: the MAD of 3 can be 0 by chance
    // (bench scaling stopped at 3 pairs, "+- 0.0%", range 1.821..1.827, and another run's 8 pairs
    // ranged 1.597..1.800).
    if (round < kFewestToSettle) continue;
    bool settled = true;
    for (const auto& r : ratios) settled = settled && r.stats().spread <= opts.spread;
    if (settled) break;
  }
  return round;
}

std::string join_fixed(const std::vector<double>& values, int decimals, const std::string& separator) {
  std::string out;
  char buf[64];
  for (double v : values) {
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    out += (out.empty() ? "" : separator) + buf;
  }
  return out;
}

}  // namespace ps
