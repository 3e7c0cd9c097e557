# libFuzzer targets (FLOPLEDGER_FUZZ=ON; clang only): the accounting/ parsers and the ledger
# reader, built with coverage, AddressSanitizer and UndefinedBehaviorSanitizer. Configure a build
# directory of their own: CC=clang CXX=clang++ cmake -S . -B build-fuzz -DFLOPLEDGER_FUZZ=ON
# (tests/fuzz/run.sh does that and runs each target for a bounded time).
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "FLOPLEDGER_FUZZ needs clang (libFuzzer): configure with "
                      "CC=clang CXX=clang++ in a separate build directory")
endif()

set(FUZZ_SANITIZERS -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)

# accounting/ and io/ once more, instrumented for coverage-guided fuzzing.
get_target_property(FUZZ_ACCOUNTING_SOURCES flopledger_accounting SOURCES)
get_target_property(FUZZ_IO_SOURCES flopledger_io SOURCES)
add_library(flopledger_fuzz_core STATIC ${FUZZ_ACCOUNTING_SOURCES} ${FUZZ_IO_SOURCES})
target_include_directories(flopledger_fuzz_core PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}
  ${CMAKE_CURRENT_SOURCE_DIR}/include ${HDF5_INCLUDE_DIRS})
target_compile_definitions(flopledger_fuzz_core PUBLIC ${HDF5_DEFINITIONS}
  FLOPLEDGER_VERSION="${PROJECT_VERSION}")
target_compile_options(flopledger_fuzz_core PUBLIC -fsanitize=fuzzer-no-link ${FUZZ_SANITIZERS})
target_link_libraries(flopledger_fuzz_core PUBLIC ${HDF5_C_LIBRARIES} MPI::MPI_C)

foreach(target fuzz_config fuzz_rules fuzz_model fuzz_budget fuzz_ledger)
  add_executable(${target} tests/fuzz/${target}.cpp)
  target_link_libraries(${target} PRIVATE flopledger_fuzz_core)
  target_link_options(${target} PRIVATE -fsanitize=fuzzer ${FUZZ_SANITIZERS})
endforeach()
