// The files of a run's --out directory: metrics.csv (one row per step and per evaluation),
// ledger.csv (one row per forward/backward op: STRATEGIES.md section 1) and summary.json.
//
// The CSV files are appended in whole lines, one write per batch, so they parse at any moment while
// the run goes. Non-finite numbers read "nan" / "inf" in CSV and null in JSON.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "engine/telemetry/events.h"
#include "engine/telemetry/text_file.h"

namespace ps {

// metrics.csv: step,epoch,samples,train_loss,train_acc,lr,samples_per_second,wall_seconds,test_loss,
// test_accuracy. A step row leaves the test columns empty; an evaluation row fills step, epoch,
// wall_seconds and the test columns and leaves the training columns empty.
class MetricsCsvWriter {
 public:
  static const char* header();
  explicit MetricsCsvWriter(const std::string& path);  // creates/truncates; throws InputError
  // Rows in step order (an evaluation after the steps of the same step number); one write.
  void append(const std::vector<StepMetrics>& steps, const std::vector<EvalMetrics>& evals);
  void append(const TelemetryBatch& batch) { append(batch.steps, batch.evals); }
  const std::string& path() const { return file_.path(); }

  static std::string row(const StepMetrics& m);
  static std::string row(const EvalMetrics& m);

 private:
  LineFile file_;
};

// ledger.csv: stage,minibatch,microbatch,kind,live_version,basis_version,target_version,staleness,
// prediction_distance,divergence,prediction_gain,weight_copies,weight_bytes,t_start_us,t_end_us,loss.
// Updates are skipped; negatives meaning "unknown" (microbatch, divergence, prediction_gain, loss)
// leave their cell empty.
class LedgerCsvWriter {
 public:
  static const char* header();
  explicit LedgerCsvWriter(const std::string& path);  // creates/truncates; throws InputError
  void append(const std::vector<OpEvent>& ops);       // one write
  void append(const TelemetryBatch& batch) { append(batch.ops); }
  const std::string& path() const { return file_.path(); }

  static std::string row(const OpEvent& op);  // "" for an update

 private:
  LineFile file_;
};

// summary.json. Optional figures that are absent, and non-finite numbers, are written as null.
std::string summary_to_json(const RunSummary& summary);
// Writes PATH.tmp and renames it to PATH. Throws InputError(path, "", reason).
void write_summary_json(const std::string& path, const RunSummary& summary);
// Throws InputError(path, field, reason) for a missing file, bad JSON or a field of the wrong type.
// A null where a number is required reads back as NaN (that is how NaN was written).
RunSummary read_summary_json(const std::string& path);
RunSummary summary_from_json(const std::string& json_text, const std::string& source_name);

std::optional<RunStatus> parse_run_status(const std::string& text);  // inverse of to_string

}  // namespace ps
