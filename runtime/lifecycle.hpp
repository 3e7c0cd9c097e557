// Process lifecycle: when metering starts (library constructor, or the application's MPI_Init)
// and when it ends (MPI_Finalize, or process exit), and which processes are metered at all.
#pragma once

#include "accounting/config.hpp"

namespace flopledger::runtime {

/// The effective configuration of a metered process, or nullptr when this process is not metered.
const Config *active_config();

} // namespace flopledger::runtime
