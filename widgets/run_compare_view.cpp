#include "widgets/run_compare_view.h"

#include <QDir>
#include <QEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QStandardPaths>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QScrollBar>
#include <algorithm>
#include <QLabel>
#include <QMessageBox>
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
#include "widgets/run_labels.h"
#include "widgets/run_list_model.h"

namespace ps::ui {

RunCompareView::RunCompareView(RunListModel* runs, QWidget* parent)
    : QWidget(parent),
      runs_(runs),
      table_(new QTableView(this)),
      diff_(new QTableWidget(this)),
      diff_title_(new QLabel(this)),
      details_(new QLabel(this)),
      curves_(new CurvesView(this)) {
  table_->setModel(runs_);
  table_->verticalHeader()->hide();
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  table_->horizontalHeader()->setStretchLastSection(true);
  table_->setAlternatingRowColors(true);
  table_->setWordWrap(false);
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
  buttons->addWidget(button(tr("Delete…"), tr("Delete the selected run from the run library (its folder on disk)"), [this] {
    const auto rows = table_->selectionModel()->selectedRows();
    if (rows.isEmpty()) return Q_EMIT message(tr("Select the run to delete first"));
    const int row = rows.first().row();
    const auto answer = QMessageBox::question(this, tr("Delete run"),
                                              tr("Delete %1 from the run library? Its curves and summary are removed from disk.")
                                                  .arg(runs_->label(row)),
                                              QMessageBox::Yes | QMessageBox::Cancel, QMessageBox::Cancel);
    if (answer == QMessageBox::Yes) runs_->removeRun(row);
  }));

  details_->setObjectName(QStringLiteral("runDetails"));
  details_->setWordWrap(true);
  details_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  details_->setText(tr("Select a run to see its summary: weights digest, resumed from, repartitions."));

  // Top: the runs, full width (every figure in one row); below, the differences beside the curves.
  auto* top = new QWidget(this);
  auto* tl = new QVBoxLayout(top);
  tl->setContentsMargins(0, 0, 0, 0);
  tl->addLayout(buttons);
  tl->addWidget(table_, 1);
  tl->addWidget(details_);
  auto* diff_box = new QWidget(this);
  auto* db = new QVBoxLayout(diff_box);
  db->setContentsMargins(0, 0, 0, 0);
  diff_title_->setWordWrap(true);
  db->addWidget(diff_title_);
  db->addWidget(diff_, 1);
  auto* bottom = new QSplitter(Qt::Horizontal, this);
  bottom->addWidget(diff_box);
  bottom->addWidget(curves_);
  bottom->setStretchFactor(0, 9);  // room for the digests of three runs side by side
  bottom->setStretchFactor(1, 11);
  bottom->setSizes({450, 550});
  auto* split = new QSplitter(Qt::Vertical, this);
  split->addWidget(top);
  split->addWidget(bottom);
  split->setStretchFactor(0, 0);  // the table as tall as its rows (fitTable), the plots take the rest
  split->setStretchFactor(1, 1);
  split->setCollapsible(1, false);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addWidget(split);

  connect(table_->selectionModel(), &QItemSelectionModel::selectionChanged, this, &RunCompareView::showDetails);
  connect(runs_, &QAbstractItemModel::rowsInserted, this, &RunCompareView::fitTable);
  connect(runs_, &QAbstractItemModel::rowsRemoved, this, &RunCompareView::fitTable);
  fitTable();
  connect(runs_, &QAbstractItemModel::dataChanged, this, [this] {  // a run's summary moved on (its digest at the end)
    rebuildDiff();
    showDetails();
  });
  connect(runs_, &RunListModel::checkedRunsChanged, this, &RunCompareView::checkedChanged);
  connect(runs_, &QAbstractItemModel::rowsRemoved, this, &RunCompareView::checkedChanged);
  checkedChanged();
}

std::vector<QString> RunCompareView::checkedLabels() const {
  std::vector<const RunRecord*> runs;
  for (const auto& r : runs_->checkedRuns()) runs.push_back(r.get());
  return difference_labels(runs);
}

void RunCompareView::checkedChanged() {
  std::vector<CurveRun> overlay;
  const std::vector<QString> labels = checkedLabels();
  for (int row = 0; row < runs_->rowCount(); ++row)
    if (runs_->isChecked(row)) overlay.push_back({runs_->run(row), run_color(row), labels[overlay.size()]});
  curves_->setRuns(std::move(overlay));
  rebuildDiff();
  showDetails();
}

void RunCompareView::showDetails() {
  const auto rows = table_->selectionModel() ? table_->selectionModel()->selectedRows() : QModelIndexList{};
  const auto run = rows.isEmpty() ? nullptr : runs_->run(rows.first().row());
  details_->setText(run ? RunListModel::details(*run)
                        : tr("Select a run to see its summary: weights digest, resumed from, repartitions."));
}

void RunCompareView::refresh() { curves_->refresh(); }

// An N-way diff: first what the runs did (weights digest, resumed from, repartitions), then every
// settings path where some ticked run differs from the first ticked one.
void RunCompareView::rebuildDiff() {
  const auto checked = runs_->checkedRuns();
  diff_->clear();
  diff_->setRowCount(0);
  if (checked.size() < 2) {
    diff_title_->setText(tr("<b>Differences</b> · tick two runs or more"));
    diff_->setColumnCount(0);
    return;
  }
  std::map<std::string, std::vector<std::optional<std::string>>> rows;  // path -> value per run
  for (std::size_t i = 1; i < checked.size(); ++i)
    for (const ConfigDifference& d : run_config_diff(*checked[0], *checked[i])) {
      auto& values = rows[d.path];
      if (values.empty()) values.resize(checked.size());
      values[0] = d.a;
      values[i] = d.b;
    }
  for (auto& [path, values] : rows)  // runs equal to the first one share its value
    for (std::size_t i = 1; i < values.size(); ++i)
      if (!values[i]) values[i] = values[0];
  std::vector<const RunRecord*> raw;
  for (const auto& r : checked) raw.push_back(r.get());
  const std::vector<RunFact> facts = run_facts(raw);
  // Columns headed by the run alone ("run 3"): the rows say what differs (the full label is the tooltip).
  QStringList headers{tr("Field")};
  const std::vector<QString> labels = checkedLabels();
  for (const QString& label : labels) headers << label.section(QStringLiteral(" · "), 0, 0);
  diff_->setColumnCount(headers.size());
  diff_->setHorizontalHeaderLabels(headers);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    diff_->horizontalHeaderItem(int(i) + 1)->setToolTip(labels[i]);
    diff_->horizontalHeaderItem(int(i) + 1)->setForeground(run_color(runs_->rowOf(checked[i].get())));
  }
  diff_->setRowCount(static_cast<int>(facts.size() + rows.size()));
  int row = 0;
  QFont bold = diff_->font();
  bold.setBold(true);
  bool digests_same = true;
  for (const RunFact& f : facts) {
    auto* field = new QTableWidgetItem(QString::fromStdString(f.field));
    field->setFont(bold);
    field->setToolTip(tr("What the run did, not a setting: %1").arg(f.same ? tr("the same in every ticked run") : tr("differs")));
    diff_->setItem(row, 0, field);
    for (std::size_t i = 0; i < f.values.size(); ++i) {
      auto* item = new QTableWidgetItem(QString::fromStdString(f.values[i]));
      if (f.field == "weights digest") item->setFont(QFont(QStringLiteral("monospace")));
      diff_->setItem(row, static_cast<int>(i) + 1, item);
    }
    if (f.field == "weights digest") digests_same = f.same;
    ++row;
  }
  for (const auto& [path, values] : rows) {
    diff_->setItem(row, 0, new QTableWidgetItem(QString::fromStdString(path).mid(1).replace('/', '.')));
    for (std::size_t i = 0; i < values.size(); ++i)
      diff_->setItem(row, static_cast<int>(i) + 1, new QTableWidgetItem(QString::fromStdString(values[i].value_or(""))));
    ++row;
  }
  const QString weights = digests_same ? tr("same weights digest") : tr("weights digests differ");
  diff_title_->setText(rows.empty() ? tr("<b>Differences</b> · %1 · no setting differs").arg(weights)
                                    : tr("<b>Differences</b> · %1 · %2 setting(s) differ").arg(weights).arg(rows.size()));
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
  return write_text_file(path, curves_csv(runs, checkedLabels()), error);
}

QString RunCompareView::detailsText() const { return details_->text(); }

void RunCompareView::changeEvent(QEvent* event) {
  QWidget::changeEvent(event);
  // Ctrl++ / --zoom: once the tables have their new font too (they hear of it after this widget).
  if (event->type() == QEvent::FontChange || event->type() == QEvent::StyleChange)
    QMetaObject::invokeMethod(this, &RunCompareView::fitTable, Qt::QueuedConnection);
}

// As tall as its rows (three at least, eight at most, then it scrolls): the plots keep the height.
void RunCompareView::fitTable() {
  for (QTableView* t : {table_, static_cast<QTableView*>(diff_)})  // compact rows
    t->verticalHeader()->setDefaultSectionSize(t->fontMetrics().height() + 8);
  const int rows = std::clamp(runs_->rowCount(), 3, 8);
  const int row_h = table_->verticalHeader()->defaultSectionSize();
  // Room for the horizontal scroll bar too: at a large text size (or a narrow window) the columns scroll.
  const int header_h = std::max(table_->horizontalHeader()->sizeHint().height(), table_->horizontalHeader()->height());
  table_->setFixedHeight(header_h + rows * row_h + 2 * table_->frameWidth() + table_->horizontalScrollBar()->sizeHint().height() +
                         row_h / 2);
}

bool RunCompareView::exportPng(const QString& path) { return curves_->savePng(path); }
bool RunCompareView::exportPdf(const QString& path) { return curves_->savePdf(path, pdfTitle()); }

QString RunCompareView::pdfTitle() const {
  QStringList names;
  for (const QString& label : checkedLabels()) names << label;
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
