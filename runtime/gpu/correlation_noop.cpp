// The hooks' correlation seam when the runtime is built without CUPTI's headers
// (runtime/gpu/cupti_activity.cpp implements it otherwise): no kernel is attributed.
#include "correlation.hpp"

namespace flopledger::runtime::gpu {

void counted_call_begin(std::uint64_t, flopledger_precision) noexcept {}

void counted_call_end(bool) noexcept {}

} // namespace flopledger::runtime::gpu
