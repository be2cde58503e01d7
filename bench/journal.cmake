# shmbus-journal-bench: journal write throughput per fsync policy and read
# throughput, printed next to fio's sequential write bandwidth. Included
# from bench/CMakeLists.txt; sees only the public API.
add_executable(shmbus-journal-bench ${CMAKE_CURRENT_LIST_DIR}/journal_bench.c)
target_link_libraries(shmbus-journal-bench PRIVATE shmbus::shmbus shmbus_toolcommon shmbus_flags)
install(TARGETS shmbus-journal-bench RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
