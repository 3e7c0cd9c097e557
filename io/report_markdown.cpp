#include "io/report_markdown.hpp"

#include <sstream>

#include "io/report_document.hpp"

namespace flopledger::io {

std::string markdown_cell(const std::string &text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
    case '|':
      out += "\\|";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '`':
      out += "\\`";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '&':
      out += "&amp;";
      break;
    case '\n':
    case '\r':
      out += ' ';
      break;
    default:
      out += c;
    }
  }
  return out;
}

std::string report_markdown(const Audit &audit) {
  const Document d = audit_document(audit);
  std::ostringstream out;
  out << "# " << markdown_cell(d.title) << "\n";
  for (const DocSection &s : d.sections) {
    bool any = false;
    for (const DocBlock &b : s.blocks)
      any = any || b.kind != DocBlock::Figure;
    if (!any) continue; // charts only
    out << "\n## " << markdown_cell(s.title) << "\n";
    for (const DocBlock &b : s.blocks) {
      switch (b.kind) {
      case DocBlock::Paragraph:
        out << "\n" << markdown_cell(b.text) << "\n";
        break;
      case DocBlock::Strong:
        out << "\n**" << markdown_cell(b.text) << "**\n";
        break;
      case DocBlock::Table: {
        out << "\n|";
        for (const std::string &h : b.table.head)
          out << ' ' << markdown_cell(h) << " |";
        out << "\n|";
        for (std::size_t i = 0; i < b.table.head.size(); ++i)
          out << " --- |";
        out << "\n";
        for (const auto &row : b.table.rows) {
          out << "|";
          for (const std::string &cell : row)
            out << ' ' << markdown_cell(cell) << " |";
          out << "\n";
        }
        break;
      }
      case DocBlock::Figure:
        break;
      }
    }
  }
  return out.str();
}

} // namespace flopledger::io
