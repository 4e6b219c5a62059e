# --workers N: every golden capture (and all of them as one timeline) gives the
# same alerts, flow events and counters with 2 and 3 workers as with one, and a
# signed two-worker run verifies (tests/workers_check.py).
find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_test(NAME workers/same-findings
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/workers_check.py
                 $<TARGET_FILE:stripwatch> ${CMAKE_SOURCE_DIR}/pcaps
                 ${CMAKE_CURRENT_BINARY_DIR}/workers)
