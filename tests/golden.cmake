# Golden captures: pcaps/*.pcap against their .expect files (tests/golden.py).
find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_test(NAME golden/pcaps
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/golden.py
                 $<TARGET_FILE:stripwatch> ${CMAKE_SOURCE_DIR}/pcaps)
