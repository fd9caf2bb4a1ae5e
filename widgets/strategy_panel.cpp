#include "widgets/strategy_panel.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFontDatabase>
#include <QFormLayout>
#include <QGroupBox>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QVBoxLayout>
#include <cmath>

#include "engine/schedule/schedule.h"
#include "engine/strategy/strategy_info.h"
#include "engine/util/errors.h"
#include "widgets/format.h"
#include "widgets/training_fields.h"

namespace ps::ui {
namespace {

QWidget* make_param_editor(const StrategyParamInfo& p, const std::string& value, QWidget* parent) {
  const QString tip = QString::fromStdString(p.description);
  if (!p.choices.empty()) {
    auto* combo = new QComboBox(parent);
    for (const auto& c : p.choices) combo->addItem(QString::fromStdString(c));
    combo->setCurrentText(QString::fromStdString(value));
    combo->setToolTip(tip);
    return combo;
  }
  if (p.numeric) {
    // Spin boxes hold closed ranges: an exclusive bound moves in by one step of the box's resolution.
    const QString range_text = QObject::tr(" (%1%2, %3%4)")
                                   .arg(p.min_exclusive ? "(" : "[")
                                   .arg(p.min)
                                   .arg(std::isinf(p.max) ? QStringLiteral("∞") : QString::number(p.max))
                                   .arg(p.max_exclusive || std::isinf(p.max) ? ")" : "]");
    const double v = std::strtod(value.c_str(), nullptr);
    if (p.integer) {
      auto* spin = new QSpinBox(parent);
      const double hi = std::min(p.max, 1e9);
      spin->setRange(static_cast<int>(p.min) + (p.min_exclusive ? 1 : 0),
                     static_cast<int>(hi) - (p.max_exclusive && hi == p.max ? 1 : 0));
      spin->setValue(static_cast<int>(std::lround(v)));
      spin->setToolTip(tip + range_text);
      return spin;
    }
    constexpr int kDecimals = 4;
    const double resolution = std::pow(10.0, -kDecimals);
    auto* spin = new QDoubleSpinBox(parent);
    spin->setDecimals(kDecimals);
    const double hi = std::isinf(p.max) ? 1e9 : p.max - (p.max_exclusive ? resolution : 0);
    spin->setRange(p.min + (p.min_exclusive ? resolution : 0), hi);
    spin->setSingleStep(std::isinf(p.max) ? 0.1 : std::max(resolution, (p.max - p.min) / 100));
    spin->setValue(v);
    spin->setToolTip(tip + range_text);
    return spin;
  }
  auto* edit = new QLineEdit(QString::fromStdString(value), parent);
  edit->setToolTip(tip);
  return edit;
}

std::string editor_value(QWidget* w) {
  if (auto* c = qobject_cast<QComboBox*>(w)) return c->currentText().toStdString();
  if (auto* s = qobject_cast<QSpinBox*>(w)) return std::to_string(s->value());
  if (auto* d = qobject_cast<QDoubleSpinBox*>(w)) return QString::number(d->value(), 'g', 10).toStdString();
  if (auto* e = qobject_cast<QLineEdit*>(w)) return e->text().trimmed().toStdString();
  return {};
}

}  // namespace

StrategyPanel::StrategyPanel(QWidget* parent)
    : QWidget(parent),
      schedule_(new QComboBox(this)),
      schedule_note_(new QLabel(this)),
      strategy_(new QComboBox(this)),
      microbatches_(new QSpinBox(this)),
      stages_(new QSpinBox(this)),
      steps_(new QSpinBox(this)),
      chunks_(new QSpinBox(this)),
      replicas_(new QSpinBox(this)),
      executor_(new QComboBox(this)),
      params_box_(new QGroupBox(tr("Strategy parameters"), this)),
      params_form_(new QFormLayout(params_box_)),
      training_(new TrainingFields(this)),
      error_label_(new QLabel(this)),
      fix_button_(new QPushButton(this)),
      fix_label_(new QLabel(this)),
      description_(new QPlainTextEdit(this)) {
  for (const ScheduleInfo& s : schedule_catalog()) {
    schedule_->addItem(QString::fromStdString(s.name));
    schedule_->setItemData(schedule_->count() - 1, QString::fromStdString(s.summary), Qt::ToolTipRole);
  }
  auto* strategy_items = new QStandardItemModel(this);
  for (const StrategyInfo& s : strategy_catalog()) {
    auto* item = new QStandardItem(QString::fromStdString(s.name));
    QString tip = QString::fromStdString(s.title);
    if (!s.implemented) {
      item->setFlags(item->flags() & ~Qt::ItemIsEnabled);
      tip = tr("Not implemented yet: %1").arg(tip);
    }
    item->setToolTip(tip);
    strategy_items->appendRow(item);
  }
  strategy_->setModel(strategy_items);
  microbatches_->setObjectName(QStringLiteral("microbatches"));
  stages_->setObjectName(QStringLiteral("stages"));
  steps_->setObjectName(QStringLiteral("minibatches"));
  microbatches_->setRange(1, 256);
  stages_->setRange(1, 64);
  steps_->setRange(0, 100000000);
  steps_->setSpecialValueText(tr("by epochs"));
  steps_->setToolTip(tr("Minibatches to train (0: the preset's epochs)"));
  chunks_->setObjectName(QStringLiteral("chunks"));
  chunks_->setRange(1, 8);
  replicas_->setObjectName(QStringLiteral("replicas"));
  replicas_->setRange(1, 16);
  executor_->setObjectName(QStringLiteral("executor"));
  executor_->addItem(tr("threads, one per device"), QStringLiteral("threaded"));
  executor_->addItem(tr("one thread, in order"), QStringLiteral("sequential"));
  executor_->addItem(tr("processes, one per device (c10d)"), QStringLiteral("processes"));
  executor_->setItemData(0, tr("Every device is a worker thread of this process; channels link neighbours"), Qt::ToolTipRole);
  executor_->setItemData(1, tr("One thread runs every device's ops in schedule order (the same weights, bit for bit)"),
                         Qt::ToolTipRole);
  executor_->setItemData(2, tr("Every device is a pipescope-cli process started by the dashboard, linked by c10d over "
                               "Gloo; this window is rank 0. Pause, step and slow motion reach every process"),
                         Qt::ToolTipRole);
  schedule_note_->setWordWrap(true);
  schedule_note_->setObjectName(QStringLiteral("hint"));
  error_label_->setWordWrap(true);
  error_label_->setObjectName(QStringLiteral("error"));
  error_label_->setStyleSheet(QStringLiteral("color: #d62728;"));
  error_label_->hide();
  fix_button_->setObjectName(QStringLiteral("optimizerFix"));
  fix_button_->setFocusPolicy(Qt::NoFocus);
  fix_label_->setObjectName(QStringLiteral("hint"));
  fix_label_->setWordWrap(true);
  fix_button_->hide();
  fix_label_->hide();
  description_->setReadOnly(true);
  QFont fixed = description_->font();  // family only: the size still follows the application's zoom
  fixed.setFamily(QFontDatabase::systemFont(QFontDatabase::FixedFont).family());
  fixed.setStyleHint(QFont::Monospace);
  description_->setFont(fixed);
  description_->setLineWrapMode(QPlainTextEdit::WidgetWidth);
  description_->setMinimumHeight(fontMetrics().height() * 8);

  auto* form = new QFormLayout;
  form->addRow(tr("Schedule"), schedule_);
  form->addRow(QString(), schedule_note_);
  form->addRow(tr("Strategy"), strategy_);
  form->addRow(tr("Stages"), stages_);
  form->addRow(tr("Microbatches"), microbatches_);
  form->addRow(tr("Minibatches"), steps_);
  form->addRow(tr("Chunks per device"), chunks_);
  form->addRow(tr("Replicas per stage"), replicas_);
  form->addRow(tr("Run as"), executor_);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(6, 6, 6, 6);
  layout->addLayout(form);
  layout->addWidget(params_box_);
  layout->addWidget(error_label_);
  layout->addWidget(fix_button_, 0, Qt::AlignLeft);
  layout->addWidget(fix_label_);
  layout->addWidget(training_);
  layout->addWidget(new QLabel(tr("<b>How this strategy reads weights</b>"), this));
  layout->addWidget(description_, 1);

  connect(schedule_, &QComboBox::currentIndexChanged, this, &StrategyPanel::onEdited);
  connect(strategy_, &QComboBox::currentIndexChanged, this, [this] {
    rebuildParams();
    onEdited();
    if (!loading_) Q_EMIT strategyChanged(strategy_->currentText());
  });
  connect(microbatches_, &QSpinBox::valueChanged, this, &StrategyPanel::onEdited);
  connect(steps_, &QSpinBox::valueChanged, this, &StrategyPanel::onEdited);
  connect(chunks_, &QSpinBox::valueChanged, this, &StrategyPanel::onEdited);
  connect(replicas_, &QSpinBox::valueChanged, this, &StrategyPanel::onEdited);
  connect(executor_, &QComboBox::currentIndexChanged, this, &StrategyPanel::onEdited);
  connect(training_, &TrainingFields::edited, this, &StrategyPanel::onEdited);
  connect(fix_button_, &QPushButton::clicked, this, &StrategyPanel::applyOptimizerFix);
  connect(stages_, &QSpinBox::valueChanged, this, [this](int s) {
    onEdited();
    if (!loading_) Q_EMIT stagesChanged(s);
  });
  base_.strategy.name = strategy_->currentText().toStdString();
  rebuildParams();
  validate();
}

void StrategyPanel::setConfig(const RunConfig& config) {
  loading_ = true;
  base_ = config;
  schedule_->setCurrentText(QString::fromStdString(config.schedule));
  strategy_->setCurrentText(QString::fromStdString(config.strategy.name));
  microbatches_->setValue(config.microbatches);
  stages_->setValue(config.num_stages());
  steps_->setValue(static_cast<int>(std::min<std::int64_t>(config.steps, steps_->maximum())));
  chunks_->setValue(config.chunks_per_device());
  chunks_->setEnabled(is_schedule(config.schedule) && schedule_info(config.schedule).placement != Placement::OnePerDevice);
  replicas_->setValue(config.replicas);
  executor_->setCurrentIndex(std::max(0, executor_->findData(QString::fromStdString(config.executor))));
  training_->load(config);
  rebuildParams();
  loading_ = false;
  onEdited();
}

void StrategyPanel::setMaxStages(int stages) {
  max_units_ = stages;
  stages_->setMaximum(std::max(1, stages));
  validate();
}

void StrategyPanel::setStageCount(int stages) {
  if (stages == stages_->value() && stages == base_.num_stages()) return;
  loading_ = true;
  base_.partition.clear();
  base_.stage_devices.clear();
  base_.stages = stages;
  stages_->setValue(stages);
  loading_ = false;
  onEdited();
}

void StrategyPanel::setStageCountLocked(bool locked) {
  stages_->setEnabled(!locked);
  stages_->setToolTip(locked ? tr("Fixed while the run goes on: drag the partition's boundaries to repartition it live")
                             : QString());
}

QWidget* StrategyPanel::paramEditor(const QString& key) const {
  auto it = param_editors_.find(key.toStdString());
  return it == param_editors_.end() ? nullptr : it->second;
}

void StrategyPanel::rebuildParams() {
  while (params_form_->rowCount() > 0) params_form_->removeRow(0);
  param_editors_.clear();
  const StrategyInfo* info = find_strategy(strategy_->currentText().toStdString());
  const bool same_strategy = info && base_.strategy.name == info->name;
  if (info) {
    for (const StrategyParamInfo& p : info->params) {
      auto given = base_.strategy.params.find(p.key);
      const std::string value = same_strategy && given != base_.strategy.params.end() ? given->second : p.default_value;
      QWidget* editor = make_param_editor(p, value, params_box_);
      params_form_->addRow(QString::fromStdString(p.key), editor);
      param_editors_[p.key] = editor;
      if (auto* c = qobject_cast<QComboBox*>(editor)) connect(c, &QComboBox::currentIndexChanged, this, &StrategyPanel::onEdited);
      if (auto* s = qobject_cast<QSpinBox*>(editor)) connect(s, &QSpinBox::valueChanged, this, &StrategyPanel::onEdited);
      if (auto* d = qobject_cast<QDoubleSpinBox*>(editor)) connect(d, &QDoubleSpinBox::valueChanged, this, &StrategyPanel::onEdited);
      if (auto* e = qobject_cast<QLineEdit*>(editor)) connect(e, &QLineEdit::editingFinished, this, &StrategyPanel::onEdited);
    }
  }
  params_box_->setVisible(!param_editors_.empty());
  description_->setPlainText(info ? QString::fromStdString(describe_strategy(*info)) : QString());
}

std::map<std::string, std::string> StrategyPanel::paramValues() const {
  std::map<std::string, std::string> values;
  for (const auto& [key, editor] : param_editors_) values[key] = editor_value(editor);
  return values;
}

RunConfig StrategyPanel::config() const {
  RunConfig c = base_;
  c.schedule = schedule_->currentText().toStdString();
  if (c.strategy.name != strategy_->currentText().toStdString()) c.strategy.params.clear();
  c.strategy.name = strategy_->currentText().toStdString();
  for (const auto& [key, value] : paramValues()) c.strategy.params[key] = value;
  c.microbatches = microbatches_->isEnabled() ? microbatches_->value() : 1;
  c.steps = steps_->value();
  // Chunks: the schedule's default stays "default" (0), so a preset that left it out keeps its settings.
  const int default_chunks = is_schedule(c.schedule) ? schedule_info(c.schedule).default_chunks() : 1;
  if (!chunks_->isEnabled()) c.chunks = 0;
  else if (chunks_->value() != c.chunks_per_device()) c.chunks = chunks_->value() == default_chunks ? 0 : chunks_->value();
  c.replicas = replicas_->isEnabled() ? replicas_->value() : 1;
  c.executor = executor_->currentData().toString().toStdString();
  training_->apply(c);
  if (stages_->value() != c.num_stages()) {  // a new stage count: the partition is rebalanced by its owner
    c.partition.clear();
    c.stage_devices.clear();
    c.stages = stages_->value();
  }
  return c;
}

void StrategyPanel::onEdited() {
  if (loading_) return;
  bool takes_micro = false, several_chunks = false, whole_replicas = false;
  if (is_schedule(schedule_->currentText().toStdString())) {
    const ScheduleInfo& s = schedule_info(schedule_->currentText().toStdString());
    takes_micro = s.takes_microbatches;
    several_chunks = s.placement != Placement::OnePerDevice;
    if (several_chunks != chunks_->isEnabled()) {  // another placement: its default chunks (1 for one per device)
      const QSignalBlocker quiet(chunks_);
      chunks_->setValue(s.default_chunks());
    }
    whole_replicas = s.replicas;
    QString bubble_text;
    try {
      const double bubble = ideal_bubble_fraction(s.name, stages_->value(), takes_micro ? microbatches_->value() : 1,
                                                  several_chunks ? chunks_->value() : 0);
      bubble_text = tr("  Ideal bubble: %1.").arg(format_percent(bubble));
    } catch (const std::exception&) {
      // a combination the schedule refuses: validate() says why
    }
    QString summary = QString::fromStdString(s.summary);
    if (!summary.isEmpty() && !summary.endsWith(QLatin1Char('.'))) summary += QLatin1Char('.');
    schedule_note_->setText(summary + bubble_text);
  }
  chunks_->setEnabled(several_chunks);
  chunks_->setToolTip(several_chunks ? tr("Model chunks on every device (v): the model is cut into stages x v chunks")
                                     : tr("This schedule places one chunk on each device"));
  replicas_->setEnabled(!whole_replicas);
  replicas_->setToolTip(whole_replicas ? tr("This schedule's replicas are its Stages: each holds the whole model")
                                       : tr("Pipeline x data parallel: every stage gets this many replicas, each taking its "
                                            "share of every minibatch; the replicas of a stage sum their gradients before "
                                            "its update"));
  microbatches_->setEnabled(takes_micro);
  microbatches_->setToolTip(takes_micro ? tr("Microbatches per minibatch")
                                        : tr("This schedule takes whole minibatches"));
  validate();
  Q_EMIT configEdited();
}

void StrategyPanel::validate() {
  const RunConfig c = config();
  error_.clear();
  std::string field;
  if (!training_->learningRateValid()) {
    field = "optimizer.lr";
    error_ = tr("optimizer.lr: must be a positive number, got '%1'").arg(training_->learningRateEdit()->text());
  } else {
    try {
      ps::validate(c);  // the same checks the CLI runs on a preset
      if (max_units_ > 0 && c.partition.empty() && c.num_chunks() > max_units_)  // as the engine's cut would say
        throw InputError("run setup", c.chunks_per_device() > 1 ? "chunks" : "stages",
                         std::to_string(c.num_stages()) + " stages x " + std::to_string(c.chunks_per_device()) +
                             " chunks per device make " + std::to_string(c.num_chunks()) + " chunks, and the model has " +
                             std::to_string(max_units_) + " layer units (one at least per chunk)");
    } catch (const InputError& e) {
      field = e.field();
      error_ = QString::fromStdString(e.what());
    } catch (const std::exception& e) {
      error_ = QString::fromStdString(e.what());
    }
  }
  training_->markError(field);
  error_label_->setText(error_);
  error_label_->setVisible(!error_.isEmpty());
  const auto change = required_optimizer_change(c);
  fix_button_->setVisible(change.has_value());
  fix_label_->setVisible(change.has_value());
  if (change) {
    fix_button_->setText(change->button);
    fix_label_->setText(tr("Strategy '%1' needs it; this changes %2.").arg(QString::fromStdString(c.strategy.name), change->what));
    fix_button_->setToolTip(fix_label_->text());
  }
}

QString StrategyPanel::optimizerFixText() const { return fix_label_->isHidden() ? QString() : fix_label_->text(); }

void StrategyPanel::applyOptimizerFix() {
  const auto change = required_optimizer_change(config());
  if (!change) return;
  loading_ = true;
  training_->load(change->config);
  base_.lr_schedule.min_lr = change->config.lr_schedule.min_lr;
  loading_ = false;
  onEdited();
  Q_EMIT optimizerFixed(change->what);
}

QString StrategyPanel::descriptionText() const { return description_->toPlainText(); }

}  // namespace ps::ui
