// Machine-readable exports of a ledger: one JSON document (the full ledger plus the keys of the
// AWS Fine-Tuning FLOPs Meter's flops_meter.json) and one CSV row per step row. Every FLOP figure
// is exact: decimal strings in JSON (AWS's own keys keep AWS's types), decimal integers in CSV.
#pragma once

#include <string>
#include <vector>

#include "io/audit.hpp"

namespace flopledger::io {

/// One JSON object (see docs/reports.md): format_version, header, verdict, methods, bracket,
/// forecast, totals, segments, events, environment, rows, and at the top level the AWS keys
/// N_total, N_trainable, tokens_processed, Flops_architecture, Flops_hardware, pct_of_pretrain,
/// exceeds_30pct, model_name, num_epochs, training_duration_seconds, gpu_size, gpu_rank,
/// Flops_original, threshold_type, threshold_value, training_job_name, training_id,
/// recipe_config, recipe_config_details, gpu_name, instance_type, model_package_group_name.
/// Never fails.
std::string export_json(const Audit &audit);

/// A header line, then one line per step row (columns in docs/reports.md; per-precision, phase
/// and source columns named from the tag lists). Figures that a row does not carry (a method
/// that is not applicable) are empty cells. Never fails.
std::string export_csv(const Audit &audit);

/// The CSV header line's column names, in order.
std::vector<std::string> export_csv_columns();

} // namespace flopledger::io
