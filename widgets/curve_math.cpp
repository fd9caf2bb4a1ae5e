#include "widgets/curve_math.h"

#include <algorithm>
#include <cmath>

namespace ps::ui {

std::vector<double> ema_smooth(const std::vector<double>& values, double weight) {
  weight = std::clamp(weight, 0.0, 0.999);
  std::vector<double> out;
  out.reserve(values.size());
  double last = 0, debias = 1;
  for (double v : values) {
    if (!std::isfinite(v)) {  // a diverged step: keep the gap visible, do not poison the average
      out.push_back(v);
      continue;
    }
    last = weight * last + (1 - weight) * v;
    debias *= weight;
    out.push_back(weight > 0 ? last / (1 - debias) : v);
  }
  return out;
}

const char* x_axis_label(XAxis axis) {
  switch (axis) {
    case XAxis::Step: return "step";
    case XAxis::Samples: return "samples";
    case XAxis::WallTime: return "wall time (s)";
  }
  return "";
}

double x_of(const StepMetrics& m, XAxis axis) {
  switch (axis) {
    case XAxis::Step: return static_cast<double>(m.step);
    case XAxis::Samples: return static_cast<double>(m.samples);
    case XAxis::WallTime: return m.wall_seconds;
  }
  return 0;
}

double x_of(const EvalMetrics& m, XAxis axis, const std::vector<StepMetrics>& steps) {
  if (axis == XAxis::Step) return static_cast<double>(m.step);
  if (axis == XAxis::WallTime) return m.wall_seconds;
  // Samples: the step metrics of the same step know the count; steps are 1-based and contiguous.
  auto it = std::lower_bound(steps.begin(), steps.end(), m.step,
                             [](const StepMetrics& s, std::int64_t step) { return s.step < step; });
  if (it != steps.end() && it->step == m.step) return static_cast<double>(it->samples);
  if (!steps.empty() && steps.back().step > 0)  // extrapolate from the mean batch
    return static_cast<double>(m.step) * static_cast<double>(steps.back().samples) / static_cast<double>(steps.back().step);
  return static_cast<double>(m.step);
}

}  // namespace ps::ui
