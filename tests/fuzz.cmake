# Fuzz harnesses (tests/fuzz/fuzz_*.c) and their regression replays.
#
# Every build: replay_<harness> links the harness with tests/fuzz/replay_main.c
# and ctest runs it over tests/regress/<harness>/ and tests/fuzz/seeds/<harness>/
# (sanitizers on when SW_SANITIZE is).
#
# -DSW_FUZZ=ON (CC=clang, with -DSW_SANITIZE=ON): the project libraries get
# -fsanitize=fuzzer-no-link and fuzz_<harness> links libFuzzer; the replay
# tests then run the libFuzzer binary with -runs=0 over the same directories.
# Fuzz runs: tests/fuzz/smoke.sh BUILD_DIR SECONDS.
set(SW_FUZZ_HARNESSES fuzz_tls fuzz_mail fuzz_pcap)
set(SW_FUZZ_LINK_fuzz_tls sw_dissect)
set(SW_FUZZ_LINK_fuzz_mail sw_dissect)
set(SW_FUZZ_LINK_fuzz_pcap sw_alert)

if(SW_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "SW_FUZZ=ON needs clang (CC=clang)")
  endif()
  if(NOT SW_SANITIZE)
    message(FATAL_ERROR "SW_FUZZ=ON needs SW_SANITIZE=ON (the sanitizer runtime provides the coverage hooks for the other programs)")
  endif()
  foreach(lib sw_capture sw_dissect sw_alert)
    target_compile_options(${lib} PRIVATE -fsanitize=fuzzer-no-link)
  endforeach()
endif()

foreach(h ${SW_FUZZ_HARNESSES})
  set(src ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/${h}.c)
  set(dirs ${CMAKE_CURRENT_SOURCE_DIR}/regress/${h} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/seeds/${h})
  string(REPLACE "fuzz_" "replay_" r ${h})
  if(SW_FUZZ)
    add_executable(${h} ${src})
    target_compile_options(${h} PRIVATE ${SW_WARNINGS} -fsanitize=fuzzer)
    target_link_options(${h} PRIVATE -fsanitize=fuzzer)
    target_include_directories(${h} PRIVATE ${CMAKE_SOURCE_DIR}/dissect)
    target_link_libraries(${h} PRIVATE ${SW_FUZZ_LINK_${h}})
    add_test(NAME fuzz/${r} COMMAND ${h} -runs=0 ${dirs})
  else()
    add_executable(${r} ${src} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/replay_main.c)
    target_compile_options(${r} PRIVATE ${SW_WARNINGS})
    target_include_directories(${r} PRIVATE ${CMAKE_SOURCE_DIR}/dissect)
    target_link_libraries(${r} PRIVATE ${SW_FUZZ_LINK_${h}})
    add_test(NAME fuzz/${r} COMMAND ${r} ${dirs})
  endif()
endforeach()
