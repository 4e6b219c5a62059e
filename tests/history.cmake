# Policy and per-server history: SQLite for dissect/history.c, and the script
# tests in tests/history/ (real captures from pcaps/, always with --state in
# a temporary directory, never the real state directory).

file(GLOB SW_HISTORY_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/history/*.sh)
foreach(t ${SW_HISTORY_TESTS})
  get_filename_component(name ${t} NAME_WE)
  add_test(NAME history/${name}
           COMMAND bash ${t} $<TARGET_FILE:stripwatch> ${CMAKE_SOURCE_DIR}/pcaps)
  set_tests_properties(history/${name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)
endforeach()
