// The partition editor's drawing surface: the model's layer units as a horizontal strip, coloured by
// stage, with a draggable handle on every stage boundary. It only reports what the user did; the
// PartitionEditor decides what becomes an undoable edit.
#pragma once
#include <QWidget>
#include <vector>

#include "engine/models/model_info.h"
#include "widgets/partition_math.h"

namespace ps::ui {

class PartitionStrip : public QWidget {
  Q_OBJECT
 public:
  explicit PartitionStrip(QWidget* parent = nullptr);

  void setModelInfo(const ModelInfo* model);  // not owned; must outlive the strip or be reset
  void setBoundaries(const std::vector<int>& boundaries);
  const std::vector<int>& boundaries() const { return boundaries_; }
  void setMetric(UnitMetric metric);
  void setBottleneckStage(int stage);
  void setStageLabels(const QStringList& labels);  // shown above each stage (device names)
  // Several chunks per device: the device of every segment (its colour and label, "chunk 3 · dev 1"),
  // and the segments are called chunks. Empty: one segment per device, coloured by its index.
  void setChunkDevices(const std::vector<int>& devices);
  const std::vector<int>& chunkDevices() const { return chunk_devices_; }
  QString segmentTitle(int segment) const;  // what the strip writes above a segment, at full width

  // Geometry, for painting, hit tests and tests that drive the mouse.
  QRectF unitRect(int unit) const;
  double handleX(int boundary_index) const;
  int handleAt(const QPoint& pos) const;  // boundary index under pos, -1 if none
  int unitAt(const QPoint& pos) const;    // unit under pos, -1 if none
  bool dragging() const { return drag_index_ >= 0; }

  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

 Q_SIGNALS:
  void boundariesPreview(const std::vector<int>& boundaries);  // while dragging
  void dragFinished(const std::vector<int>& before, const std::vector<int>& after);
  void addBoundaryRequested(int unit);
  void removeBoundaryRequested(int boundary_index);
  // A dragged handle stopped short of where the mouse is: why (every stage keeps a layer unit).
  void dragBlocked(const QString& reason);

 protected:
  void paintEvent(QPaintEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mouseReleaseEvent(QMouseEvent* event) override;
  void mouseDoubleClickEvent(QMouseEvent* event) override;
  bool event(QEvent* event) override;

 private:
  void relayout();
  int stageOfUnit(int unit) const;
  QColor segmentColor(int segment) const;
  QString segmentWord() const;  // "Stage" or "Chunk"
  int nearestEdge(double x) const;  // unit edge index in 1..n-1 closest to x
  QRectF stripArea() const;

  const ModelInfo* model_ = nullptr;
  std::vector<int> boundaries_;
  std::vector<double> edges_;  // n+1 x positions of unit edges
  UnitMetric metric_ = UnitMetric::Cost;
  int bottleneck_ = -1;
  QStringList stage_labels_;
  std::vector<int> chunk_devices_;
  int drag_index_ = -1;
  std::vector<int> drag_start_;
  int hover_handle_ = -1;
  QString blocked_;  // the last reason given during this drag
};

}  // namespace ps::ui
