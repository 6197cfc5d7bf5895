# What `make install` (cmake --install) puts where, under CMAKE_INSTALL_PREFIX
# and DESTDIR. estd and estadm are administrators' programs (sbin, section 8);
# estclient is anyone's (bin).
set(ESTKIT_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING
  "Where the systemd unit goes (relative: under the prefix)")
set(ESTKIT_SYSUSERSDIR "lib/sysusers.d" CACHE STRING
  "Where the sysusers.d file creating the estd user goes (relative: under the prefix)")

install(TARGETS estd estadm RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
if(TARGET estclient)
  install(TARGETS estclient RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(TARGETS estkit ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
if(TARGET estkit_shared)
  install(TARGETS estkit_shared LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(FILES ${PROJECT_BINARY_DIR}/estkit.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endif()
install(DIRECTORY include/estkit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# The sample configuration, the guides and the example layouts.
install(FILES dist/estd.conf.example DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/estkit)
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}
  FILES_MATCHING PATTERN "*.md" PATTERN "*.conf" PATTERN "man" EXCLUDE)

# systemd: the unit names the installed paths.
configure_file(dist/estd.service.in ${PROJECT_BINARY_DIR}/estd.service @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/estd.service DESTINATION ${ESTKIT_SYSTEMD_UNITDIR})
install(FILES dist/estkit.sysusers DESTINATION ${ESTKIT_SYSUSERSDIR} RENAME estkit.conf)

# estclient renew under systemd (dist/): a timer with a one-shot service, or a
# daemon, both reading @sysconfdir@/estkit/renew.conf (example beside them).
foreach(f estclient-renew.service estclient-renewd.service renew.conf.example)
  configure_file(dist/${f}.in ${PROJECT_BINARY_DIR}/dist/${f} @ONLY)
endforeach()
install(FILES ${PROJECT_BINARY_DIR}/dist/estclient-renew.service dist/estclient-renew.timer
  ${PROJECT_BINARY_DIR}/dist/estclient-renewd.service DESTINATION ${ESTKIT_SYSTEMD_UNITDIR})
install(FILES ${PROJECT_BINARY_DIR}/dist/renew.conf.example
  DESTINATION ${CMAKE_INSTALL_DOCDIR})
