// pipescope-plot: renders PNG plots of a finished (or partly finished) sweep, headless.
//
//   pipescope-plot sweep DIR
//
// reads DIR/sweep.csv (written by `pipescope-cli sweep`) and every finished cell's metrics.csv (the
// run_dir column, relative to DIR unless absolute), and writes, for every stage count S:
//   DIR/plots/loss-S<S>.png      training loss vs step, every configuration overlaid (mean over seeds,
//                                moving average), and
//   DIR/plots/accuracy-S<S>.png  test accuracy per configuration (bar = mean over seeds, dots = seeds), and
//   DIR/plots/curves-S<S>.png    test accuracy after each epoch, every configuration overlaid (mean over
//                                seeds), when the runs evaluated after more than one epoch.
// (With several optimizer settings at one stage count, each gets its own files: loss-S4-sgd-lr0.01.png.)
// Without a display it sets QT_QPA_PLATFORM=offscreen itself. Exit: 0 done, 1 nothing to plot or a
// write failed, 2 bad arguments or an unreadable sweep.csv.
#include <QApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QTextStream>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "widgets/colors.h"
#include "widgets/plot_style.h"
#include "widgets/qcp.h"

namespace {

// One CSV line, with "quoted, cells".
QStringList split_csv(const QString& line) {
  QStringList out;
  QString cell;
  bool quoted = false;
  for (int i = 0; i < line.size(); ++i) {
    const QChar c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"')
        cell += '"', ++i;
      else if (c == '"')
        quoted = false;
      else
        cell += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out << cell;
      cell.clear();
    } else {
      cell += c;
    }
  }
  out << cell;
  return out;
}

struct Table {
  QStringList header;
  std::vector<QStringList> rows;
  int col(const QString& name) const { return static_cast<int>(header.indexOf(name)); }
};

bool read_csv(const QString& path, Table& t) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly | QIODevice::Text)) return false;
  QTextStream in(&f);
  bool first = true;
  while (!in.atEnd()) {
    const QString line = in.readLine();
    if (line.isEmpty()) continue;
    if (first)
      t.header = split_csv(line), first = false;
    else
      t.rows.push_back(split_csv(line));
  }
  return !t.header.isEmpty();
}

double number(const QStringList& row, int col) {
  if (col < 0 || col >= row.size() || row[col].isEmpty()) return std::nan("");
  bool ok = false;
  const double v = row[col].toDouble(&ok);
  return ok ? v : std::nan("");
}

struct Cell {
  QString label, status, run_dir;
  QString setting;  // "adam lr 0.001": curves are overlaid only within one optimizer and learning rate
  int stages = 0;
  double accuracy = std::nan("");
};

struct Curve {
  std::vector<double> steps, loss;
};

// Mean over seeds of the training loss per step, then a centred moving average of `window` steps.
Curve mean_loss(const std::vector<QString>& metric_files, int& window_out) {
  std::map<long long, std::pair<double, int>> by_step;
  for (const auto& path : metric_files) {
    Table t;
    if (!read_csv(path, t)) continue;
    const int step = t.col("step"), loss = t.col("train_loss");
    if (step < 0 || loss < 0) continue;
    for (const auto& row : t.rows) {
      const double s = number(row, step), l = number(row, loss);
      if (std::isnan(s) || std::isnan(l)) continue;  // evaluation rows leave train_loss empty
      auto& acc = by_step[static_cast<long long>(s)];
      acc.first += std::isfinite(l) ? l : 1e9;
      acc.second += 1;
    }
  }
  Curve raw;
  for (const auto& [s, acc] : by_step)
    raw.steps.push_back(static_cast<double>(s)), raw.loss.push_back(acc.first / acc.second);
  const int n = static_cast<int>(raw.steps.size());
  const int window = std::max(1, n / 40);
  window_out = std::max(window_out, window);
  Curve out;
  for (int i = 0; i < n; ++i) {
    const int lo = std::max(0, i - window / 2), hi = std::min(n - 1, i + window / 2);
    double sum = 0;
    for (int j = lo; j <= hi; ++j) sum += raw.loss[j];
    out.steps.push_back(raw.steps[i]);
    out.loss.push_back(sum / (hi - lo + 1));
  }
  return out;
}

// Test accuracy after each epoch, mean over seeds: the evaluation rows of metrics.csv (epoch is the
// 0-based epoch that just ended, so the x value is epoch + 1 = epochs completed).
struct EvalCurve {
  std::vector<double> epochs, accuracy;
};
EvalCurve mean_eval(const std::vector<QString>& metric_files) {
  std::map<int, std::pair<double, int>> by_epoch;
  for (const auto& path : metric_files) {
    Table t;
    if (!read_csv(path, t)) continue;
    const int epoch = t.col("epoch"), acc = t.col("test_accuracy");
    if (epoch < 0 || acc < 0) continue;
    for (const auto& row : t.rows) {
      const double e = number(row, epoch), a = number(row, acc);
      if (std::isnan(e) || std::isnan(a)) continue;  // training rows leave test_accuracy empty
      auto& sum = by_epoch[static_cast<int>(e) + 1];
      sum.first += a;
      sum.second += 1;
    }
  }
  EvalCurve out;
  for (const auto& [e, sum] : by_epoch) out.epochs.push_back(e), out.accuracy.push_back(sum.first / sum.second);
  return out;
}

QPen curve_pen(int index) {
  QPen pen(ps::ui::run_color(index), 2);
  const Qt::PenStyle styles[] = {Qt::SolidLine, Qt::DashLine, Qt::DotLine, Qt::DashDotLine};
  pen.setStyle(styles[(index / 9) % 4]);
  return pen;
}

void setup_plot(QCustomPlot& plot, const QString& title) {
  plot.plotLayout()->insertRow(0);
  plot.plotLayout()->addElement(0, 0, new QCPTextElement(&plot, title));
}

// The legend in its own column right of the axes, so it never covers a curve.
void legend_right(QCustomPlot& plot) {
  plot.legend->setVisible(true);
  auto* cell = new QCPLayoutGrid;
  plot.plotLayout()->addElement(1, 1, cell);
  cell->addElement(0, 0, plot.legend);
  cell->addElement(1, 0, new QCPLayoutElement(&plot));  // pushes the legend to the top
  cell->setRowStretchFactor(0, 0.01);
  plot.plotLayout()->setColumnStretchFactor(0, 3);
  plot.plotLayout()->setColumnStretchFactor(1, 1);
}

bool save(QCustomPlot& plot, const QString& path, int w, int h) {
  ps::ui::style_plot(&plot, QApplication::palette(), plot.font());
  plot.replot();
  if (!plot.savePng(path, w, h, 1.0)) {
    std::fprintf(stderr, "pipescope-plot: %s: cannot write the PNG\n", path.toLocal8Bit().constData());
    return false;
  }
  std::printf("  %s\n", path.toLocal8Bit().constData());
  return true;
}

int plot_sweep(const QString& dir_path) {
  const QDir dir(dir_path);
  const QString csv_path = dir.filePath("sweep.csv");
  Table t;
  if (!read_csv(csv_path, t)) {
    std::fprintf(stderr, "pipescope-plot: %s: cannot read (run `pipescope-cli sweep --grid FILE --out %s` first)\n",
                 csv_path.toLocal8Bit().constData(), dir_path.toLocal8Bit().constData());
    return 2;
  }
  const int c_label = t.col("label"), c_stages = t.col("stages"), c_status = t.col("status"),
            c_acc = t.col("test_accuracy"), c_dir = t.col("run_dir"), c_opt = t.col("optimizer"), c_lr = t.col("lr");
  if (c_label < 0 || c_stages < 0 || c_status < 0 || c_acc < 0 || c_dir < 0) {
    std::fprintf(stderr, "pipescope-plot: %s: header: missing one of label, stages, status, test_accuracy, run_dir\n",
                 csv_path.toLocal8Bit().constData());
    return 2;
  }
  std::vector<Cell> cells;
  std::vector<int> stage_counts;
  std::vector<QString> labels;  // grid order
  for (const auto& row : t.rows) {
    if (row.size() < t.header.size()) continue;
    Cell c;
    c.label = row[c_label];
    c.stages = row[c_stages].toInt();
    c.status = row[c_status];
    c.accuracy = number(row, c_acc);
    c.run_dir = QFileInfo(row[c_dir]).isAbsolute() ? row[c_dir] : dir.filePath(row[c_dir]);
    if (c_opt >= 0 && c_lr >= 0) c.setting = row[c_opt] + " lr " + QString::number(number(row, c_lr), 'g', 4);
    if (std::find(stage_counts.begin(), stage_counts.end(), c.stages) == stage_counts.end())
      stage_counts.push_back(c.stages);
    if (std::find(labels.begin(), labels.end(), c.label) == labels.end()) labels.push_back(c.label);
    cells.push_back(c);
  }
  std::sort(stage_counts.begin(), stage_counts.end());
  if (!dir.mkpath("plots")) {
    std::fprintf(stderr, "pipescope-plot: %s: cannot create plots/\n", dir.filePath("plots").toLocal8Bit().constData());
    return 1;
  }
  std::printf("pipescope-plot: %s\n", dir.filePath("plots").toLocal8Bit().constData());
  int written = 0;
  bool ok = true;
  for (int S : stage_counts) {
    // One pair of plots per optimizer setting: runs with another learning rate are not comparable curves.
    std::vector<QString> settings;
    for (const auto& c : cells)
      if (c.stages == S && std::find(settings.begin(), settings.end(), c.setting) == settings.end())
        settings.push_back(c.setting);
    for (const auto& setting : settings) {
      QString stages_text = QString("%1 stage%2").arg(S).arg(S == 1 ? "" : "s");
      if (!setting.isEmpty()) stages_text += ", " + setting;
      QString suffix = QString("S%1").arg(S);
      if (settings.size() > 1) suffix += "-" + QString(setting).replace(" lr ", "-lr");
      // ---- loss curves
      {
        QCustomPlot plot;
        QFont font = plot.font();
        font.setPointSizeF(10);
        plot.setFont(font);
        setup_plot(plot, "Training loss vs step, " + stages_text + " (mean over seeds)");
        int window = 1, index = 0, curves = 0;
        double y_max = 0;
        for (const auto& label : labels) {
          std::vector<QString> files;
          int diverged = 0, seeds = 0;
          for (const auto& c : cells) {
            if (c.stages != S || c.label != label || c.setting != setting) continue;
            if (c.status != "completed" && c.status != "diverged") continue;
            ++seeds;
            diverged += c.status == "diverged";
            files.push_back(QDir(c.run_dir).filePath("metrics.csv"));
          }
          if (files.empty()) continue;
          const int my_index = index++;
          const Curve curve = mean_loss(files, window);
          if (curve.steps.empty()) continue;
          QCPGraph* g = plot.addGraph();
          g->setPen(curve_pen(my_index));
          QString name = label + QString(" (%1 seed%2)").arg(seeds).arg(seeds == 1 ? "" : "s");
          if (diverged) name += QString(", %1 diverged").arg(diverged);
          g->setName(name);
          QVector<double> x, y;
          for (std::size_t i = 0; i < curve.steps.size(); ++i) {
            x << curve.steps[i];
            y << curve.loss[i];
          }
          g->setData(x, y, true);
          // The y range follows the healthy part of the curves; a diverging one leaves the top edge.
          for (std::size_t i = curve.loss.size() / 20; i < curve.loss.size(); ++i)
            if (std::isfinite(curve.loss[i])) y_max = std::max(y_max, std::min(curve.loss[i], 3.0));
          ++curves;
        }
        if (curves > 0) {
          plot.xAxis->setLabel("step (minibatches)");
          plot.yAxis->setLabel(window > 1 ? QString("training loss (moving average of %1 steps)").arg(window)
                                          : QString("training loss"));
          plot.rescaleAxes();
          plot.yAxis->setRange(0, std::max(0.1, y_max * 1.05));
          legend_right(plot);
          ok &= save(plot, dir.filePath("plots/loss-" + suffix + ".png"), 1400, 700);
          ++written;
        }
      }
      // ---- test accuracy per epoch (only when the runs evaluated more than once)
      {
        QCustomPlot plot;
        QFont font = plot.font();
        font.setPointSizeF(10);
        plot.setFont(font);
        setup_plot(plot, "Test accuracy after each epoch, " + stages_text + " (mean over seeds)");
        int index = 0, longest = 0;
        double lo = 1, hi = 0;
        for (const auto& label : labels) {
          std::vector<QString> files;
          int seeds = 0;
          for (const auto& c : cells) {
            if (c.stages != S || c.label != label || c.setting != setting || c.status != "completed") continue;
            ++seeds;
            files.push_back(QDir(c.run_dir).filePath("metrics.csv"));
          }
          if (files.empty()) continue;
          const int my_index = index++;
          const EvalCurve curve = mean_eval(files);
          if (curve.epochs.empty()) continue;
          longest = std::max(longest, static_cast<int>(curve.epochs.size()));
          QCPGraph* g = plot.addGraph();
          g->setPen(curve_pen(my_index));
          g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 5));
          g->setName(label + QString(" (%1 seed%2)").arg(seeds).arg(seeds == 1 ? "" : "s"));
          QVector<double> x, y;
          for (std::size_t i = 0; i < curve.epochs.size(); ++i) {
            x << curve.epochs[i];
            y << curve.accuracy[i];
            lo = std::min(lo, curve.accuracy[i]);
            hi = std::max(hi, curve.accuracy[i]);
          }
          g->setData(x, y, true);
        }
        if (longest >= 2) {
          plot.xAxis->setLabel("epochs completed");
          plot.yAxis->setLabel("test accuracy");
          plot.rescaleAxes();
          plot.xAxis->setRange(0.8, plot.xAxis->range().upper + 0.2);
          plot.yAxis->setRange(std::max(0.0, lo - 0.01), std::min(1.0, hi + 0.01));
          legend_right(plot);
          ok &= save(plot, dir.filePath("plots/curves-" + suffix + ".png"), 1400, 700);
          ++written;
        }
      }
      // ---- accuracy per configuration
      {
        QCustomPlot plot;
        QFont font = plot.font();
        font.setPointSizeF(10);
        plot.setFont(font);
        setup_plot(plot, "Test accuracy per configuration, " + stages_text + " (bar: mean over seeds; dots: seeds)");
        auto* bars = new QCPBars(plot.xAxis, plot.yAxis);
        bars->setName("mean");
        bars->setWidth(0.6);
        QColor fill = ps::ui::run_color(0);
        fill.setAlpha(140);
        bars->setBrush(fill);
        bars->setPen(QPen(ps::ui::run_color(0).darker(130)));
        QCPGraph* dots = plot.addGraph();
        dots->setName("seed");
        dots->setLineStyle(QCPGraph::lsNone);
        dots->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, QColor(30, 30, 30), QColor(30, 30, 30), 6));
        QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
        double lo = 1, hi = 0;
        int position = 0, first_tick_chars = 0;
        QVector<double> bx, by, dx, dy;
        for (const auto& label : labels) {
          std::vector<double> accs;
          int planned = 0, diverged = 0;
          for (const auto& c : cells) {
            if (c.stages != S || c.label != label || c.setting != setting) continue;
            ++planned;
            diverged += c.status == "diverged";
            if (c.status == "completed" && std::isfinite(c.accuracy)) accs.push_back(c.accuracy);
          }
          if (planned == 0) continue;
          ++position;
          QString tick = label;
          if (diverged) tick += QString(" (%1 diverged)").arg(diverged);
          if (accs.empty() && !diverged) tick += " (missing)";
          ticker->addTick(position, tick);
          if (position == 1) first_tick_chars = tick.size();
          if (accs.empty()) continue;
          double mean = 0;
          for (double a : accs) mean += a, dx << position, dy << a, lo = std::min(lo, a), hi = std::max(hi, a);
          mean /= accs.size();
          bx << position;
          by << mean;
          auto* value = new QCPItemText(&plot);
          value->position->setCoords(position, *std::max_element(accs.begin(), accs.end()));  // above the dots
          value->setPositionAlignment(Qt::AlignHCenter | Qt::AlignBottom);
          value->setText("mean " + QString::number(mean, 'f', 3));
          value->setPadding(QMargins(0, 0, 0, 3));
        }
        if (position > 0) {
          bars->setData(bx, by);
          dots->setData(dx, dy);
          plot.xAxis->setTicker(ticker);
          plot.xAxis->setTickLabelRotation(-35);
          plot.xAxis->setSubTicks(false);
          plot.xAxis->setRange(0.3, position + 0.7);
          // The first label, rotated, reaches left of the axis: leave it room.
          const int left = std::max(80, static_cast<int>(QFontMetrics(plot.xAxis->tickLabelFont()).horizontalAdvance(
                                                             QString(first_tick_chars, 'x')) * 0.82) - 40);
          plot.axisRect()->setAutoMargins(QCP::msTop | QCP::msRight | QCP::msBottom);
          plot.axisRect()->setMargins(QMargins(left, 0, 0, 0));
          plot.yAxis->setLabel("test accuracy");
          if (hi < lo) lo = 0, hi = 1;
          const double bottom = std::max(0.0, std::floor((lo - 0.03) * 20) / 20);
          plot.yAxis->setRange(bottom, std::min(1.0, hi + 0.02));
          plot.legend->setVisible(false);  // the title says what bars and dots are
          const int width = std::max(900, 110 * position + 200);
          ok &= save(plot, dir.filePath("plots/accuracy-" + suffix + ".png"), width, 650);
          ++written;
        }
      }
    }
  }
  if (written == 0) {
    std::fprintf(stderr, "pipescope-plot: %s: no finished cell to plot\n", csv_path.toLocal8Bit().constData());
    return 1;
  }
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || std::string(argv[1]) != "sweep") {
    std::fprintf(stderr, "usage: pipescope-plot sweep DIR   (DIR: the --out of pipescope-cli sweep)\n");
    return 2;
  }
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM") && qEnvironmentVariableIsEmpty("DISPLAY") &&
      qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY"))
    qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  return plot_sweep(QString::fromLocal8Bit(argv[2]));
}
