#include "app/gui/checkpoint_ui.h"

#include <QApplication>
#include <QDialogButtonBox>
#include <QEvent>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QSpinBox>
#include <QStyle>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <limits>

namespace ps::gui {

QString default_checkpoint_name(const RunConfig& config, std::int64_t step) {
  QString name = QString::fromStdString(config.name.empty() ? std::string("run") : config.name);
  name.replace(QRegularExpression(QStringLiteral("[^A-Za-z0-9._-]+")), QStringLiteral("-"));
  return QStringLiteral("%1-step%2.ckpt").arg(name).arg(step);
}

double lowered_learning_rate(double lr) {
  // Rounded to 12 significant digits: a tenth of 1e30 reads 1e+29, not 1.0000000000000001e+29.
  return QString::number(lr / 10, 'g', 12).toDouble();
}

QString format_learning_rate(double lr) {
  for (int digits = 1; digits <= 17; ++digits) {
    const QString text = QString::number(lr, 'g', digits);
    if (text.toDouble() == lr) return text;
  }
  return QString::number(lr, 'g', 17);
}

// --- DivergedBanner -------------------------------------------------------------------------------------

DivergedBanner::DivergedBanner(QWidget* parent)
    : QFrame(parent),
      title_(new QLabel(this)),
      message_(new QLabel(this)),
      advice_(new QLabel(this)),
      resume_(new QPushButton(tr("Resume from the last checkpoint with a lower learning rate…"), this)),
      enable_(new QPushButton(tr("Checkpoint every 5 min from now on"), this)) {
  setObjectName(QStringLiteral("divergedBanner"));
  setFrameShape(QFrame::StyledPanel);
  title_->setObjectName(QStringLiteral("divergedTitle"));
  for (QLabel* l : {message_, advice_}) {
    l->setWordWrap(true);
    l->setTextInteractionFlags(Qt::TextSelectableByMouse);
  }
  resume_->setIcon(style()->standardIcon(QStyle::SP_BrowserReload));
  auto* close = new QPushButton(style()->standardIcon(QStyle::SP_TitleBarCloseButton), QString(), this);
  close->setFlat(true);
  close->setToolTip(tr("Hide this message"));
  close->setObjectName(QStringLiteral("divergedClose"));
  auto* top = new QHBoxLayout;
  top->addWidget(title_, 1);
  top->addWidget(close);
  auto* buttons = new QHBoxLayout;
  buttons->addWidget(resume_);
  buttons->addWidget(enable_);
  buttons->addStretch(1);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(10, 6, 6, 8);
  layout->setSpacing(4);
  layout->addLayout(top);
  layout->addWidget(message_);
  layout->addWidget(advice_);
  layout->addLayout(buttons);
  connect(resume_, &QPushButton::clicked, this, &DivergedBanner::resumeRequested);
  connect(enable_, &QPushButton::clicked, this, &DivergedBanner::enableCheckpointsRequested);
  connect(close, &QPushButton::clicked, this, &QWidget::hide);
  restyle();
  hide();
}

void DivergedBanner::restyle() {
  // Red in both themes, readable on either background; local, so the theme sheets need not know it.
  // The application's palette says the theme (the banner's own one follows its style sheet), and the
  // sheet is only set when the theme changed: setting it sends another palette change.
  const bool dark = QApplication::palette().color(QPalette::Window).lightness() < 128;
  if (styled_ && dark == dark_) return;
  styled_ = true;
  dark_ = dark;
  setStyleSheet(dark ? QStringLiteral("QFrame#divergedBanner { background: #3b1d1f; border: 1px solid #c0392b; border-radius: 4px; }"
                                      "QFrame#divergedBanner QLabel { color: #ffb4ab; background: transparent; }"
                                      "QLabel#divergedTitle { font-weight: bold; color: #ff6b6b; }")
                     : QStringLiteral("QFrame#divergedBanner { background: #fdecea; border: 1px solid #d93025; border-radius: 4px; }"
                                      "QFrame#divergedBanner QLabel { color: #7f1d1d; background: transparent; }"
                                      "QLabel#divergedTitle { font-weight: bold; color: #c62828; }"));
}

void DivergedBanner::changeEvent(QEvent* event) {
  if (event->type() == QEvent::PaletteChange) restyle();
  QFrame::changeEvent(event);
}

void DivergedBanner::showDiverged(const QString& run_name, const QString& error, const QString& checkpoint,
                                  std::int64_t checkpoint_step, double lr) {
  checkpoint_ = checkpoint;
  lr_ = lr;
  title_->setText(tr("%1 diverged: the loss or the weights are no longer finite").arg(run_name));
  message_->setText(error.isEmpty() ? tr("(the engine gave no detail)") : error);
  if (!checkpoint.isEmpty()) {
    advice_->setText(tr("Last checkpoint: %1 (step %2). Resuming from it with a lower learning rate (%3 instead of %4) "
                        "often gets past the blow-up.")
                         .arg(QFileInfo(checkpoint).fileName())
                         .arg(checkpoint_step)
                         .arg(format_learning_rate(lowered_learning_rate(lr)), format_learning_rate(lr)));
    advice_->setToolTip(checkpoint);
  } else {
    advice_->setText(tr("No checkpoint was saved during this run, so there is nothing to resume from. Turn on "
                        "periodic checkpoints (Auto-checkpoint beside the run controls) or save one with "
                        "File › Save checkpoint… before the next try."));
    advice_->setToolTip(QString());
  }
  resume_->setVisible(!checkpoint.isEmpty());
  enable_->setVisible(checkpoint.isEmpty());
  show();
}

QString DivergedBanner::text() const {
  return title_->text() + QLatin1Char('\n') + message_->text() + QLatin1Char('\n') + advice_->text();
}

// --- ResumeDialog ---------------------------------------------------------------------------------------

ResumeDialog::ResumeDialog(const QString& path, const RunConfig& config, double lr, std::int64_t checkpoint_step,
                           std::int64_t planned_steps, QWidget* parent)
    : QDialog(parent),
      path_(path),
      lr_(new QLineEdit(format_learning_rate(lr), this)),
      steps_(new QSpinBox(this)),
      error_(new QLabel(this)) {
  setWindowTitle(tr("Resume from checkpoint"));
  auto* what = new QLabel(tr("<b>%1</b><br>%2 · %3 on %4 · %5 / %6 · %7 stage(s)")
                              .arg(QFileInfo(path).fileName().toHtmlEscaped(),
                                   QString::fromStdString(config.name.empty() ? std::string("run") : config.name).toHtmlEscaped(),
                                   QString::fromStdString(config.model.name), QString::fromStdString(config.dataset.name),
                                   QString::fromStdString(config.schedule), QString::fromStdString(config.strategy.name))
                              .arg(config.num_stages()),
                          this);
  what->setToolTip(path);
  auto* hint = new QLabel(tr("The run goes on from the checkpoint with the same model, data, partition, schedule and "
                             "strategy. Only the learning rate and the run's length may change."),
                          this);
  hint->setWordWrap(true);
  hint->setObjectName(QStringLiteral("hint"));
  lr_->setToolTip(tr("Learning rate of the optimizer from the checkpoint on (e.g. 0.005 or 1e-3)"));
  constexpr std::int64_t kMax = std::numeric_limits<int>::max();
  const std::int64_t planned = planned_steps > 0 ? planned_steps : config.steps;
  const std::int64_t end = planned > checkpoint_step ? planned : checkpoint_step + std::max<std::int64_t>(1, planned);
  steps_->setRange(static_cast<int>(std::min(checkpoint_step + 1, kMax)), static_cast<int>(kMax));
  steps_->setValue(static_cast<int>(std::min(end, kMax)));
  steps_->setToolTip(tr("Total minibatches of the run, those before the checkpoint included (the checkpoint was "
                        "saved after %1; the run was planned for %2)")
                         .arg(checkpoint_step)
                         .arg(planned));
  error_->setObjectName(QStringLiteral("error"));
  error_->hide();
  auto* form = new QFormLayout;
  form->addRow(tr("Learning rate:"), lr_);
  form->addRow(tr("Run until step:"), steps_);
  auto* box = new QDialogButtonBox(QDialogButtonBox::Cancel, this);
  ok_ = box->addButton(tr("Resume"), QDialogButtonBox::AcceptRole);
  ok_->setDefault(true);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(what);
  layout->addWidget(hint);
  layout->addLayout(form);
  layout->addWidget(error_);
  layout->addWidget(box);
  connect(box, &QDialogButtonBox::rejected, this, &QDialog::reject);
  connect(box, &QDialogButtonBox::accepted, this, &QDialog::accept);
  connect(lr_, &QLineEdit::textChanged, this, [this] {
    const bool ok = this->lr().has_value();
    ok_->setEnabled(ok);
    error_->setText(tr("The learning rate must be a positive number."));
    error_->setVisible(!ok);
  });
}

std::optional<double> ResumeDialog::lr() const {
  bool ok = false;
  const double v = lr_->text().trimmed().toDouble(&ok);
  if (!ok || !std::isfinite(v) || v <= 0) return std::nullopt;
  return v;
}

std::int64_t ResumeDialog::steps() const { return steps_->value(); }

}  // namespace ps::gui
