# Toolchain file: cross-compile the native tests for arm64 Linux with Debian's
# g++-aarch64-linux-gnu, and run them under qemu-user (ctest uses the emulator).
#
#   cmake -S . -B build-arm64 -DCMAKE_BUILD_TYPE=Release \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
#   qemu-aarch64 -L /usr/aarch64-linux-gnu build-arm64/embedkit_native_tests
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(EMBEDKIT_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${EMBEDKIT_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${EMBEDKIT_CROSS_TRIPLE}-g++)

set(CMAKE_FIND_ROOT_PATH /usr/${EMBEDKIT_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

find_program(EMBEDKIT_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static)
if(EMBEDKIT_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${EMBEDKIT_QEMU_AARCH64} -L /usr/${EMBEDKIT_CROSS_TRIPLE})
endif()
