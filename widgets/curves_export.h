// Exports of the compare page that do not need a widget: curves as CSV (one row per step, test
// figures on the steps where an evaluation ran) and a copy of a run's trace file.
#pragma once
#include <QString>
#include <string>
#include <vector>

#include "widgets/run_record.h"

namespace ps::ui {

// Columns: run,step,epoch,samples,wall_seconds,train_loss,train_acc,lr,samples_per_second,test_loss,
// test_accuracy (the last two empty on steps without an evaluation).
std::string curves_csv(const std::vector<const RunRecord*>& runs);

// Writes `text` to `path`; false (and `error` set) when the file cannot be written.
bool write_text_file(const QString& path, const std::string& text, QString* error);

// A file name for an export of `run` (or of `config` when there is no run): preset, run number,
// schedule, strategy and `what`, e.g. "tiny-run-3-1f1b-async-stash-curves.csv". Only [A-Za-z0-9._-].
QString export_file_name(const RunRecord* run, const RunConfig& config, const QString& what, const QString& suffix);

// Copies the run's trace JSON; false with `error` set when the run has none or the copy fails.
bool copy_trace(const RunRecord& run, const QString& destination, QString* error);

}  // namespace ps::ui
