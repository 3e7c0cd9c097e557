# Fails when any C/C++ source of the project is not clang-format clean.
file(GLOB_RECURSE sources
  ${SOURCE_DIR}/accounting/*.cpp ${SOURCE_DIR}/accounting/*.hpp
  ${SOURCE_DIR}/runtime/*.cpp ${SOURCE_DIR}/runtime/*.hpp
  ${SOURCE_DIR}/io/*.cpp ${SOURCE_DIR}/io/*.hpp
  ${SOURCE_DIR}/launchers/*.cpp ${SOURCE_DIR}/launchers/*.hpp ${SOURCE_DIR}/launchers/*.c
  ${SOURCE_DIR}/include/*.h ${SOURCE_DIR}/examples/*.cpp
  ${SOURCE_DIR}/tests/unit/*.cpp ${SOURCE_DIR}/tests/io/*.cpp ${SOURCE_DIR}/tests/support/*.c ${SOURCE_DIR}/tests/support/*.cpp
  ${SOURCE_DIR}/tests/fuzz/*.cpp ${SOURCE_DIR}/tests/gpu/*.cpp ${SOURCE_DIR}/tests/gpu_unit/*.cpp)
execute_process(COMMAND ${CLANG_FORMAT} --dry-run --Werror ${sources}
  RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "clang-format: these files need formatting:\n${err}")
endif()
