# Finds LLVM 19 (Debian's llvm-19-dev) and defines the imported target
# attnc::llvm. By default libattnc links the shared libLLVM-19.so; with
# ATTNC_LLVM_STATIC it links only the static components it uses (NVPTX, the
# host target, ORC JIT), so the GPU machine needs nothing but the build folder.
find_program(LLVM_CONFIG NAMES llvm-config-19 llvm-config
  HINTS /usr/lib/llvm-19/bin REQUIRED)
execute_process(COMMAND ${LLVM_CONFIG} --version OUTPUT_VARIABLE ATTNC_LLVM_VERSION OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT ATTNC_LLVM_VERSION MATCHES "^19\\.")
  message(FATAL_ERROR "attnc needs LLVM 19, found ${ATTNC_LLVM_VERSION} (${LLVM_CONFIG})")
endif()
execute_process(COMMAND ${LLVM_CONFIG} --includedir OUTPUT_VARIABLE LLVM_INCLUDE_DIR OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND ${LLVM_CONFIG} --libdir OUTPUT_VARIABLE LLVM_LIB_DIR OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND ${LLVM_CONFIG} --bindir OUTPUT_VARIABLE LLVM_BIN_DIR OUTPUT_STRIP_TRAILING_WHITESPACE)

add_library(attnc_llvm INTERFACE)
target_include_directories(attnc_llvm SYSTEM INTERFACE ${LLVM_INCLUDE_DIR})
if(ATTNC_LLVM_STATIC)
  set(_components nvptx x86 orcjit passes native)
  execute_process(COMMAND ${LLVM_CONFIG} --link-static --libs ${_components}
    OUTPUT_VARIABLE _libs OUTPUT_STRIP_TRAILING_WHITESPACE)
  execute_process(COMMAND ${LLVM_CONFIG} --link-static --system-libs ${_components}
    OUTPUT_VARIABLE _syslibs OUTPUT_STRIP_TRAILING_WHITESPACE)
  separate_arguments(_libs UNIX_COMMAND "${_libs}")
  separate_arguments(_syslibs UNIX_COMMAND "${_syslibs}")
  target_link_directories(attnc_llvm INTERFACE ${LLVM_LIB_DIR})
  target_link_libraries(attnc_llvm INTERFACE ${_libs} ${_syslibs} stdc++)
else()
  find_library(LLVM_SHARED_LIB NAMES LLVM-19 LLVM HINTS ${LLVM_LIB_DIR} REQUIRED NO_DEFAULT_PATH)
  target_link_libraries(attnc_llvm INTERFACE ${LLVM_SHARED_LIB})
endif()
add_library(attnc::llvm ALIAS attnc_llvm)
message(STATUS "attnc: LLVM ${ATTNC_LLVM_VERSION} (static: ${ATTNC_LLVM_STATIC})")
