# The public corpus beside the checkout (../shared/corpus); skipped when absent.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_test(NAME corpus/manifest
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/corpus_check.py
                 $<TARGET_FILE:stripwatch> ${CMAKE_SOURCE_DIR}/../shared/corpus)
set_tests_properties(corpus/manifest PROPERTIES SKIP_RETURN_CODE 77)
