"""Will a Chalice deployment zip load on Lambda? Sizes, and the native libraries inside it.

`chalice package` / `chalice deploy` pick wheels for the Lambda runtime that matches the local Python
(python3.11 runs on Amazon Linux 2, glibc 2.26; python3.12 and later on Amazon Linux 2023, glibc 2.34). When
PyPI has no wheel for that glibc, Chalice quietly builds the package from its sdist *on the deploying
machine*: the extension modules then link against that machine's glibc and shared libraries, and the
function fails to import on Lambda. This module reads the ELF files in the zip (no binutils needed) and
reports every extension that needs a newer glibc than the runtime has, or a shared library that is
neither in the zip nor in the Lambda runtime.

    python -m deploy.lambda_zip path/to/deployment.zip [--runtime python3.11]
"""
import argparse
import os
import struct
import sys
import zipfile
from pathlib import PurePosixPath

ZIP_LIMIT = 50 * 1024 * 1024  # a zip uploaded directly to Lambda
UNZIPPED_LIMIT = 250 * 1024 * 1024
RUNTIME_GLIBC = {"python3.10": (2, 26), "python3.11": (2, 26), "python3.12": (2, 34), "python3.13": (2, 34)}
# What every Lambda Python runtime image provides (glibc, the C++ runtime, zlib, which CPython itself needs).
RUNTIME_LIBRARIES = {
    "libc.so.6", "libm.so.6", "libdl.so.2", "librt.so.1", "libpthread.so.0", "libutil.so.1", "libresolv.so.2",
    "libnsl.so.1", "libcrypt.so.1", "libgcc_s.so.1", "libstdc++.so.6", "ld-linux-x86-64.so.2",
    "ld-linux-aarch64.so.1", "libz.so.1",
}
DT_NEEDED = 1


def _elf_needs(data: bytes) -> tuple[list[str], set[tuple[int, ...]]]:
    """(DT_NEEDED libraries, GLIBC_x.y versions required) of a 64-bit little-endian ELF shared object."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return [], set()
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, _shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]

    def string(table: int, offset: int) -> str:
        start = sections[table][4] + offset
        return data[start:data.index(b"\0", start)].decode()

    needed: list[str] = []
    versions: set[tuple[int, ...]] = set()
    for _name, kind, _flags, _addr, offset, size, link, info, _align, entsize in sections:
        if kind == 6:  # SHT_DYNAMIC
            for position in range(offset, offset + size, entsize or 16):
                tag, value = struct.unpack_from("<qQ", data, position)
                if tag == DT_NEEDED:
                    needed.append(string(link, value))
        elif kind == 0x6FFFFFFE:  # SHT_GNU_verneed
            position = offset
            for _ in range(info):
                _version, count, _file, aux, following = struct.unpack_from("<HHIII", data, position)
                entry = position + aux
                for _ in range(count):
                    _hash, _flags2, _other, name, next_aux = struct.unpack_from("<IHHII", data, entry)
                    label = string(link, name)
                    if label.startswith("GLIBC_") and label[6:].replace(".", "").isdigit():
                        versions.add(tuple(int(part) for part in label[6:].split(".")))
                    entry += next_aux
                position += following
    return needed, versions


def inspect(path, runtime: str = "python3.11") -> dict:
    """Sizes of the zip, and the problems that would stop it from loading on `runtime`."""
    glibc = RUNTIME_GLIBC.get(runtime, (2, 26))
    problems = []
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        unzipped = sum(info.file_size for info in infos)
        bundled = {PurePosixPath(info.filename).name for info in infos}
        for info in infos:
            name = PurePosixPath(info.filename).name
            if not (name.endswith(".so") or ".so." in name):
                continue
            needed, versions = _elf_needs(archive.read(info))
            newest = max(versions, default=None)
            if newest and newest > glibc:
                problems.append(f"{info.filename} needs GLIBC_{'.'.join(map(str, newest))}; "
                                f"{runtime} has {'.'.join(map(str, glibc))}")
            missing = [lib for lib in needed if lib not in RUNTIME_LIBRARIES and lib not in bundled]
            if missing:
                problems.append(f"{info.filename} links {', '.join(missing)}, in neither the zip nor Lambda")
    zipped = os.path.getsize(path)
    if zipped > ZIP_LIMIT:
        problems.append(f"the zip is {zipped / 1e6:.1f} MB; Lambda takes at most {ZIP_LIMIT / 1e6:.1f} MB")
    if unzipped > UNZIPPED_LIMIT:
        problems.append(f"unzipped it is {unzipped / 1e6:.1f} MB; Lambda takes at most {UNZIPPED_LIMIT / 1e6:.0f} MB")
    return {"zipped": zipped, "unzipped": unzipped, "problems": problems}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.lambda_zip", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("zip")
    parser.add_argument("--runtime", default=f"python{sys.version_info[0]}.{sys.version_info[1]}",
                        help="the Lambda runtime (Chalice uses the local Python's version; default: this one)")
    args = parser.parse_args(argv)
    report = inspect(args.zip, args.runtime)
    print(f"{args.zip}: {report['zipped'] / 1e6:.1f} MB zipped, {report['unzipped'] / 1e6:.1f} MB unzipped")
    for problem in report["problems"]:
        print(f"  PROBLEM: {problem}")
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
