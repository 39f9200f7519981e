# Run by `cmake --install` (see CMakeLists.txt here): installs one kind of units (system or
# user) where the prefix installed to wants them, the service's ExecStart naming its mttd:
# under the prefix (lib/systemd/system, lib/systemd/user), for a /usr prefix where `pkg-config
# systemd` says (the distribution's package), or where the unit directory given at configure
# time says. In: MTT_KIND, MTT_UNIT_DIR (may be empty), MTT_PC_UNIT_DIR, MTT_SERVICE_IN,
# MTT_SOCKET, MTT_STAGE (a directory of the build tree), MTT_SBINDIR, MTT_LIBEXECDIR.
if(MTT_UNIT_DIR)
  set(mtt_dir "${MTT_UNIT_DIR}")
elseif(CMAKE_INSTALL_PREFIX MATCHES "^/usr/*$" AND MTT_PC_UNIT_DIR)
  set(mtt_dir "${MTT_PC_UNIT_DIR}")
else()
  set(mtt_dir "lib/systemd/${MTT_KIND}")
endif()
if(IS_ABSOLUTE "${mtt_dir}")
  list(APPEND CMAKE_ABSOLUTE_DESTINATION_FILES "${mtt_dir}/mttd.service" "${mtt_dir}/mttd.socket")
else()
  set(mtt_dir "${CMAKE_INSTALL_PREFIX}/${mtt_dir}")
endif()
set(MTTD_PATH "${MTT_SBINDIR}/mttd")
if(NOT IS_ABSOLUTE "${MTTD_PATH}")
  set(MTTD_PATH "${CMAKE_INSTALL_PREFIX}/${MTTD_PATH}")
endif()
set(MTT_NODE_EXPORTER_SETUP "${MTT_LIBEXECDIR}/mtt/mttd-node-exporter")
if(NOT IS_ABSOLUTE "${MTT_NODE_EXPORTER_SETUP}")
  set(MTT_NODE_EXPORTER_SETUP "${CMAKE_INSTALL_PREFIX}/${MTT_NODE_EXPORTER_SETUP}")
endif()
configure_file("${MTT_SERVICE_IN}" "${MTT_STAGE}/mttd.service" @ONLY)
# file(INSTALL) honours DESTDIR and records the files in the install manifest.
file(INSTALL "${MTT_STAGE}/mttd.service" "${MTT_SOCKET}" DESTINATION "${mtt_dir}"
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
