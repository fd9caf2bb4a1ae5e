#include "widgets/stage_rows.h"

#include <QCoreApplication>
#include <QStringList>
#include <algorithm>
#include <stdexcept>

#include "engine/schedule/schedule.h"
#include "widgets/format.h"

namespace ps::ui {
namespace {

QString tr(const char* text, int n = -1) { return QCoreApplication::translate("StageRows", text, nullptr, n); }

QString peaks(const StageSummary& st) {
  const QString copies = st.weight_copies_max == 1 ? tr("1 copy") : tr("%1 copies").arg(st.weight_copies_max);
  return tr("weights <b>%1</b> (%2) · activations <b>%3</b>")
      .arg(format_bytes(st.weight_bytes_max), copies, format_bytes(st.activation_bytes_max));
}

}  // namespace

std::vector<int> summary_rows(const RunSummary& s) {
  const int n = static_cast<int>(s.per_stage.size());
  std::vector<int> rows(static_cast<std::size_t>(n));
  const int replicas = std::max(1, s.replicas);
  const int devices = std::max(1, s.stages / replicas);  // one replica's devices
  std::vector<int> placement;
  if (s.chunks > 1) {
    try {
      placement = chunk_devices(s.schedule, devices, s.chunks);
    } catch (const std::exception&) {  // an unknown schedule (an imported run): the loop placement
    }
  }
  const int group = std::max(1, n / replicas);  // the chunks of one replica
  for (int k = 0; k < n; ++k) {
    const int r = k / group, c = k % group;
    int device = c;
    if (s.chunks > 1) device = c < static_cast<int>(placement.size()) ? placement[static_cast<std::size_t>(c)] : c % devices;
    rows[static_cast<std::size_t>(k)] = r * devices + device;
  }
  return rows;
}

QStringList summary_row_labels(const RunSummary& s) {
  const std::vector<int> rows = summary_rows(s);
  QStringList labels;
  labels.resize(std::max(1, s.stages));
  for (std::size_t k = 0; k < rows.size(); ++k) {  // a row's first chunk names it
    const StageSummary& st = s.per_stage[k];
    if (rows[k] < 0 || rows[k] >= labels.size() || !labels[rows[k]].isEmpty()) continue;
    QString label = QString::fromStdString(st.device);
    if (st.replica >= 0) label += tr(" · r%1").arg(st.replica);  // the replica
    const auto pid = st.process.find(", pid ");  // "rank R, pid P on HOST": which process, on which host
    if (pid != std::string::npos) label += QStringLiteral(" · ") + QString::fromStdString(st.process.substr(pid + 2));
    labels[rows[k]] = label;
  }
  return labels;
}

QString stage_memory_text(const RunSummary& s, int row) {
  const std::vector<int> rows = summary_rows(s);
  std::vector<const StageSummary*> chunks;
  for (std::size_t k = 0; k < rows.size(); ++k)
    if (rows[k] == row) chunks.push_back(&s.per_stage[k]);
  if (chunks.empty()) return {};
  QStringList lines;
  if (chunks.size() == 1) {
    lines << tr("peaks: %1").arg(peaks(*chunks.front()));
  } else {
    lines << tr("peaks per chunk:");
    for (const StageSummary* st : chunks) lines << tr("chunk %1: %2").arg(st->stage).arg(peaks(*st));
    // The chunks' activation peaks need not fall together: the device's own peak, all chunks at once.
    lines << tr("activations held by the device at once: <b>%1</b>")
                 .arg(format_bytes(chunks.front()->device_activation_bytes_max));
  }
  // The allocator's figures are the GPU's: every chunk on it reports the same, one line is enough.
  const auto gpu = std::find_if(chunks.begin(), chunks.end(), [](const StageSummary* st) { return st->gpu_allocated_max >= 0; });
  if (gpu != chunks.end()) {
    QString line = tr("GPU allocator peaks: allocated <b>%1</b> · reserved <b>%2</b>")
                       .arg(format_bytes((*gpu)->gpu_allocated_max), format_bytes((*gpu)->gpu_reserved_max));
    if ((*gpu)->gpu_shared_by > 1) line += tr(" (the GPU's, shared by %n stages)", (*gpu)->gpu_shared_by);
    lines << line;
  }
  return lines.join(QStringLiteral("<br>"));
}

}  // namespace ps::ui
