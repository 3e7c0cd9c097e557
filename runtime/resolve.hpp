// Finds the real implementation of a hooked symbol. dlsym(RTLD_NEXT) only searches the global
// scope, and Python loads extension modules (and the BLAS they depend on) in a local scope, where
// RTLD_NEXT returns NULL. So, when RTLD_NEXT fails, every loaded object is asked in turn
// (dl_iterate_phdr + dlopen(RTLD_NOLOAD) + dlsym/dlvsym), skipping the runtime itself. No second
// copy of any library is ever loaded.
#pragma once

namespace flopledger::runtime {

/// The address of `name` (at `version` when non-null) in a loaded object other than this runtime,
/// or nullptr when no loaded object defines it.
void *resolve_real_symbol(const char *name, const char *version = nullptr);

/// True when `address` lies inside this runtime's own shared object.
bool is_own_address(const void *address);

} // namespace flopledger::runtime
