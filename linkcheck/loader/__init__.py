"""Loader emulation: what the image's own dynamic loader would map, and where it would look.

- ``glibc``: elf/dl-load.c's search order as data and small functions (RPATH chain, the
  config's LD_LIBRARY_PATH, RUNPATH, /etc/ld.so.cache, the default directories read out of
  the image's ld.so, glibc-hwcaps, $ORIGIN/$LIB/$PLATFORM, DF_1_NODEFLIB, stale-cache
  explanation from /etc/ld.so.conf).
- ``musl``: ldso/dynlink.c's (LD_LIBRARY_PATH, inherited RPATH/RUNPATH, the path file,
  reserved names, no class filter).
- ``ldcache``: the /etc/ld.so.cache reader.
- ``objects``: classifies and parses files once per real path (instance cache).
- ``resolver``: the breadth-first closure with soname dedupe; every lookup recorded.
"""
