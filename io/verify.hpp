// flopledger verify: recomputes a trace's integrity chain, its running totals and its numbering
// (docs/integrity.md). The CLI (launchers/cmd_verify.cpp) only prints what this returns.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/integrity.hpp"

namespace flopledger::io {

/// What became of the integrity chain.
enum class ChainCheck {
  Verified,     ///< every row hash and the head recomputed equal
  NotAvailable, ///< format 1.0 / 1.1: the file has no chain (not an error)
  NoKey,        ///< an hmac-sha256 ledger and no key given: not checked
  WrongKey,     ///< the key given is not the ledger's (hmac_key_id differs): not checked
  Broken,       ///< a stored hash or the head differs from the recomputed one
};

/// "verified", "not_available", "no_key", "wrong_key", "broken".
const char *chain_check_name(ChainCheck check);

struct VerifyResult {
  std::string path;
  std::string format_version; ///< "1.2"
  std::string chain_mode;     ///< "sha256", "hmac-sha256", "" (no chain)
  std::string hmac_key_id;    ///< as stored
  std::string stored_head;    ///< the chain_head attribute
  std::string computed_head;  ///< recomputed ("" when the chain was not checked)
  ChainCheck chain = ChainCheck::NotAvailable;
  std::uint64_t steps = 0, segments = 0, events = 0, environment = 0;
  /// Every mismatch found, in check order (steps, segments, events, environment, head); the first
  /// names the first bad row, segment or event. Empty when everything holds.
  std::vector<std::string> problems;
  /// Facts that are not errors: segments not cleanly closed, a missing chain, a missing key.
  std::vector<std::string> notes;

  /// 0: everything checked holds and the chain verified or the format has none; 1: a mismatch,
  /// or a keyed chain that could not be checked (no key, wrong key).
  int exit_status() const;
};

/// Verifies the trace at `path`; `key` is needed for an hmac-sha256 ledger (empty otherwise).
/// Returns false with `error` when the file cannot be read as a trace at all (missing, not
/// HDF5, newer major): that is not a verification result.
bool verify_trace(const std::string &path, const IntegrityKey &key, VerifyResult &out,
                  std::string &error);

/// The result for people: a summary line, the chain, the problems (the first marked) and notes.
std::string verify_text(const VerifyResult &result);
/// The result as one JSON object.
std::string verify_json(const VerifyResult &result);

} // namespace flopledger::io
