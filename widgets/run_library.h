// The run library: every run of the dashboard and every CLI output folder it imports, kept on disk
// (one folder per run) and reopened at the next start.
//
// A run folder holds what a CLI --out folder holds, so the two read the same way:
//   summary.json  the RunSummary (engine/telemetry/outputs.h); required
//   metrics.csv   one row per step and per evaluation (MetricsCsvWriter's columns)
//   config.json   the run's settings as a preset, partition resolved (the CLI writes it too)
//   run.json      what the files above do not say: {"number", "name", "custom_name", "origin",
//                 "created", "resumed_from", "repartitions": [{"step", "t_seconds", "before", "after",
//                 "text"}]}; the CLI writes "created", "resumed_from" and "repartitions"
// The library does not copy ledger.csv or traces: it keeps curves and figures, not every op.
#pragma once
#include <QString>
#include <QStringList>
#include <memory>
#include <string>
#include <vector>

#include "widgets/run_record.h"

namespace ps::ui {

// Reads a run folder or a CLI --out folder (or the path of its summary.json). summary.json is required;
// metrics.csv, config.json and run.json are read when present. nullptr and `error` (naming the file
// and the field) for bad input.
std::shared_ptr<RunRecord> read_run_folder(const QString& path, QString* error);
// Writes summary.json, metrics.csv, config.json and run.json into `dir` (created when missing).
bool write_run_folder(const RunRecord& run, const QString& dir, QString* error);

// metrics.csv: the steps and evaluations of a run, by the header's column names. False and `error`
// (file, line, column) for a row that does not parse.
bool parse_metrics_csv(const std::string& text, const QString& source, std::vector<StepMetrics>* steps,
                       std::vector<EvalMetrics>* evals, QString* error);
std::string metrics_csv_text(const RunRecord& run);  // MetricsCsvWriter's rows, evaluations after their step

// The settings summary.json records (model, data set, schedule, strategy, stages, chunks, microbatches,
// partition, steps, batch size): the config of a CLI folder that has no config.json.
RunConfig config_from_summary(const RunSummary& summary);
// True for the preset JSON paths ("/strategy/name", "/partition/0"...) config_from_summary fills.
bool known_from_summary(const std::string& json_path);

class RunLibrary {
 public:
  explicit RunLibrary(QString root = {});  // "" = off: nothing is kept, load() is empty
  // $PIPESCOPE_RUNS_DIR when set; "" (off) in QStandardPaths test mode; else AppDataLocation/runs.
  static QString defaultRoot();

  QString root() const { return root_; }
  bool enabled() const { return !root_.isEmpty(); }

  // Every run kept, in the order they joined the library (by number); folders that cannot be read are skipped and named
  // in `errors`. A run that was still going when the dashboard closed reads as stopped.
  std::vector<std::shared_ptr<RunRecord>> load(QStringList* errors = nullptr);
  // Writes the run into its folder; the first store gives it an id (and a number when it has none).
  bool store(RunRecord& run, QString* error);
  // Reads a CLI output folder (or run folder) and keeps a copy; returns the copy (origin = the folder).
  std::shared_ptr<RunRecord> import(const QString& path, QString* error);
  // Deletes the run's folder. True when it is gone (or was never kept).
  bool remove(const RunRecord& run, QString* error);
  int nextNumber();  // for a new run: one more than the highest number kept or handed out

 private:
  QString newId(int number) const;
  QString root_;
  int max_number_ = 0;
};

}  // namespace ps::ui
