// Exports of the compare page that do not need a widget: curves as CSV (one row per step, test
// figures on the steps where an evaluation ran) and a copy of a run's trace file.
#pragma once
#include <QString>
#include <string>
#include <vector>

#include "widgets/run_record.h"

namespace ps::ui {

// One row per step per run, the run's settings repeated on each row so that pandas can group by them
// (df.groupby("strategy")). Columns: run (its label, `labels[i]` or else its name), then the settings
// preset,model,dataset,schedule,strategy,strategy_params,stages,chunks,microbatches,batch_size,
// optimizer,base_lr,seed,partition,weights_digest, then the step's figures step,epoch,samples,
// wall_seconds,train_loss,train_acc,lr,samples_per_second,test_loss,test_accuracy (the last two empty on
// steps without an evaluation). A setting an old CLI folder does not record (partial config) is empty.
std::string curves_csv(const std::vector<const RunRecord*>& runs, const std::vector<QString>& labels = {});
const std::vector<std::string>& curves_csv_config_columns();  // preset ... weights_digest

// Writes `text` to `path`; false (and `error` set) when the file cannot be written.
bool write_text_file(const QString& path, const std::string& text, QString* error);

// A file name for an export of `run` (or of `config` when there is no run): preset, run number,
// schedule, strategy and `what`, e.g. "tiny-run-3-1f1b-async-stash-curves.csv". Only [A-Za-z0-9._-].
QString export_file_name(const RunRecord* run, const RunConfig& config, const QString& what, const QString& suffix);

// Copies the run's trace JSON; false with `error` set when the run has none or the copy fails.
bool copy_trace(const RunRecord& run, const QString& destination, QString* error);

}  // namespace ps::ui
