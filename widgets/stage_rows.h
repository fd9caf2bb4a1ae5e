// The timeline's rows (devices) seen through a run's summary: which row each chunk is on, the row's label
// and the memory it peaked at: its chunks' weights and activations (measured on every device) and, on a
// GPU, the caching allocator's peaks (the tooltip of the row's gutter label).
#pragma once
#include <QString>
#include <QStringList>
#include <vector>

#include "engine/telemetry/events.h"

namespace ps::ui {

// The row (device) of every per_stage entry: the schedule's placement when a device holds several
// chunks, replica after replica.
std::vector<int> summary_rows(const RunSummary& s);

// A label per row (device): its device, replica and process ("cuda:0 (NVIDIA H200) · r1 · pid 4711 on host").
QStringList summary_row_labels(const RunSummary& s);

// HTML lines for row `row`: "peaks: weights 1.5 MiB (3 copies) · activations 640 KiB" per chunk, then
// "GPU allocator peaks: allocated … · reserved …" on a GPU only (with "shared by N stages" when other
// stages' devices use that GPU). Empty when the summary lists no chunk of the row.
QString stage_memory_text(const RunSummary& s, int row);

}  // namespace ps::ui
