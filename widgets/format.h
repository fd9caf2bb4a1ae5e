// Human-readable numbers for labels and tooltips.
#pragma once
#include <QString>
#include <cstdint>

namespace ps::ui {

QString format_bytes(std::int64_t bytes);        // "512 B", "1.5 KiB", "23.4 MiB"
QString format_count(double n);                  // "950", "12.3k", "4.56M"
QString format_duration_ns(std::int64_t ns);     // "850 ns", "12.4 µs", "3.20 ms", "1.50 s"
QString format_percent(double fraction);         // 0.784 -> "78%"

}  // namespace ps::ui
