#include "widgets/training_fields.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QDoubleValidator>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QSpinBox>
#include <cmath>

#include "engine/data/catalog.h"

namespace ps::ui {

std::optional<OptimizerChange> required_optimizer_change(const RunConfig& config) {
  const std::string& s = config.strategy.name;
  OptimizerChange change{config, {}, {}};
  OptimizerConfig& o = change.config.optimizer;
  QStringList what;
  if (s == "nesterov") {
    if (o.name != "sgd") what << QObject::tr("optimizer.name = sgd (was %1)").arg(QString::fromStdString(o.name));
    if (!o.nesterov) what << QObject::tr("optimizer.nesterov = true");
    if (o.momentum <= 0) {
      what << QObject::tr("optimizer.momentum = 0.9 (was %1)").arg(o.momentum);
      o.momentum = 0.9;
    }
    o.name = "sgd";
    o.nesterov = true;
    change.button = QObject::tr("Use SGD with Nesterov momentum");
  } else if (s == "spectrain") {
    if (o.name != "sgd") what << QObject::tr("optimizer.name = sgd (was %1)").arg(QString::fromStdString(o.name));
    o.name = "sgd";
    change.button = QObject::tr("Use SGD with momentum");
  } else if (s == "adam-predict") {
    if (o.name != "adam") {
      what << QObject::tr("optimizer.name = adam (was %1)").arg(QString::fromStdString(o.name));
      o.nesterov = false;
      // SGD's usual rates make Adam diverge: take Adam's usual one when the rate is far above it.
      if (o.lr > 0.01) {
        what << QObject::tr("optimizer.lr = 0.001 (was %1; Adam's usual rate)").arg(o.lr);
        o.lr = 0.001;
      }
      if (config.lr_schedule.min_lr > o.lr) change.config.lr_schedule.min_lr = 0;
    }
    o.name = "adam";
    change.button = QObject::tr("Use Adam");
  }
  if (what.isEmpty()) return std::nullopt;
  change.what = what.join(QStringLiteral(", "));
  return change;
}

namespace {

void set_index_of(QComboBox* combo, const std::string& text) {
  const int i = combo->findText(QString::fromStdString(text));
  if (i >= 0) combo->setCurrentIndex(i);
}

}  // namespace

TrainingFields::TrainingFields(QWidget* parent)
    : QGroupBox(tr("Optimizer and data"), parent),
      form_(new QFormLayout(this)),
      optimizer_(new QComboBox(this)),
      lr_(new QLineEdit(this)),
      momentum_(new QDoubleSpinBox(this)),
      nesterov_(new QCheckBox(tr("Nesterov momentum"), this)),
      schedule_(new QComboBox(this)),
      warmup_(new QSpinBox(this)),
      step_size_(new QSpinBox(this)),
      gamma_(new QDoubleSpinBox(this)),
      batch_(new QSpinBox(this)),
      dataset_(new QComboBox(this)),
      dataset_path_(new QLineEdit(this)),
      dataset_note_(new QLabel(this)) {
  optimizer_->setObjectName(QStringLiteral("optimizer"));
  optimizer_->addItem(QStringLiteral("sgd"));
  optimizer_->setItemData(0, tr("SGD with momentum (optionally Nesterov)"), Qt::ToolTipRole);
  optimizer_->addItem(QStringLiteral("adam"));
  optimizer_->setItemData(1, tr("Adam (beta1 0.9, beta2 0.999)"), Qt::ToolTipRole);
  lr_->setObjectName(QStringLiteral("learningRate"));
  lr_->setToolTip(tr("optimizer.lr: a positive number, e.g. 0.05 or 1e-3"));
  auto* validator = new QDoubleValidator(0, 1e6, 12, lr_);
  validator->setNotation(QDoubleValidator::ScientificNotation);
  validator->setLocale(QLocale::c());
  lr_->setValidator(validator);
  momentum_->setObjectName(QStringLiteral("momentum"));
  momentum_->setRange(0, 0.9999);
  momentum_->setDecimals(4);
  momentum_->setSingleStep(0.05);
  momentum_->setToolTip(tr("optimizer.momentum, in [0, 1)"));
  nesterov_->setObjectName(QStringLiteral("nesterov"));
  nesterov_->setToolTip(tr("optimizer.nesterov: SGD with Nesterov momentum (needs momentum > 0)"));
  schedule_->setObjectName(QStringLiteral("lrSchedule"));
  schedule_->addItems({QStringLiteral("constant"), QStringLiteral("step"), QStringLiteral("cosine")});
  schedule_->setToolTip(tr("lr_schedule.name: constant, step (times gamma every step size), cosine (to 0)"));
  warmup_->setRange(0, 1000000);
  warmup_->setToolTip(tr("lr_schedule.warmup_steps: linear warm-up from 0 over this many minibatches"));
  step_size_->setRange(1, 100000000);
  step_size_->setToolTip(tr("lr_schedule.step_size: minibatches between two multiplications by gamma"));
  gamma_->setRange(0.0001, 0.9999);
  gamma_->setDecimals(4);
  gamma_->setSingleStep(0.05);
  gamma_->setToolTip(tr("lr_schedule.gamma, in (0, 1)"));
  batch_->setObjectName(QStringLiteral("batchSize"));
  batch_->setRange(1, 65536);
  batch_->setToolTip(tr("batch_size: samples per minibatch"));
  dataset_->setObjectName(QStringLiteral("dataset"));
  for (const DatasetCatalogEntry& d : dataset_catalog()) {
    dataset_->addItem(QString::fromStdString(d.name));
    dataset_->setItemData(dataset_->count() - 1, QString::fromStdString(d.summary), Qt::ToolTipRole);
  }
  dataset_path_->setObjectName(QStringLiteral("datasetPath"));
  dataset_path_->setPlaceholderText(tr("directory of the files"));
  dataset_path_->setToolTip(tr("dataset.path: the directory that holds the data set's files"));
  dataset_note_->setObjectName(QStringLiteral("hint"));
  dataset_note_->setWordWrap(true);

  form_->addRow(tr("Optimizer"), optimizer_);
  form_->addRow(tr("Learning rate"), lr_);
  form_->addRow(tr("Momentum"), momentum_);
  form_->addRow(QString(), nesterov_);
  form_->addRow(tr("LR schedule"), schedule_);
  form_->addRow(tr("Warm-up steps"), warmup_);
  form_->addRow(tr("Step size"), step_size_);
  form_->addRow(tr("Gamma"), gamma_);
  form_->addRow(tr("Batch size"), batch_);
  form_->addRow(tr("Data set"), dataset_);
  form_->addRow(tr("Data path"), dataset_path_);
  form_->addRow(QString(), dataset_note_);

  for (QComboBox* c : {optimizer_, schedule_, dataset_}) connect(c, &QComboBox::currentIndexChanged, this, &TrainingFields::onEdited);
  for (QDoubleSpinBox* d : {momentum_, gamma_}) connect(d, &QDoubleSpinBox::valueChanged, this, &TrainingFields::onEdited);
  for (QSpinBox* s : {warmup_, step_size_, batch_}) connect(s, &QSpinBox::valueChanged, this, &TrainingFields::onEdited);
  connect(nesterov_, &QCheckBox::toggled, this, &TrainingFields::onEdited);
  connect(lr_, &QLineEdit::textChanged, this, &TrainingFields::onEdited);
  connect(dataset_path_, &QLineEdit::textChanged, this, &TrainingFields::onEdited);
  load(RunConfig{});
}

void TrainingFields::load(const RunConfig& c) {
  loading_ = true;
  set_index_of(optimizer_, c.optimizer.name);
  lr_->setText(QString::number(c.optimizer.lr, 'g', 12));
  momentum_->setValue(c.optimizer.momentum);
  nesterov_->setChecked(c.optimizer.nesterov);
  set_index_of(schedule_, c.lr_schedule.name);
  warmup_->setValue(c.lr_schedule.warmup_steps);
  step_size_->setValue(c.lr_schedule.step_size);
  gamma_->setValue(c.lr_schedule.gamma);
  batch_->setValue(c.batch_size);
  set_index_of(dataset_, c.dataset.name);
  dataset_path_->setText(QString::fromStdString(c.dataset.path));
  loading_ = false;
  updateVisibility();
}

bool TrainingFields::learningRateValid() const {
  bool ok = false;
  const double v = QLocale::c().toDouble(lr_->text().trimmed(), &ok);
  return ok && std::isfinite(v) && v > 0;
}

void TrainingFields::apply(RunConfig& c) const {
  c.optimizer.name = optimizer_->currentText().toStdString();
  bool ok = false;
  const double lr = QLocale::c().toDouble(lr_->text().trimmed(), &ok);
  if (ok) c.optimizer.lr = lr;
  c.optimizer.momentum = momentum_->value();
  c.optimizer.nesterov = c.optimizer.name == "sgd" && nesterov_->isChecked();
  c.lr_schedule.name = schedule_->currentText().toStdString();
  c.lr_schedule.warmup_steps = warmup_->value();
  c.lr_schedule.step_size = step_size_->value();
  c.lr_schedule.gamma = gamma_->value();
  c.batch_size = batch_->value();
  if (c.dataset.name != dataset_->currentText().toStdString()) c.dataset = DatasetConfig{};  // another set's options do not carry over
  c.dataset.name = dataset_->currentText().toStdString();
  c.dataset.path = dataset_path_->text().trimmed().toStdString();
}

void TrainingFields::markError(const std::string& field) {
  const QString bad = QStringLiteral("border: 1px solid #d62728;");
  auto mark = [&](QWidget* w, bool on) { w->setStyleSheet(on ? bad : QString()); };
  mark(optimizer_, field == "optimizer.name");
  mark(lr_, field == "optimizer.lr");
  mark(momentum_, field == "optimizer.momentum");
  mark(nesterov_, field == "optimizer.nesterov");
  mark(schedule_, field.rfind("lr_schedule", 0) == 0);
  mark(batch_, field == "batch_size");
  mark(dataset_, field == "dataset.name");
  mark(dataset_path_, field == "dataset.path");
}

void TrainingFields::onEdited() {
  if (loading_) return;
  updateVisibility();
  Q_EMIT edited();
}

void TrainingFields::updateVisibility() {
  const bool sgd = optimizer_->currentText() == QLatin1String("sgd");
  form_->setRowVisible(momentum_, sgd);
  form_->setRowVisible(nesterov_, sgd);
  const QString schedule = schedule_->currentText();
  form_->setRowVisible(warmup_, schedule != QLatin1String("constant"));
  form_->setRowVisible(step_size_, schedule == QLatin1String("step"));
  form_->setRowVisible(gamma_, schedule == QLatin1String("step"));
  const auto& sets = dataset_catalog();
  const std::string name = dataset_->currentText().toStdString();
  bool files = false;
  QString default_path;
  for (const DatasetCatalogEntry& d : sets)
    if (d.name == name) files = d.needs_files, default_path = QString::fromStdString(d.default_path);
  form_->setRowVisible(dataset_path_, files);
  dataset_path_->setPlaceholderText(default_path.isEmpty() ? tr("directory of the files") : default_path);
  dataset_note_->setText(dataset_->currentData(Qt::ToolTipRole).toString());
}

}  // namespace ps::ui
