# Live-capture tests (tests/live/).  They need root (namespaces, packet
# capture) and skip with 77, saying why, where that is missing.
#
# live/syslog    --syslog through the real syslog(3) path into a socket the
#                test owns (private mount namespace; file input from
#                ../shared/bench/seeds)
# live/privdrop  -i with -Z nobody: uid/gid/capabilities in /proc, capture,
#                SIGHUP rotation, verify
# live/e2e       postfix, swaks and the lab's stripping proxy in network
#                namespaces; stripwatch -i on the link; SIGUSR1, SIGTERM,
#                verify (Debian packages: see tests/live/e2e.sh)
# live/fanout    -i --workers 2: the PACKET_FANOUT split on a veth pair, the
#                lab's captures replayed, findings equal to a -r run
set(SW_LIVE ${CMAKE_CURRENT_SOURCE_DIR}/live)
add_test(NAME live/syslog
         COMMAND ${SW_LIVE}/syslog.sh $<TARGET_FILE:stripwatch> ${CMAKE_SOURCE_DIR}/../shared)
add_test(NAME live/privdrop COMMAND ${SW_LIVE}/privdrop.sh $<TARGET_FILE:stripwatch>)
add_test(NAME live/e2e COMMAND ${SW_LIVE}/e2e.sh $<TARGET_FILE:stripwatch>)
add_test(NAME live/fanout COMMAND ${SW_LIVE}/fanout.sh $<TARGET_FILE:stripwatch> ${CMAKE_SOURCE_DIR}/pcaps)
set_tests_properties(live/syslog live/privdrop live/e2e live/fanout PROPERTIES
                     SKIP_RETURN_CODE 77 TIMEOUT 120 RESOURCE_LOCK sw_netns)
