"""Build the pgcopyman extension against libpgcopyman and the system libpq.

Where the library comes from, in order:
  PGCM_STATIC_LIB   the static library to link (the top-level Makefile sets it);
  the source tree   ../build/libpgcopyman.a, built with `make -C ..` if needed;
  pkg-config        an installed pgcopyman (`make install`).
PGCM_EXTRA_CFLAGS adds compiler and linker flags (the sanitizer build);
PGCM_WERROR=1 makes warnings errors.  Nothing is downloaded.
"""

import os
import shlex
import subprocess
from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config", *args], check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return shlex.split(out.stdout)


def libpq_flags():
    cflags = pkg_config("--cflags", "libpq")
    libs = pkg_config("--libs", "libpq")
    if cflags is None or libs is None:
        inc = subprocess.run(["pg_config", "--includedir"], check=True, capture_output=True,
                             text=True).stdout.strip()
        lib = subprocess.run(["pg_config", "--libdir"], check=True, capture_output=True,
                             text=True).stdout.strip()
        cflags, libs = ["-I" + inc], ["-L" + lib, "-lpq"]
    return cflags, libs


def library():
    """(include flags, objects to link, linker flags) for libpgcopyman."""
    static = os.environ.get("PGCM_STATIC_LIB")
    if static:
        return ["-I" + str(ROOT / "include")], [static], []
    if (ROOT / "include" / "pgcopyman.h").is_file() and (ROOT / "Makefile").is_file():
        subprocess.run(["make", "-C", str(ROOT), "build/libpgcopyman.a"], check=True)
        return ["-I" + str(ROOT / "include")], [str(ROOT / "build" / "libpgcopyman.a")], []
    cflags, libs = pkg_config("--cflags", "pgcopyman"), pkg_config("--libs", "pgcopyman")
    if cflags is None or libs is None:
        raise SystemExit("pgcopyman: the library was not found: build this from the pgcopyman "
                         "source tree, set PGCM_STATIC_LIB, or install it (make install)")
    return cflags, [], libs


pq_cflags, pq_libs = libpq_flags()
lib_cflags, lib_objects, lib_libs = library()
extra = shlex.split(os.environ.get("PGCM_EXTRA_CFLAGS", ""))
warn = ["-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wstrict-prototypes", "-Wmissing-prototypes",
        "-Wno-missing-field-initializers", "-Wno-cast-function-type"]
if os.environ.get("PGCM_WERROR") == "1":
    warn.append("-Werror")

sources = sorted(str(p.relative_to(HERE)) for p in (HERE / "src").glob("*.c"))

setup(
    packages=["pgcopyman"],
    package_data={"pgcopyman": ["py.typed", "*.pyi"]},
    ext_modules=[
        Extension(
            "pgcopyman._pgcopyman",
            sources=sources,
            depends=[str(p.relative_to(HERE)) for p in (HERE / "src").glob("*.h")],
            extra_compile_args=["-std=c11", "-fvisibility=hidden", *warn, *lib_cflags,
                                *pq_cflags, *extra],
            extra_objects=lib_objects,
            extra_link_args=[*lib_libs, *pq_libs, "-pthread", *extra],
        )
    ],
)
