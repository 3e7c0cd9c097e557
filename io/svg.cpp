#include "io/svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace flopledger::io {

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&#39;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

namespace {

constexpr double kLeft = 90, kRight = 20, kTop = 40, kBottom = 80;

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string tick_text(double v) {
  char buf[32];
  if (v != 0 && (std::fabs(v) >= 1e5 || std::fabs(v) < 1e-2))
    std::snprintf(buf, sizeof buf, "%.1e", v);
  else
    std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

struct Scale {
  double lo = 0, hi = 1, px_lo = 0, px_hi = 1;
  bool log = false;
  double operator()(double v) const {
    double t;
    if (log) {
      const double lv = v > 0 ? std::log10(v) : lo;
      t = (std::clamp(lv, lo, hi) - lo) / (hi - lo);
    } else {
      t = (v - lo) / (hi - lo);
    }
    return px_lo + t * (px_hi - px_lo);
  }
};

void extend(double &lo, double &hi, double v) {
  if (!std::isfinite(v)) return;
  lo = std::min(lo, v);
  hi = std::max(hi, v);
}

} // namespace

std::string render_svg(const Chart &chart) {
  const double w = chart.width, h = chart.height;
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo;
  double y_lo = x_lo, y_hi = -x_lo, y_pos_lo = x_lo; // y_pos_lo: smallest positive y (log)
  std::size_t points = 0;
  auto add_y = [&](double v) {
    extend(y_lo, y_hi, v);
    if (v > 0) y_pos_lo = std::min(y_pos_lo, v);
  };
  for (const ChartLine &l : chart.lines) {
    for (std::size_t i = 0; i < l.x.size() && i < l.y.size(); ++i) {
      extend(x_lo, x_hi, l.x[i]);
      add_y(l.y[i]);
      ++points;
    }
  }
  for (const ChartBand &b : chart.bands) {
    for (std::size_t i = 0; i < b.x.size(); ++i) {
      extend(x_lo, x_hi, b.x[i]);
      add_y(b.low[i]);
      add_y(b.high[i]);
      ++points;
    }
  }
  if (points > 0)
    for (const ChartLevel &l : chart.levels)
      add_y(l.y);

  Scale xs, ys;
  xs.px_lo = kLeft;
  xs.px_hi = w - kRight;
  ys.px_lo = h - kBottom;
  ys.px_hi = kTop;
  ys.log = chart.log_y;
  if (points == 0) {
    x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1, y_pos_lo = 1;
  }
  if (!(x_hi > x_lo)) x_hi = x_lo + 1;
  xs.lo = x_lo;
  xs.hi = x_hi;
  if (chart.log_y) {
    if (!std::isfinite(y_pos_lo)) y_pos_lo = 1;
    ys.lo = std::floor(std::log10(y_pos_lo));
    ys.hi = std::ceil(std::log10(std::max(y_hi, y_pos_lo)));
    if (!(ys.hi > ys.lo)) ys.hi = ys.lo + 1;
  } else {
    ys.lo = std::min(0.0, y_lo);
    ys.hi = y_hi > ys.lo ? y_hi * 1.05 : ys.lo + 1;
  }

  std::ostringstream s;
  // Inline <svg> in HTML needs no xmlns: the page carries no URL at all.
  s << "<svg role=\"img\" width=\"" << chart.width << "\" height=\"" << chart.height
    << "\" viewBox=\"0 0 " << chart.width << ' ' << chart.height << "\">\n";
  s << "<title>" << html_escape(chart.title) << "</title>\n";
  s << "<rect x=\"0\" y=\"0\" width=\"" << num(w) << "\" height=\"" << num(h)
    << "\" fill=\"#ffffff\"/>\n";
  s << "<text x=\"" << num(w / 2) << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" "
    << "font-weight=\"bold\">" << html_escape(chart.title) << "</text>\n";

  // Grid and ticks.
  const int y_ticks = chart.log_y ? static_cast<int>(ys.hi - ys.lo) : 5;
  const int y_step = std::max(1, y_ticks / 8);
  for (int i = 0; i <= y_ticks; i += y_step) {
    const double v = chart.log_y ? std::pow(10.0, ys.lo + i) : ys.lo + (ys.hi - ys.lo) * i / 5;
    const double py = ys(v);
    s << "<line x1=\"" << num(kLeft) << "\" y1=\"" << num(py) << "\" x2=\"" << num(w - kRight)
      << "\" y2=\"" << num(py) << "\" stroke=\"#e0e0e0\"/>\n";
    s << "<text x=\"" << num(kLeft - 6) << "\" y=\"" << num(py + 4)
      << "\" text-anchor=\"end\" font-size=\"11\">"
      << (chart.log_y ? "1e" + std::to_string(static_cast<int>(ys.lo) + i) : tick_text(v))
      << "</text>\n";
  }
  for (int i = 0; i <= 5; ++i) {
    const double v = xs.lo + (xs.hi - xs.lo) * i / 5;
    const double px = xs(v);
    s << "<line x1=\"" << num(px) << "\" y1=\"" << num(h - kBottom) << "\" x2=\"" << num(px)
      << "\" y2=\"" << num(h - kBottom + 5) << "\" stroke=\"#333333\"/>\n";
    s << "<text x=\"" << num(px) << "\" y=\"" << num(h - kBottom + 18)
      << "\" text-anchor=\"middle\" font-size=\"11\">" << tick_text(v) << "</text>\n";
  }
  s << "<line x1=\"" << num(kLeft) << "\" y1=\"" << num(h - kBottom) << "\" x2=\""
    << num(w - kRight) << "\" y2=\"" << num(h - kBottom) << "\" stroke=\"#333333\"/>\n";
  s << "<line x1=\"" << num(kLeft) << "\" y1=\"" << num(kTop) << "\" x2=\"" << num(kLeft)
    << "\" y2=\"" << num(h - kBottom) << "\" stroke=\"#333333\"/>\n";
  s << "<text x=\"" << num((kLeft + w - kRight) / 2) << "\" y=\"" << num(h - kBottom + 38)
    << "\" text-anchor=\"middle\" font-size=\"12\">" << html_escape(chart.x_label) << "</text>\n";
  s << "<text x=\"16\" y=\"" << num((kTop + h - kBottom) / 2)
    << "\" text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 16 "
    << num((kTop + h - kBottom) / 2) << ")\">" << html_escape(chart.y_label) << "</text>\n";

  if (points == 0) {
    s << "<text x=\"" << num(w / 2) << "\" y=\"" << num(h / 2)
      << "\" text-anchor=\"middle\" font-size=\"14\" fill=\"#666666\">no steps recorded</text>\n";
  }

  // Bands, then lines, then levels, so that lines stay visible over bands.
  for (const ChartBand &b : chart.bands) {
    if (b.x.empty()) continue;
    s << "<polygon fill=\"" << html_escape(b.colour) << "\" fill-opacity=\"0.35\" stroke=\""
      << html_escape(b.colour) << "\" points=\"";
    for (std::size_t i = 0; i < b.x.size(); ++i)
      s << num(xs(b.x[i])) << ',' << num(ys(b.high[i])) << ' ';
    for (std::size_t i = b.x.size(); i-- > 0;)
      s << num(xs(b.x[i])) << ',' << num(ys(b.low[i])) << ' ';
    s << "\"/>\n";
  }
  for (const ChartLine &l : chart.lines) {
    const std::size_t n = std::min(l.x.size(), l.y.size());
    if (n == 0) continue;
    s << "<polyline fill=\"none\" stroke=\"" << html_escape(l.colour) << "\" stroke-width=\"2.5\""
      << (l.dashed ? " stroke-dasharray=\"8 5\"" : "") << " points=\"";
    for (std::size_t i = 0; i < n; ++i)
      s << num(xs(l.x[i])) << ',' << num(ys(l.y[i])) << ' ';
    s << "\"/>\n";
    for (std::size_t i = 0; i < n; ++i)
      s << "<circle cx=\"" << num(xs(l.x[i])) << "\" cy=\"" << num(ys(l.y[i]))
        << "\" r=\"3\" fill=\"" << html_escape(l.colour) << "\"/>\n";
  }
  if (points > 0)
    for (const ChartLevel &l : chart.levels) {
      const double py = ys(l.y);
      s << "<line x1=\"" << num(kLeft) << "\" y1=\"" << num(py) << "\" x2=\"" << num(w - kRight)
        << "\" y2=\"" << num(py) << "\" stroke=\"" << html_escape(l.colour)
        << "\" stroke-width=\"2\"" << (l.dashed ? " stroke-dasharray=\"8 5\"" : "") << "/>\n";
    }

  // Legend under the x-axis label.
  double lx = kLeft;
  const double ly = h - 18;
  auto legend = [&](const std::string &colour, const std::string &label, bool dashed) {
    s << "<line x1=\"" << num(lx) << "\" y1=\"" << num(ly - 4) << "\" x2=\"" << num(lx + 24)
      << "\" y2=\"" << num(ly - 4) << "\" stroke=\"" << html_escape(colour)
      << "\" stroke-width=\"4\"" << (dashed ? " stroke-dasharray=\"6 3\"" : "") << "/>\n";
    s << "<text x=\"" << num(lx + 30) << "\" y=\"" << num(ly) << "\" font-size=\"12\">"
      << html_escape(label) << "</text>\n";
    lx += 40 + 6.5 * static_cast<double>(label.size());
  };
  for (const ChartBand &b : chart.bands)
    legend(b.colour, b.label, false);
  for (const ChartLine &l : chart.lines)
    legend(l.colour, l.label, l.dashed);
  for (const ChartLevel &l : chart.levels)
    legend(l.colour, l.label, l.dashed);
  s << "</svg>\n";
  return s.str();
}

} // namespace flopledger::io
