// Curve arithmetic for the plots: smoothing and the choice of x axis. No widgets.
#pragma once
#include <string>
#include <vector>

#include "engine/telemetry/events.h"

namespace ps::ui {

// TensorBoard-style exponential moving average with bias correction: weight 0 returns the input,
// weight -> 1 approaches the running mean from the start (no lag towards zero at the beginning).
std::vector<double> ema_smooth(const std::vector<double>& values, double weight);

enum class XAxis { Step, Samples, WallTime };
const char* x_axis_label(XAxis axis);

double x_of(const StepMetrics& m, XAxis axis);
double x_of(const EvalMetrics& m, XAxis axis, const std::vector<StepMetrics>& steps);  // samples via step

}  // namespace ps::ui
