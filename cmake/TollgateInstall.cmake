# Install rules for `cmake --install` and the .deb (cmake/TollgatePackaging.cmake).
#
# Layout, for an install prefix P (the .deb uses P=/usr):
#   P/bin/tollgated, P/bin/tollctl, P/bin/tollbench
#   P/libexec/tollgate/fake-provider        local provider stand-in (demo, smoke tests)
#   P/lib/systemd/system/tollgated.service  paths inside rewritten for P (see below)
#   P/lib/sysusers.d/tollgate.conf          the `tollgate` system user
#   ETC/tollgate/tollgate.env.example       ETC = /etc for P=/usr (GNU rule, below)
#   P/share/doc/tollgate/README.md, P/share/doc/tollgate/docs/*.md
#
# The prefix may change after configure (`cmake --install build --prefix /usr`),
# so everything derived from it (the config directory, the unit's ExecStart
# and its --env-file) is computed by the install script at install time, never here.
include(GNUInstallDirs)

set(TOLLGATE_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
    "systemd system unit directory, relative to the install prefix")

install(TARGETS tollgated tollctl tollbench RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS fake-provider RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/tollgate)
install(FILES packaging/sysusers/tollgate.conf DESTINATION lib/sysusers.d)
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
# A directory rule, not a glob: docs added after configure are still installed.
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs
        FILES_MATCHING PATTERN "*.md")

# Configure-time values the install-time code below needs.
install(CODE "
set(tollgate_source_dir \"${PROJECT_SOURCE_DIR}\")
set(tollgate_stage_dir \"${PROJECT_BINARY_DIR}/install-stage\")
set(tollgate_bindir \"${CMAKE_INSTALL_BINDIR}\")
set(tollgate_docdir \"${CMAKE_INSTALL_DOCDIR}\")
set(tollgate_unitdir \"${TOLLGATE_SYSTEMD_UNIT_DIR}\")
")

install(CODE [[
# GNUInstallDirs' rule for SYSCONFDIR, applied to the install-time prefix:
# / and /usr use /etc, /opt/<name> uses /etc/opt/<name>, others <prefix>/etc.
if(CMAKE_INSTALL_PREFIX MATCHES "^/(usr)?/?$")
  set(tollgate_etc "/etc")
elseif(CMAKE_INSTALL_PREFIX MATCHES "^/opt/([^/]+)/?$")
  set(tollgate_etc "/etc/opt/${CMAKE_MATCH_1}")
else()
  set(tollgate_etc "${CMAKE_INSTALL_PREFIX}/etc")
endif()
file(INSTALL "${tollgate_source_dir}/systemd/tollgate.env.example"
     DESTINATION "${tollgate_etc}/tollgate")

# The unit in the source tree is written for prefix /usr; point it at this prefix.
cmake_path(ABSOLUTE_PATH tollgate_bindir BASE_DIRECTORY "${CMAKE_INSTALL_PREFIX}"
           OUTPUT_VARIABLE tollgate_full_bindir)
cmake_path(ABSOLUTE_PATH tollgate_docdir BASE_DIRECTORY "${CMAKE_INSTALL_PREFIX}"
           OUTPUT_VARIABLE tollgate_full_docdir)
file(READ "${tollgate_source_dir}/systemd/tollgated.service" tollgate_unit)
foreach(tollgate_pair
    "ExecStart=/usr/bin/tollgated|ExecStart=${tollgate_full_bindir}/tollgated"
    "--env-file=-/etc/tollgate/|--env-file=-${tollgate_etc}/tollgate/"
    "file:///usr/share/doc/tollgate/|file://${tollgate_full_docdir}/")
  string(REPLACE "|" ";" tollgate_pair "${tollgate_pair}")
  list(GET tollgate_pair 0 tollgate_from)
  list(GET tollgate_pair 1 tollgate_to)
  string(FIND "${tollgate_unit}" "${tollgate_from}" tollgate_at)
  if(tollgate_at EQUAL -1)
    message(FATAL_ERROR "systemd/tollgated.service no longer contains '${tollgate_from}';"
                        " update cmake/TollgateInstall.cmake")
  endif()
  string(REPLACE "${tollgate_from}" "${tollgate_to}" tollgate_unit "${tollgate_unit}")
endforeach()
# One staged copy per prefix, replaced by rename only when its text changes, so
# concurrent installs (tests, cpack) never copy a half-written file.
string(MD5 tollgate_prefix_id "${CMAKE_INSTALL_PREFIX}")
set(tollgate_staged "${tollgate_stage_dir}/${tollgate_prefix_id}/tollgated.service")
set(tollgate_old "")
if(EXISTS "${tollgate_staged}")
  file(READ "${tollgate_staged}" tollgate_old)
endif()
if(NOT tollgate_old STREQUAL tollgate_unit)
  string(RANDOM LENGTH 12 tollgate_tmp_id)
  file(WRITE "${tollgate_staged}.${tollgate_tmp_id}" "${tollgate_unit}")
  file(RENAME "${tollgate_staged}.${tollgate_tmp_id}" "${tollgate_staged}")
endif()
cmake_path(ABSOLUTE_PATH tollgate_unitdir BASE_DIRECTORY "${CMAKE_INSTALL_PREFIX}"
           OUTPUT_VARIABLE tollgate_full_unitdir)
file(INSTALL "${tollgate_staged}" DESTINATION "${tollgate_full_unitdir}"
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
]])

include(${CMAKE_CURRENT_LIST_DIR}/TollgatePackaging.cmake)
