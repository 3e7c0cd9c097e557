// 256-bit intermediates for exact comparisons and ratios of 128-bit FLOP figures: a*b compared
// with c*d, and a*b/c rounded down or up, without overflow and without floating point.
#pragma once

#include <cstdint>

#include "accounting/exact.hpp"

namespace flopledger::wide {

/// A 256-bit unsigned value as two 128-bit halves.
struct U256 {
  u128 hi = 0;
  u128 lo = 0;
};

/// The exact product a * b. Never fails.
inline U256 mul(u128 a, u128 b) {
  constexpr u128 kMask = (static_cast<u128>(1) << 64) - 1;
  const u128 a0 = a & kMask, a1 = a >> 64, b0 = b & kMask, b1 = b >> 64;
  const u128 p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const u128 mid = (p00 >> 64) + (p01 & kMask) + (p10 & kMask); // < 3 * 2^64: no overflow
  return {p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64), (p00 & kMask) | (mid << 64)};
}

/// -1, 0 or 1 as x is less than, equal to or greater than y.
inline int compare(const U256 &x, const U256 &y) {
  if (x.hi != y.hi) return x.hi < y.hi ? -1 : 1;
  if (x.lo != y.lo) return x.lo < y.lo ? -1 : 1;
  return 0;
}

/// -1, 0 or 1 as a*b is less than, equal to or greater than c*d, exactly.
inline int compare_products(u128 a, u128 b, u128 c, u128 d) {
  return compare(mul(a, b), mul(c, d));
}

/// a*b/c rounded down (or up when `round_up`) into `out`. Returns false, leaving `out`
/// unchanged, when c is 0 or the quotient exceeds 2^128-1.
inline bool mul_div(u128 a, u128 b, u128 c, bool round_up, u128 &out) {
  if (c == 0) return false;
  const U256 product = mul(a, b);
  if (product.hi >= c) return false; // quotient >= 2^128
  // Restoring long division of (hi, lo) by c, one bit of lo at a time; the remainder stays < c.
  u128 remainder = product.hi;
  u128 quotient = 0;
  for (int bit = 127; bit >= 0; --bit) {
    const bool carry = (remainder >> 127) != 0;
    remainder = (remainder << 1) | ((product.lo >> bit) & 1);
    quotient <<= 1;
    if (carry || remainder >= c) {
      remainder -= c; // wraps back into range when carry: the true value is below 2c
      quotient |= 1;
    }
  }
  if (round_up && remainder != 0) {
    if (quotient == kU128Max) return false;
    ++quotient;
  }
  out = quotient;
  return true;
}

} // namespace flopledger::wide
