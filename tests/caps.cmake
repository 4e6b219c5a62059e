# Sensor caps: sensor_degraded when the flow table overflows, on real captures
# from pcaps/ merged so that their sessions overlap (tests/caps/degraded.sh).
find_package(Python3 REQUIRED COMPONENTS Interpreter)
foreach(mode capped default)
  add_test(NAME caps/degraded-${mode}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/caps/degraded.sh $<TARGET_FILE:stripwatch>
                   ${CMAKE_SOURCE_DIR}/pcaps ${CMAKE_CURRENT_BINARY_DIR}/caps ${mode})
  set_tests_properties(caps/degraded-${mode} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)
endforeach()
