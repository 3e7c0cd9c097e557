#include "io/report_html.hpp"

#include <sstream>

#include "io/report_document.hpp"
#include "io/svg.hpp"

namespace flopledger::io {

namespace {

constexpr const char *kStyle =
    R"(body{font-family:sans-serif;margin:24px;color:#222;max-width:1180px}
h1{font-size:22px}h2{font-size:18px;border-bottom:2px solid #4a6fa5;padding-bottom:3px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0 14px 0}
th,td{border:1px solid #bbb;padding:3px 8px;text-align:left;vertical-align:top;font-size:13px}
th{background:#dfe7f2}tr:nth-child(even) td{background:#f6f8fb}
td{word-break:break-word;max-width:640px}
.strong{font-weight:bold;font-size:17px;padding:8px 12px;background:#fff3cd;border-left:6px solid #e0a800}
figure{margin:10px 0 18px 0}
)";

void render_table(std::ostringstream &out, const DocTable &t) {
  out << "<table>\n";
  bool named = false;
  for (const std::string &h : t.head)
    named = named || !h.empty();
  if (named) { // a key/value table has no column names
    out << "<tr>";
    for (const std::string &h : t.head)
      out << "<th>" << html_escape(h) << "</th>";
    out << "</tr>\n";
  }
  for (const auto &row : t.rows) {
    out << "<tr>";
    for (const std::string &cell : row)
      out << "<td>" << html_escape(cell) << "</td>";
    out << "</tr>\n";
  }
  out << "</table>\n";
}

} // namespace

std::string report_html(const Audit &audit) {
  const Document d = audit_document(audit);
  std::ostringstream out;
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>"
      << html_escape(d.title) << "</title>\n<style>\n"
      << kStyle << "</style>\n</head>\n<body>\n<h1>" << html_escape(d.title) << "</h1>\n";
  for (const DocSection &s : d.sections) {
    out << "<h2>" << html_escape(s.title) << "</h2>\n";
    for (const DocBlock &b : s.blocks) {
      switch (b.kind) {
      case DocBlock::Paragraph:
        out << "<p>" << html_escape(b.text) << "</p>\n";
        break;
      case DocBlock::Strong:
        out << "<p class=\"strong\">" << html_escape(b.text) << "</p>\n";
        break;
      case DocBlock::Table:
        render_table(out, b.table);
        break;
      case DocBlock::Figure:
        out << "<figure>\n" << render_svg(b.chart) << "</figure>\n";
        break;
      }
    }
  }
  out << "</body>\n</html>\n";
  return out.str();
}

} // namespace flopledger::io
