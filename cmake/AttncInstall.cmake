# Installation: libattnc (shared, exported as attnc::attnc; static as
# libattnc.a), attnc.h, the `attnc` command, a CMake package config
# (find_package(attnc)) and a pkg-config file (attnc.pc).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS attnc EXPORT attncTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS attnc_static ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS attnc_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/runtime/include/attnc.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(ATTNC_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/attnc)
install(EXPORT attncTargets NAMESPACE attnc:: DESTINATION ${ATTNC_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/attncConfig.cmake.in
  ${PROJECT_BINARY_DIR}/attncConfig.cmake INSTALL_DESTINATION ${ATTNC_CMAKE_DIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_BINDIR)
# 0.x: a minor version may break the API, so only the same minor matches.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/attncConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/attncConfig.cmake ${PROJECT_BINARY_DIR}/attncConfigVersion.cmake
  DESTINATION ${ATTNC_CMAKE_DIR})

set(ATTNC_PC_LLVM_LIBDIR ${LLVM_LIB_DIR})
# `cmake --install --prefix P` may move the tree, so the .pc finds its prefix
# relative to itself (libdir/pkgconfig -> prefix).
file(RELATIVE_PATH ATTNC_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" ATTNC_PC_TO_PREFIX "${ATTNC_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/attnc.pc.in ${PROJECT_BINARY_DIR}/attnc.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/attnc.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
