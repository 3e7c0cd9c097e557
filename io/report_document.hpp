// The audit report as a format-neutral document: sections of paragraphs, tables and charts in
// plain (unescaped) text. report_html and report_markdown render the same document, so the two
// always carry the same content; each renderer escapes every text for its own format.
#pragma once

#include <string>
#include <vector>

#include "io/audit.hpp"
#include "io/svg.hpp"

namespace flopledger::io {

struct DocTable {
  std::vector<std::string> head;
  std::vector<std::vector<std::string>> rows;
};

struct DocBlock {
  enum Kind { Paragraph, Strong, Table, Figure } kind = Paragraph;
  std::string text; ///< Paragraph, Strong
  DocTable table;   ///< Table
  Chart chart;      ///< Figure (HTML only; Markdown omits charts)
};

struct DocSection {
  std::string title;
  std::vector<DocBlock> blocks;
};

struct Document {
  std::string title;
  std::vector<DocSection> sections;
};

/// The audit report of `audit`: verdict, methods and bracket, forecast and notifications,
/// charts, tables by phase / precision / source, segments, events, configuration, environment.
Document audit_document(const Audit &audit);

/// "3.3e22 (33333333333333333333333 FLOP)".
std::string flops_with_exact(u128 value);

/// `fraction` as a percentage with three significant digits ("12.3%"), "?" when not finite.
std::string percent_text(double fraction);

} // namespace flopledger::io
