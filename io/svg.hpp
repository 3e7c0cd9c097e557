// Inline SVG line charts for the HTML report: no scripts, no external resources. Chart values are
// doubles because they are only drawn; the figures people read are printed exactly elsewhere.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace flopledger::io {

/// `text` with &, <, >, " and ' replaced by entities: safe in HTML text and attribute values.
std::string html_escape(std::string_view text);

struct ChartLine {
  std::vector<double> x, y;
  std::string colour; ///< CSS colour, e.g. "#1f77b4"
  std::string label;
  bool dashed = false;
};

/// A filled band between `low` and `high` (e.g. the MIN/MAX over ranks).
struct ChartBand {
  std::vector<double> x, low, high;
  std::string colour;
  std::string label;
};

/// A horizontal line across the plot (a threshold, a forecast).
struct ChartLevel {
  double y = 0;
  std::string colour;
  std::string label;
  bool dashed = false;
};

struct Chart {
  std::string title, x_label, y_label;
  bool log_y = false; ///< decades on the y axis; values <= 0 are drawn at the bottom
  std::vector<ChartBand> bands;
  std::vector<ChartLine> lines;
  std::vector<ChartLevel> levels;
  int width = 960, height = 360;
};

/// One <svg> element (text escaped), with axes, ticks, labels, a legend and the series. An empty
/// chart (no points) draws the axes and says "no steps recorded".
std::string render_svg(const Chart &chart);

} // namespace flopledger::io
