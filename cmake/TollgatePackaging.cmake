# CPack: the Debian package `tollgate` (`make deb`, or `cpack --config
# <build>/CPackConfig.cmake`). Installs the layout of cmake/TollgateInstall.cmake
# with prefix /usr; maintainer scripts live in packaging/deb/.

set(TOLLGATE_DEB_MAINTAINER "tollgate maintainers <maintainers@tollgate.invalid>"
    CACHE STRING "Maintainer field of the .deb")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tollgate)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${TOLLGATE_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "shared LLM provider gateway with hard monthly token budgets")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${TOLLGATE_DEB_MAINTAINER}")
# CPack takes the synopsis line from the summary above; this is the long text.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
"tollgated lets a fleet of AI agents share LLM providers (Anthropic, OpenAI)
over ZeroMQ under hard per-agent and global monthly token budgets, kept in a
durable LMDB ledger, with usage and alert events on a PUB socket.
The package ships the daemon with its systemd unit, tollctl (operator
client), tollbench (load generator) and fake-provider (local stand-in for
the provider APIs, in /usr/libexec/tollgate), and the client libraries for
producer services: the Python package `tollgate` (python3-zmq and
python3-msgpack) and the header-only C++ client tollgate/client.hpp with
its CMake package tollgate_client (cppzmq-dev and libmsgpack-cxx-dev).")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)   # tollgate_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)    # Depends from dpkg-shlibdeps, plus:
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd | adduser")  # postinst makes the user
# What the client libraries need, only on the hosts that use them.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "python3-zmq, python3-msgpack, cppzmq-dev, libmsgpack-cxx-dev")
set(CPACK_STRIP_FILES ON)

# Install with DESTDIR and the real prefix, so the install-time code in
# TollgateInstall.cmake sees /usr (and puts configuration in /etc), not the
# staging directory.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)

set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/deb/postinst
    ${PROJECT_SOURCE_DIR}/packaging/deb/prerm
    ${PROJECT_SOURCE_DIR}/packaging/deb/postrm
    ${PROJECT_SOURCE_DIR}/packaging/deb/conffiles)
# Keep the scripts' 0755 and conffiles' 0644 as Debian expects.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

include(CPack)
