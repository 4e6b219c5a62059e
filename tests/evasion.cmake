# Evasion and hostile-file tests (tests/evasion/).  Python 3 only, no scapy.
#
# evasion/handmade  hand-written sessions (make_sessions.py), rewritten by
#                   reseg.py: findings per flow must not change
# evasion/project   the same over the project's captures in pcaps/ (skips
#                   with 77 when there are none)
# evasion/shared    the same over bench seeds and corpus captures that raise
#                   findings (skips with 77 when ../shared is missing)
# evasion/badfiles  truncated / corrupt capture files: exit status, one error
#                   line, well-formed JSON lines kept
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  set(SW_EV ${CMAKE_CURRENT_SOURCE_DIR}/evasion)
  set(SW_SHARED ${CMAKE_SOURCE_DIR}/../shared)
  add_test(NAME evasion/handmade
           COMMAND ${Python3_EXECUTABLE} ${SW_EV}/run.py $<TARGET_FILE:stripwatch>
                   ${CMAKE_CURRENT_BINARY_DIR}/evasion-handmade --handmade)
  add_test(NAME evasion/project
           COMMAND ${Python3_EXECUTABLE} ${SW_EV}/run.py $<TARGET_FILE:stripwatch>
                   ${CMAKE_CURRENT_BINARY_DIR}/evasion-project --benign-ok ${CMAKE_SOURCE_DIR}/pcaps)
  add_test(NAME evasion/shared
           COMMAND ${Python3_EXECUTABLE} ${SW_EV}/run.py $<TARGET_FILE:stripwatch>
                   ${CMAKE_CURRENT_BINARY_DIR}/evasion-shared --need ${SW_SHARED}
                   ${SW_SHARED}/bench/seeds/smtp-stripped-xxxx.pcap
                   ${SW_SHARED}/bench/seeds/smtp-starttls-refused.pcap
                   ${SW_SHARED}/bench/seeds/smtp-tls10.pcap
                   ${SW_SHARED}/corpus/ntop_nDPI/tls_alert.pcap)
  add_test(NAME evasion/badfiles
           COMMAND ${Python3_EXECUTABLE} ${SW_EV}/badfiles.py $<TARGET_FILE:stripwatch>
                   ${CMAKE_CURRENT_BINARY_DIR}/evasion-badfiles ${CMAKE_SOURCE_DIR}/pcaps)
  set_tests_properties(evasion/handmade evasion/project evasion/shared evasion/badfiles
                       PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)
endif()
