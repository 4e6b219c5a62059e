# Signing tests: closed output files checked with stock minisign, key
# rotation and `verify --json` (tests/sign/minisig_test.sh; skipped with 77
# when minisign is not installed).  sw_sign_gen writes event files through
# the alert stage's API (also used to measure the verifier's rate).
add_executable(sw_sign_gen ${CMAKE_CURRENT_SOURCE_DIR}/sign/sw_sign_gen.c)
target_include_directories(sw_sign_gen PRIVATE ${CMAKE_SOURCE_DIR}/alert)
target_compile_options(sw_sign_gen PRIVATE ${SW_WARNINGS} -Wno-missing-prototypes)
target_link_libraries(sw_sign_gen PRIVATE sw_alert)
add_test(NAME sign/minisig
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/sign/minisig_test.sh
                 $<TARGET_FILE:stripwatch> $<TARGET_FILE:sw_sign_gen>)
set_tests_properties(sign/minisig PROPERTIES SKIP_RETURN_CODE 77)
