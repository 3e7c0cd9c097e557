// Lets doctest print 128-bit values (as exact decimals) in failed assertions.
#pragma once

#include <doctest/doctest.h>

#include "accounting/exact.hpp"

namespace doctest {
template <> struct StringMaker<unsigned __int128> {
  static String convert(unsigned __int128 value) { return flopledger::to_decimal(value).c_str(); }
};
} // namespace doctest
