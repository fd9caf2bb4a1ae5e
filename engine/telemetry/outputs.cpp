// The CSV side of outputs.h: metrics.csv and ledger.csv. (summary.json lives in summary_json.cpp.)
#include "engine/telemetry/outputs.h"

namespace ps {

namespace {

std::string cell(double v) { return format_number(v); }
std::string cell(std::int64_t v) { return std::to_string(v); }
std::string cell(int v) { return std::to_string(v); }
std::string known_or_empty(double v) { return v < 0 ? "" : format_number(v); }  // NaN is not < 0: kept
std::string known_or_empty(int v) { return v < 0 ? "" : std::to_string(v); }
double to_us(std::int64_t ns) { return static_cast<double>(ns) / 1000.0; }

std::string with_header(const char* header) { return std::string(header) + "\n"; }

}  // namespace

// ---- metrics.csv ----

const char* MetricsCsvWriter::header() {
  return "step,epoch,samples,train_loss,train_acc,lr,samples_per_second,wall_seconds,test_loss,test_accuracy";
}

MetricsCsvWriter::MetricsCsvWriter(const std::string& path) : file_(path) { file_.append(with_header(header())); }

std::string MetricsCsvWriter::row(const StepMetrics& m) {
  return cell(m.step) + "," + cell(m.epoch) + "," + cell(m.samples) + "," + cell(m.train_loss) + "," +
         cell(m.train_acc) + "," + cell(m.lr) + "," + cell(m.samples_per_second) + "," + cell(m.wall_seconds) + ",,\n";
}

std::string MetricsCsvWriter::row(const EvalMetrics& m) {
  return cell(m.step) + "," + cell(m.epoch) + ",,,,,," + cell(m.wall_seconds) + "," + cell(m.test_loss) + "," +
         cell(m.test_accuracy) + "\n";
}

void MetricsCsvWriter::append(const std::vector<StepMetrics>& steps, const std::vector<EvalMetrics>& evals) {
  std::string lines;
  std::size_t i = 0, j = 0;
  while (i < steps.size() || j < evals.size()) {
    // An evaluation at step s was taken after step s finished: it goes after that step's row.
    const bool step_next = j == evals.size() || (i < steps.size() && steps[i].step <= evals[j].step);
    lines += step_next ? row(steps[i++]) : row(evals[j++]);
  }
  if (!lines.empty()) file_.append(lines);
}

// ---- ledger.csv ----

const char* LedgerCsvWriter::header() {
  return "stage,minibatch,microbatch,kind,live_version,basis_version,target_version,staleness,"
         "prediction_distance,divergence,prediction_gain,weight_copies,weight_bytes,t_start_us,t_end_us,loss";
}

LedgerCsvWriter::LedgerCsvWriter(const std::string& path) : file_(path) { file_.append(with_header(header())); }

std::string LedgerCsvWriter::row(const OpEvent& op) {
  if (op.kind == OpKind::Update) return "";
  return cell(op.stage) + "," + cell(op.minibatch) + "," + known_or_empty(op.micro) + "," +
         std::string(1, op_letter(op.kind)) + "," + cell(op.live_version) + "," + cell(op.basis_version) + "," +
         cell(op.target_version) + "," + cell(op.staleness()) + "," + cell(op.prediction_distance) + "," +
         known_or_empty(op.divergence) + "," + known_or_empty(op.prediction_gain) + "," + cell(op.weight_copies) + "," +
         cell(op.weight_bytes) + "," + cell(to_us(op.t_start_ns)) + "," + cell(to_us(op.t_end_ns)) + "," +
         known_or_empty(op.loss) + "\n";
}

void LedgerCsvWriter::append(const std::vector<OpEvent>& ops) {
  std::string lines;
  for (const OpEvent& op : ops) lines += row(op);
  if (!lines.empty()) file_.append(lines);
}

}  // namespace ps
