#include "widgets/run_compare_view.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QStandardPaths>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSplitter>
#include <QTableView>
#include <QTableWidget>
#include <QVBoxLayout>
#include <map>
#include <optional>

#include "widgets/colors.h"
#include "widgets/config_diff.h"
#include "widgets/curves_export.h"
#include "widgets/curves_view.h"
#include "widgets/run_list_model.h"

namespace ps::ui {

RunCompareView::RunCompareView(RunListModel* runs, QWidget* parent)
    : QWidget(parent),
      runs_(runs),
      table_(new QTableView(this)),
      diff_(new QTableWidget(this)),
      diff_title_(new QLabel(this)),
      curves_(new CurvesView(this)) {
  table_->setModel(runs_);
  table_->verticalHeader()->hide();
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  table_->horizontalHeader()->setStretchLastSection(true);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::SingleSelection);
  table_->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed);
  diff_->verticalHeader()->hide();
  diff_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  diff_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  diff_->setAlternatingRowColors(true);
  curves_->setShowRaw(false);

  auto button = [this](const QString& text, const QString& tip, auto slot) {
    auto* b = new QPushButton(text, this);
    b->setToolTip(tip);
    connect(b, &QPushButton::clicked, this, slot);
    return b;
  };
  auto* buttons = new QHBoxLayout;
  buttons->addWidget(button(tr("CSV…"), tr("Export the ticked runs' curves as CSV"), [this] {
    askAndExport(tr("Export curves"), tr("CSV files (*.csv)"), QStringLiteral(".csv"), QStringLiteral("curves"),
                 [this](const QString& p, QString* e) { return exportCsv(p, e); });
  }));
  buttons->addWidget(button(tr("PNG…"), tr("Save the overlay plot as PNG"), [this] {
    askAndExport(tr("Save plot"), tr("PNG images (*.png)"), QStringLiteral(".png"), QStringLiteral("plot"),
                 [this](const QString& p, QString*) { return exportPng(p); });
  }));
  buttons->addWidget(button(tr("PDF…"), tr("Save the overlay plot as PDF"), [this] {
    askAndExport(tr("Save plot"), tr("PDF files (*.pdf)"), QStringLiteral(".pdf"), QStringLiteral("plot"),
                 [this](const QString& p, QString*) { return exportPdf(p); });
  }));
  buttons->addWidget(button(tr("Trace…"), tr("Copy the selected run's trace (Perfetto / chrome://tracing JSON)"), [this] {
    askAndExport(tr("Export trace"), tr("Trace JSON (*.json)"), QStringLiteral(".json"), QStringLiteral("trace"),
                 [this](const QString& p, QString* e) { return exportTrace(p, e); });
  }));
  buttons->addStretch(1);
  buttons->addWidget(button(tr("Remove"), tr("Remove the selected run from the list"), [this] {
    const auto rows = table_->selectionModel()->selectedRows();
    if (!rows.isEmpty()) runs_->removeRun(rows.first().row());
  }));

  auto* left_top = new QWidget(this);
  auto* lt = new QVBoxLayout(left_top);
  lt->setContentsMargins(0, 0, 0, 0);
  lt->addLayout(buttons);
  lt->addWidget(table_, 1);
  auto* left_bottom = new QWidget(this);
  auto* lb = new QVBoxLayout(left_bottom);
  lb->setContentsMargins(0, 0, 0, 0);
  lb->addWidget(diff_title_);
  lb->addWidget(diff_, 1);
  auto* left = new QSplitter(Qt::Vertical, this);
  left->addWidget(left_top);
  left->addWidget(left_bottom);
  auto* split = new QSplitter(Qt::Horizontal, this);
  split->addWidget(left);
  split->addWidget(curves_);
  split->setStretchFactor(0, 2);
  split->setStretchFactor(1, 3);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addWidget(split);

  connect(runs_, &RunListModel::checkedRunsChanged, this, &RunCompareView::checkedChanged);
  connect(runs_, &QAbstractItemModel::rowsRemoved, this, &RunCompareView::checkedChanged);
  checkedChanged();
}

void RunCompareView::checkedChanged() {
  std::vector<CurveRun> overlay;
  for (int row = 0; row < runs_->rowCount(); ++row)
    if (runs_->isChecked(row)) overlay.push_back({runs_->run(row), run_color(row)});
  curves_->setRuns(std::move(overlay));
  rebuildDiff();
}

void RunCompareView::refresh() { curves_->refresh(); }

// An N-way diff: every path where some ticked run differs from the first ticked one.
void RunCompareView::rebuildDiff() {
  const auto checked = runs_->checkedRuns();
  diff_->clear();
  diff_->setRowCount(0);
  if (checked.size() < 2) {
    diff_title_->setText(tr("<b>Configuration differences</b> · tick two runs or more"));
    diff_->setColumnCount(0);
    return;
  }
  std::map<std::string, std::vector<std::optional<std::string>>> rows;  // path -> value per run
  for (std::size_t i = 1; i < checked.size(); ++i)
    for (const ConfigDifference& d : config_diff(checked[0]->config, checked[i]->config)) {
      auto& values = rows[d.path];
      if (values.empty()) values.resize(checked.size());
      values[0] = d.a;
      values[i] = d.b;
    }
  for (auto& [path, values] : rows)  // runs equal to the first one share its value
    for (std::size_t i = 1; i < values.size(); ++i)
      if (!values[i]) values[i] = values[0];
  QStringList headers{tr("Field")};
  for (const auto& r : checked) headers << r->name;
  diff_->setColumnCount(headers.size());
  diff_->setHorizontalHeaderLabels(headers);
  diff_->setRowCount(static_cast<int>(rows.size()));
  int row = 0;
  for (const auto& [path, values] : rows) {
    diff_->setItem(row, 0, new QTableWidgetItem(QString::fromStdString(path).mid(1).replace('/', '.')));
    for (std::size_t i = 0; i < values.size(); ++i)
      diff_->setItem(row, static_cast<int>(i) + 1, new QTableWidgetItem(QString::fromStdString(values[i].value_or(""))));
    ++row;
  }
  diff_title_->setText(rows.empty() ? tr("<b>Configuration differences</b> · none: the ticked runs share one configuration")
                                    : tr("<b>Configuration differences</b> · %1 field(s)").arg(rows.size()));
}

std::shared_ptr<RunRecord> RunCompareView::currentRun() const {
  const auto rows = table_->selectionModel() ? table_->selectionModel()->selectedRows() : QModelIndexList{};
  if (!rows.isEmpty()) return runs_->run(rows.first().row());
  const auto checked = runs_->checkedRuns();
  return checked.empty() ? nullptr : checked.back();
}

bool RunCompareView::exportCsv(const QString& path, QString* error) {
  std::vector<const RunRecord*> runs;
  for (const auto& r : runs_->checkedRuns()) runs.push_back(r.get());
  return write_text_file(path, curves_csv(runs), error);
}

bool RunCompareView::exportPng(const QString& path) { return curves_->savePng(path); }
bool RunCompareView::exportPdf(const QString& path) { return curves_->savePdf(path, pdfTitle()); }

QString RunCompareView::pdfTitle() const {
  QStringList names;
  for (const auto& run : runs_->checkedRuns()) names << run->name;
  return names.isEmpty() ? tr("PipeScope: compared runs") : tr("PipeScope: %1").arg(names.join(QStringLiteral(", ")));
}

QString RunCompareView::defaultExportPath(const QString& what, const QString& suffix) const {
  const QString dir = export_dir_.isEmpty() ? QStandardPaths::writableLocation(QStandardPaths::DocumentsLocation) : export_dir_;
  const auto run = currentRun();
  return QDir(dir).filePath(export_file_name(run.get(), run ? run->config : RunConfig{}, what, suffix));
}

bool RunCompareView::exportTrace(const QString& path, QString* error) {
  const auto run = currentRun();
  if (!run) {
    if (error) *error = tr("No run selected");
    return false;
  }
  return copy_trace(*run, path, error);
}

void RunCompareView::askAndExport(const QString& title, const QString& filter, const QString& suffix, const QString& what,
                                  const std::function<bool(const QString&, QString*)>& save) {
  QString path = QFileDialog::getSaveFileName(this, title, defaultExportPath(what, suffix), filter);
  if (path.isEmpty()) return;
  export_dir_ = QFileInfo(path).absolutePath();
  if (!path.endsWith(suffix, Qt::CaseInsensitive)) path += suffix;
  QString error;
  if (save(path, &error))
    Q_EMIT message(tr("Saved %1").arg(path));
  else
    Q_EMIT message(error.isEmpty() ? tr("%1: could not be written").arg(path) : error);
}

}  // namespace ps::ui
