# Included into llama.cpp's CMake projects (CMAKE_PROJECT_INCLUDE) by
# scripts/test-vulkan.sh --ci: the dynamic-backends build then makes one CPU
# module for this machine's x86 level instead of all fourteen, which is all
# a test needs and saves most of that build's time. The package's build
# (scripts/build-app.sh) never uses it.
set(GGML_CPU_ALL_VARIANTS OFF CACHE BOOL "one CPU module (Omnidesk CI)" FORCE)
