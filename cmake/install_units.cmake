# Run by `cmake --install`: the systemd units of config/systemd with the
# paths of the prefix being installed to (CMAKE_INSTALL_PREFIX is the
# install-time prefix here, --prefix included). The variables
# SHMBUS_UNITS_SRC, SHMBUS_BINDIR, SHMBUS_DOCDIR and SHMBUS_UNITDIR
# (relative to the prefix) come from the install(CODE) before this.
file(GLOB units "${SHMBUS_UNITS_SRC}/*.service")
foreach(u ${units})
  get_filename_component(n "${u}" NAME)
  file(READ "${u}" text)
  string(REPLACE "/usr/bin/shmbus" "${CMAKE_INSTALL_PREFIX}/${SHMBUS_BINDIR}/shmbus" text
    "${text}")
  # services named without a path: this prefix's programs first
  string(REPLACE "Environment=PATH=/usr/bin:"
    "Environment=PATH=${CMAKE_INSTALL_PREFIX}/${SHMBUS_BINDIR}:/usr/bin:" text "${text}")
  string(REPLACE "file:///usr/share/doc/shmbus" "file://${CMAKE_INSTALL_PREFIX}/${SHMBUS_DOCDIR}"
    text "${text}")
  set(dest "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/${SHMBUS_UNITDIR}/${n}")
  message(STATUS "Installing: ${dest}")
  file(WRITE "${dest}" "${text}")
endforeach()
