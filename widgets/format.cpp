#include "widgets/format.h"

#include <cmath>

namespace ps::ui {

QString format_bytes(std::int64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (std::abs(b) < 1024) return QStringLiteral("%1 B").arg(bytes);
  if (std::abs(b) < 1024.0 * 1024) return QStringLiteral("%1 KiB").arg(b / 1024, 0, 'f', 1);
  if (std::abs(b) < 1024.0 * 1024 * 1024) return QStringLiteral("%1 MiB").arg(b / (1024.0 * 1024), 0, 'f', 1);
  return QStringLiteral("%1 GiB").arg(b / (1024.0 * 1024 * 1024), 0, 'f', 2);
}

QString format_count(double n) {
  const double a = std::abs(n);
  if (a < 1000) return QString::number(n, 'g', 4);
  if (a < 1e6) return QStringLiteral("%1k").arg(n / 1e3, 0, 'f', a < 1e4 ? 2 : 1);
  if (a < 1e9) return QStringLiteral("%1M").arg(n / 1e6, 0, 'f', a < 1e7 ? 2 : 1);
  return QStringLiteral("%1G").arg(n / 1e9, 0, 'f', 2);
}

QString format_duration_ns(std::int64_t ns) {
  const double a = std::abs(static_cast<double>(ns));
  if (a < 1e3) return QStringLiteral("%1 ns").arg(ns);
  if (a < 1e6) return QStringLiteral("%1 µs").arg(ns / 1e3, 0, 'f', 1);
  if (a < 1e9) return QStringLiteral("%1 ms").arg(ns / 1e6, 0, 'f', 2);
  return QStringLiteral("%1 s").arg(ns / 1e9, 0, 'f', 2);
}

QString format_percent(double fraction) { return QStringLiteral("%1%").arg(std::lround(fraction * 100)); }

}  // namespace ps::ui
