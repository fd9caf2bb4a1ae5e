// Widget tests run offscreen: no display needed, same pixels everywhere.
#pragma once
#include <QApplication>
#include <QtTest>

#define PS_WIDGET_TEST_MAIN(TestClass)                                                              \
  int main(int argc, char** argv) {                                                                 \
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");    \
    QApplication app(argc, argv);                                                                   \
    TestClass test;                                                                                 \
    return QTest::qExec(&test, argc, argv);                                                         \
  }
