// The audit report as Markdown tables, for tickets and merge requests (no charts).
#pragma once

#include <string>

#include "io/audit.hpp"

namespace flopledger::io {

/// The same content as report_html without the charts. Table cells escape '|', '\\', '<', '>',
/// '&' and '`' and turn line breaks into spaces, so no text from the trace can break a table or
/// inject markup. Never fails.
std::string report_markdown(const Audit &audit);

/// `text` made safe for one Markdown table cell (see report_markdown).
std::string markdown_cell(const std::string &text);

} // namespace flopledger::io
