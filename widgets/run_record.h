// Everything the dashboard keeps about one run: its configuration (its partition follows live
// repartitions), its curves, its marks and its summary.
// The session controller fills it while the run goes; the compare page keeps it after.
#pragma once
#include <QString>
#include <vector>

#include "engine/config/run_config.h"
#include "engine/telemetry/events.h"

namespace ps::ui {

struct RunRecord {
  QString name;  // "run 3 · 1f1b-async/stash"
  RunConfig config;
  RunSummary summary;
  std::vector<StepMetrics> steps;
  std::vector<EvalMetrics> evals;
  std::vector<RunMark> marks;  // repartitions, in time order
  QString trace_path;  // Trace Event Format JSON written by the session ("" = none)

  void append(const TelemetryBatch& batch) {
    steps.insert(steps.end(), batch.steps.begin(), batch.steps.end());
    evals.insert(evals.end(), batch.evals.begin(), batch.evals.end());
    marks.insert(marks.end(), batch.marks.begin(), batch.marks.end());
  }
};

}  // namespace ps::ui
