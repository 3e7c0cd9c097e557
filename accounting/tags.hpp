// C++ views of the counter tags in include/flopledger/tags.h (one list, many views).
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

#include "flopledger/tags.h"

namespace flopledger {

constexpr std::size_t kPrecisions = FLOPLEDGER_PRECISION_COUNT;
constexpr std::size_t kPhases = FLOPLEDGER_PHASE_COUNT;
constexpr std::size_t kSources = FLOPLEDGER_SOURCE_COUNT;

#define FLOPLEDGER_X_NAME(id, name) std::string_view{name},
inline constexpr std::array<std::string_view, kPrecisions> kPrecisionNames = {
    FLOPLEDGER_PRECISIONS(FLOPLEDGER_X_NAME)};
inline constexpr std::array<std::string_view, kPhases> kPhaseNames = {
    FLOPLEDGER_PHASES(FLOPLEDGER_X_NAME)};
inline constexpr std::array<std::string_view, kSources> kSourceNames = {
    FLOPLEDGER_SOURCES(FLOPLEDGER_X_NAME)};
#undef FLOPLEDGER_X_NAME

/// Index of `name` in `names`, or nullopt when it is not one of them.
template <std::size_t N>
std::optional<std::size_t> tag_index(const std::array<std::string_view, N> &names,
                                     std::string_view name) {
  for (std::size_t i = 0; i < N; ++i)
    if (names[i] == name) return i;
  return std::nullopt;
}

} // namespace flopledger
