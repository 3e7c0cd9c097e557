// The audit report as one self-contained HTML page: inline CSS and SVG charts, no scripts, no
// external resources and no URL anywhere, so that it opens offline and can be archived as is.
#pragma once

#include <string>

#include "io/audit.hpp"

namespace flopledger::io {

/// The page for `audit` (see io/report_document.hpp for its content). Every text taken from the
/// trace is HTML-escaped. Never fails.
std::string report_html(const Audit &audit);

} // namespace flopledger::io
