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

  // The run library (widgets/run_library.h) keeps every run in a folder of its own.
  QString id;              // that folder's name ("" = not kept)
  int number = 0;          // "run N": counts across sessions of the dashboard (0 = none)
  bool custom_name = false;  // renamed by the user: shown as is, not labelled by difference
  QString origin;          // "" = run by this dashboard; else the CLI output folder it was imported from
  QString created;         // when it started (ISO 8601, UTC)
  QString resumed_from;    // the checkpoint the run continued ("" = a fresh run)
  // The config came from an old CLI folder without config.json: only the fields summary.json has are
  // known (config_from_summary); the others are defaults and never compared.
  bool partial_config = false;
  bool discarded = false;  // deleted from the library while it ran: never stored again

  void append(const TelemetryBatch& batch) {
    steps.insert(steps.end(), batch.steps.begin(), batch.steps.end());
    evals.insert(evals.end(), batch.evals.begin(), batch.evals.end());
    marks.insert(marks.end(), batch.marks.begin(), batch.marks.end());
  }
};

}  // namespace ps::ui
