#include "widgets/curves_export.h"

#include <QRegularExpression>
#include <QStringList>

#include <QFile>
#include <QObject>
#include <map>
#include <sstream>

namespace ps::ui {
namespace {

std::string csv_field(const QString& text) {
  std::string s = text.toStdString();
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string quoted = "\"";
  for (char c : s) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

}  // namespace

const std::vector<std::string>& curves_csv_config_columns() {
  static const std::vector<std::string> columns = {
      "preset", "model", "dataset", "schedule", "strategy", "strategy_params", "stages", "chunks", "microbatches",
      "batch_size", "optimizer", "base_lr", "seed", "partition", "weights_digest"};
  return columns;
}

namespace {

std::string number_text(double v) {
  std::ostringstream out;
  out.precision(10);
  out << v;
  return out.str();
}

// The settings cells of one run, in curves_csv_config_columns() order, joined and ending with a comma.
std::string config_cells(const RunRecord& run) {
  const RunConfig& c = run.config;
  const bool all = !run.partial_config;
  std::string params;
  for (const auto& [k, v] : c.strategy.params) params += (params.empty() ? "" : ";") + k + "=" + v;
  std::string partition;
  for (int b : c.partition) partition += (partition.empty() ? "" : " ") + std::to_string(b);
  const std::vector<std::string> cells = {
      all ? c.name : std::string(),
      c.model.name,
      c.dataset.name,
      c.schedule,
      c.strategy.name,
      all ? params : std::string(),
      std::to_string(c.num_stages()),
      std::to_string(c.chunks_per_device()),
      std::to_string(c.microbatches),
      std::to_string(c.batch_size),
      all ? c.optimizer.name : std::string(),
      all ? number_text(c.optimizer.lr) : std::string(),
      all ? std::to_string(c.seed) : std::string(),
      partition,
      run.summary.weights_digest};
  std::string out;
  for (const std::string& cell : cells) out += csv_field(QString::fromStdString(cell)) + ",";
  return out;
}

}  // namespace

std::string curves_csv(const std::vector<const RunRecord*>& runs, const std::vector<QString>& labels) {
  std::ostringstream out;
  out.precision(10);
  out << "run,";
  for (const std::string& c : curves_csv_config_columns()) out << c << ',';
  out << "step,epoch,samples,wall_seconds,train_loss,train_acc,lr,samples_per_second,test_loss,test_accuracy\n";
  for (std::size_t r = 0; r < runs.size(); ++r) {
    const RunRecord* run = runs[r];
    std::map<std::int64_t, const EvalMetrics*> evals;
    for (const EvalMetrics& e : run->evals) evals[e.step] = &e;
    const std::string name = csv_field(r < labels.size() && !labels[r].isEmpty() ? labels[r] : run->name);
    const std::string settings = config_cells(*run);
    for (const StepMetrics& m : run->steps) {
      out << name << ',' << settings << m.step << ',' << m.epoch << ',' << m.samples << ',' << m.wall_seconds << ','
          << m.train_loss << ',' << m.train_acc << ',' << m.lr << ',' << m.samples_per_second << ',';
      auto it = evals.find(m.step);
      if (it != evals.end()) out << it->second->test_loss << ',' << it->second->test_accuracy;
      else out << ',';
      out << '\n';
    }
  }
  return out.str();
}

bool write_text_file(const QString& path, const std::string& text, QString* error) {
  QFile file(path);
  if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate) ||
      file.write(text.data(), static_cast<qint64>(text.size())) != static_cast<qint64>(text.size())) {
    if (error) *error = QObject::tr("%1: cannot write (%2)").arg(path, file.errorString());
    return false;
  }
  return true;
}

bool copy_trace(const RunRecord& run, const QString& destination, QString* error) {
  if (run.trace_path.isEmpty() || !QFile::exists(run.trace_path)) {
    if (error) *error = QObject::tr("%1: no trace was recorded for this run").arg(run.name);
    return false;
  }
  if (QFile::exists(destination)) QFile::remove(destination);
  if (!QFile::copy(run.trace_path, destination)) {
    if (error) *error = QObject::tr("%1: cannot copy the trace from %2").arg(destination, run.trace_path);
    return false;
  }
  return true;
}

}  // namespace ps::ui

namespace ps::ui {

QString export_file_name(const RunRecord* run, const RunConfig& config, const QString& what, const QString& suffix) {
  QStringList parts;
  if (!config.name.empty()) parts << QString::fromStdString(config.name);
  if (run) parts << run->name.section(QStringLiteral(" · "), 0, 0);  // "run 3"
  parts << QString::fromStdString(config.schedule) << QString::fromStdString(config.strategy.name);
  parts << what;
  QString name = parts.join(QLatin1Char('-'));
  name.replace(QRegularExpression(QStringLiteral("[^A-Za-z0-9._-]+")), QStringLiteral("-"));
  name.replace(QRegularExpression(QStringLiteral("-{2,}")), QStringLiteral("-"));
  return name + suffix;
}

}  // namespace ps::ui
