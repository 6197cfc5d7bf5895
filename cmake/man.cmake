# The manual pages, made by the build from one source format: scdoc
# (docs/man/PAGE.SECTION.scd). estd.conf(5) is docs/configuration.md
# turned into scdoc (scripts/man-from-markdown.py) inside
# docs/man/estd.conf.5.scd.in, so the configuration reference is written
# once. The pages land in build/man/ and are installed under MANDIR.
find_program(ESTKIT_SCDOC scdoc)
if(NOT ESTKIT_SCDOC)
  message(FATAL_ERROR "scdoc not found: it makes the manual pages "
    "(apt-get install scdoc; make check and make run install it)")
endif()
find_package(Python3 REQUIRED COMPONENTS Interpreter)

set(ESTKIT_MAN_DIR ${PROJECT_BINARY_DIR}/man)
file(MAKE_DIRECTORY ${ESTKIT_MAN_DIR})
set(ESTKIT_MAN_PAGES estd.8 estadm.8 estclient.1 estd.conf.5)
set(ESTKIT_MAN_OUTPUTS "")

foreach(page ${ESTKIT_MAN_PAGES})
  set(out ${ESTKIT_MAN_DIR}/${page})
  if(page STREQUAL "estd.conf.5")
    set(scd ${ESTKIT_MAN_DIR}/${page}.scd)
    add_custom_command(OUTPUT ${scd}
      COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/scripts/man-from-markdown.py
        ${PROJECT_SOURCE_DIR}/docs/man/${page}.scd.in
        ${PROJECT_SOURCE_DIR}/docs/configuration.md ${scd}
      DEPENDS ${PROJECT_SOURCE_DIR}/docs/man/${page}.scd.in
        ${PROJECT_SOURCE_DIR}/docs/configuration.md
        ${PROJECT_SOURCE_DIR}/scripts/man-from-markdown.py
      COMMENT "Turning docs/configuration.md into ${page}.scd" VERBATIM)
  else()
    set(scd ${PROJECT_SOURCE_DIR}/docs/man/${page}.scd)
  endif()
  # scdoc reads standard input and writes standard output only.
  add_custom_command(OUTPUT ${out}
    COMMAND sh -c "\"$1\" < \"$2\" > \"$3.tmp\" && mv \"$3.tmp\" \"$3\"" scdoc
      ${ESTKIT_SCDOC} ${scd} ${out}
    DEPENDS ${scd}
    COMMENT "Making the manual page ${page}" VERBATIM)
  list(APPEND ESTKIT_MAN_OUTPUTS ${out})
  string(REGEX REPLACE ".*\\.([0-9])$" "\\1" section ${page})
  install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
add_custom_target(man ALL DEPENDS ${ESTKIT_MAN_OUTPUTS})
