/* A stand-in for HDF5 crashing on a damaged file: preloaded into the flopledger command, it
 * replaces H5Fopen with a segmentation fault, so that tests/e2e/test_hostile_inputs.py can check
 * the CLI's crash isolation deterministically (HDF5 1.10 crashes only on some files). Test-only. */
#include <signal.h>
#include <stdint.h>

int64_t H5Fopen(const char *name, unsigned flags, int64_t fapl);

int64_t H5Fopen(const char *name, unsigned flags, int64_t fapl) {
  (void)name;
  (void)flags;
  (void)fapl;
  raise(SIGSEGV);
  return -1;
}
