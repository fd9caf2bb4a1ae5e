// Page 1: the pipeline timeline with its toolbar (follow live, fit, zoom), a legend and the bubble
// figures of the current run.
#pragma once
#include <QWidget>

#include "engine/telemetry/events.h"

class QLabel;
class QToolButton;

namespace ps::ui {
class TimelineView;
}

namespace ps::gui {

class PipelinePage : public QWidget {
  Q_OBJECT
 public:
  explicit PipelinePage(QWidget* parent = nullptr);
  ui::TimelineView* timeline() const { return timeline_; }
  void showSummary(const RunSummary& summary);  // bubble figures, dropped events
  void clear();

 private:
  ui::TimelineView* timeline_;
  QToolButton* follow_;
  QLabel* figures_;
};

}  // namespace ps::gui
