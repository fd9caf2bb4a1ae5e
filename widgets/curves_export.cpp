#include "widgets/curves_export.h"

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

std::string curves_csv(const std::vector<const RunRecord*>& runs) {
  std::ostringstream out;
  out.precision(10);
  out << "run,step,epoch,samples,wall_seconds,train_loss,train_acc,lr,samples_per_second,test_loss,test_accuracy\n";
  for (const RunRecord* run : runs) {
    std::map<std::int64_t, const EvalMetrics*> evals;
    for (const EvalMetrics& e : run->evals) evals[e.step] = &e;
    const std::string name = csv_field(run->name);
    for (const StepMetrics& m : run->steps) {
      out << name << ',' << m.step << ',' << m.epoch << ',' << m.samples << ',' << m.wall_seconds << ','
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
