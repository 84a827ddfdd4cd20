#!/usr/bin/env bash
# The .deb that CPack builds from this build tree has the right control fields,
# maintainer scripts, conffiles and files. Runs the build's own CPack config,
# but installs through cmake_install.cmake directly: the normal path first
# builds the `preinstall` target (all of the project), which a test must not do.
# Usage: deb_contents.sh <build dir> <project version>
set -euo pipefail

build=$1
version=$2
for tool in cpack dpkg-deb dpkg-shlibdeps; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool not installed (tools/install-deps.sh installs cmake, dpkg-dev)"
    exit 77
  fi
done

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

if ! cpack --config "$build/CPackConfig.cmake" -B "$out" \
     -D CPACK_INSTALL_CMAKE_PROJECTS= \
     -D CPACK_INSTALL_SCRIPTS="$build/cmake_install.cmake" >"$out/cpack.log" 2>&1; then
  cat "$out/cpack.log" >&2
  exit 1
fi
debs=("$out"/tollgate_"$version"_*.deb)
[[ -f ${debs[0]} ]] || { ls -R "$out" >&2; echo "FAIL: no tollgate_${version}_*.deb" >&2; exit 1; }
deb=${debs[0]}

field() { dpkg-deb -f "$deb" "$1"; }
[[ $(field Package) == tollgate ]] || fail "Package is '$(field Package)'"
[[ $(field Version) == "$version" ]] || fail "Version is '$(field Version)'"
[[ $(field Section) == net ]] || fail "Section is '$(field Section)'"
[[ -n $(field Maintainer) ]] || fail "no Maintainer"
[[ -n $(field Description) ]] || fail "no Description"
# dpkg-shlibdeps ran: the libraries the binaries link appear as packages.
for lib in libc6 libzmq5 libcurl4 liblmdb0; do
  [[ $(field Depends) == *"$lib"* ]] || fail "Depends lacks $lib: $(field Depends)"
done

files=$(dpkg-deb -c "$deb" | awk '{print $1, $NF}')
want() {
  grep -qxF -- "$1 ./$2" <<<"$files" || fail "package lacks $1 ./$2"
}
for b in tollgated tollctl tollbench; do want -rwxr-xr-x "usr/bin/$b"; done
want -rwxr-xr-x usr/libexec/tollgate/fake-provider
want -rw-r--r-- usr/lib/systemd/system/tollgated.service
want -rw-r--r-- usr/lib/sysusers.d/tollgate.conf
want -rw-r--r-- etc/tollgate/tollgate.env.example
want -rw-r--r-- usr/share/doc/tollgate/README.md
want drwxr-xr-x etc/tollgate/
# The client libraries (clients/): Python where Debian keeps pure-Python
# packages, the C++ header and its CMake package.
want -rw-r--r-- usr/lib/python3/dist-packages/tollgate/__init__.py
want -rw-r--r-- usr/lib/python3/dist-packages/tollgate/py.typed
want -rw-r--r-- usr/include/tollgate/client.hpp
want -rw-r--r-- usr/lib/cmake/tollgate_client/tollgate_clientConfig.cmake
[[ $(field Suggests) == *python3-zmq* ]] || fail "Suggests lacks python3-zmq: $(field Suggests)"

control=$out/control
dpkg-deb -e "$deb" "$control"
for script in postinst prerm postrm; do
  [[ -x $control/$script ]] || fail "no executable $script"
done
grep -q 'deb-systemd-helper enable' "$control/postinst" || fail "postinst does not enable the unit"
[[ $(cat "$control/conffiles") == /etc/tollgate/tollgate.env.example ]] ||
  fail "conffiles is '$(cat "$control/conffiles")'"
# Every conffile must be in the package.
while read -r conffile; do
  want -rw-r--r-- "${conffile#/}"
done <"$control/conffiles"

if (( failures > 0 )); then
  echo "$failures package check(s) failed in $deb" >&2
  exit 1
fi
echo "package OK: $(basename "$deb") ($(field Installed-Size) KiB installed)"
