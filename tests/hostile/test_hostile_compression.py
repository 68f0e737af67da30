"""Checkpoints whose zip members are compressed, honestly or as bombs.

A checkpoint repacked with any method a zip can hold that rnngen reads (stored,
deflate, bzip2, LZMA) loads as the original. A member that decompresses past what its
shape allows is refused after reading at most that much, whatever its header
declares: memory stays flat even for bzip2, which zipfile would expand a whole input
chunk at a time. Other methods, encryption and lying .npy headers are one line.
"""
import json
import os
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from world import ENV, assert_error, assert_ok, cli, digest, make_world

METHODS = {"stored": zipfile.ZIP_STORED, "deflate": zipfile.ZIP_DEFLATED,
           "bzip2": zipfile.ZIP_BZIP2, "lzma": zipfile.ZIP_LZMA}
MEMBER = "param/by.npy"  # the decoder bias: (V,) float32, a few hundred bytes


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    return make_world(tmp_path_factory, "compression")


def members(path):
    with zipfile.ZipFile(path) as z:
        return {info.filename: z.read(info) for info in z.infolist()}


def repack(src, dst, method, replace=None):
    """dst: src's members written again with ``method``; ``replace`` {name: bytes}."""
    with zipfile.ZipFile(dst, "w", compression=method) as z:
        for name, data in {**members(src), **(replace or {})}.items():
            z.writestr(name, data)
    return dst


def patch(path, name, **fields):
    """Overwrite header fields of member ``name`` in both its local and central headers:
    file_size (what it declares it decompresses to), compress_type, flag_bits."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        local = z.getinfo(name).header_offset
    central = data.index(b"PK\x01\x02")
    while data[central + 46:central + 46 + len(name)] != name.encode():
        central = data.index(b"PK\x01\x02", central + 4)
    # (offset in the local header, in the central header, struct format)
    where = {"flag_bits": (6, 8, "<H"), "compress_type": (8, 10, "<H"),
             "file_size": (22, 24, "<I")}
    for field, value in fields.items():
        at_local, at_central, fmt = where[field]
        struct.pack_into(fmt, data, local + at_local, value)
        struct.pack_into(fmt, data, central + at_central, value)
    path.write_bytes(bytes(data))
    return path


def npy_header(dtype, shape):
    """The bytes of an .npy file's header for an array of dtype and shape."""
    from io import BytesIO
    buf = BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
              "shape": shape})
    return buf.getvalue()


def vocab_size(w):
    return len(json.loads(str(np.load(w.ckpt)["meta"]))["vocab"])


# -- honest members of every method load as the original --------------------------------
@pytest.mark.parametrize("method", METHODS)
def test_a_checkpoint_repacked_with_any_method_reads_as_the_original(w, tmp_path, method):
    path = repack(w.ckpt, tmp_path / f"{method}.npz", METHODS[method])
    for args in (["sample", "--n", "40", "--random-seed", "3"], ["eval", "--corpus", w.text]):
        original, repacked = (cli([*args, "--checkpoint", p]) for p in (w.ckpt, path))
        assert_ok(repacked)
        assert repacked.stdout == original.stdout
    shown = json.loads(cli(["info", path, "--json"]).stdout)
    assert shown["steps"] == 2 and shown["parameters"] > 0


# -- bombs: the bytes a member decompresses to are bounded, not what it declares --------
def bomb(w, tmp_path, method, megabytes, declared):
    """The checkpoint with param/by a valid .npy header followed by ``megabytes`` MiB of
    zeros, its zip header declaring ``declared`` bytes (None: the truth)."""
    body = npy_header(np.float32, (vocab_size(w),)) + bytes(megabytes << 20)
    path = repack(w.ckpt, tmp_path / "bomb.npz", METHODS[method], {MEMBER: body})
    if declared is not None:
        patch(path, MEMBER, file_size=declared)
    return path


BOMBS = [(method, declared) for method in ("stored", "deflate", "bzip2", "lzma")
         for declared in ("the truth", "a lie")]
COMMANDS = {
    "sample": lambda w, p: ["sample", "--checkpoint", p, "--n", "5"],
    "eval": lambda w, p: ["eval", "--checkpoint", p, "--corpus", w.text],
    "info": lambda w, p: ["info", p, "--json"],
    "export": lambda w, p: ["export", "--checkpoint", p, "--output", w.d / "exported.npz"],
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("method, declared", BOMBS, ids=[f"{m}, declaring {d}" for m, d in BOMBS])
def test_a_member_that_decompresses_past_its_shape_is_refused(w, tmp_path, method, declared,
                                                             command):
    small = len(npy_header(np.float32, (vocab_size(w),))) + 4 * vocab_size(w)
    path = bomb(w, tmp_path, method, 4, small if declared == "a lie" else None)
    before = digest(path)
    line = assert_error(cli(COMMANDS[command](w, path)),
                        f"array 'param/by': it decompresses to more than the")
    assert "bytes its shape allows" in line
    assert digest(path) == before and not (w.d / "exported.npz").exists()


# runs the CLI and, at exit, writes this process's peak resident memory (VmHWM, kept
# per address space, so not the test process's, which a fork would count) to a file
PEAK = """import atexit, sys
where = sys.argv.pop(1)
def peak():
    with open("/proc/self/status") as status, open(where, "w") as out:
        out.write(next(l.split()[1] for l in status if l.startswith("VmHWM:")))
atexit.register(peak)
from rnngen.cli import main
main(prog_name="rnngen")
"""


def peak_memory(args, tmp_path):
    """(the finished `rnngen ARGS` as a CompletedProcess, its peak resident bytes)."""
    where = tmp_path / "peak"
    done = subprocess.run([sys.executable, "-c", PEAK, str(where), *map(str, args)],
                          capture_output=True, env=ENV, timeout=120)
    return done, int(where.read_text()) * 1024  # VmHWM is in kB


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmHWM in /proc")
def test_a_bzip2_bomb_is_refused_without_expanding_it(w, tmp_path):
    """128 MiB of zeros packs into a few hundred bytes of bzip2, which zipfile would
    decompress in one call; rnngen stops at the member's bound."""
    small = len(npy_header(np.float32, (vocab_size(w),))) + 4 * vocab_size(w)
    path = bomb(w, tmp_path, "bzip2", 128, small)
    assert path.stat().st_size < w.ckpt.stat().st_size + 4096
    _, normal = peak_memory(["sample", "--checkpoint", w.ckpt, "--n", "5"], tmp_path)
    done, peak = peak_memory(["sample", "--checkpoint", path, "--n", "5"], tmp_path)
    assert_error(done, "Error: ")
    assert peak < normal + (32 << 20), (peak >> 20, normal >> 20)
    assert_error(done, "array 'param/by': it decompresses to more than the")


# -- members rnngen does not read -----------------------------------------------------
def huge_shape(w, tmp_path):
    """param/by's .npy header declares 2**40 floats; 16 bytes follow."""
    body = npy_header(np.float32, (1 << 40,)) + bytes(16)
    return repack(w.ckpt, tmp_path / "m.npz", zipfile.ZIP_DEFLATED, {MEMBER: body})


def object_array(w, tmp_path):
    body = npy_header(object, (3,)) + b"\x80\x04N."
    return repack(w.ckpt, tmp_path / "m.npz", zipfile.ZIP_STORED, {MEMBER: body})


def method(number):
    return lambda w, tmp_path: patch(repack(w.ckpt, tmp_path / "m.npz", zipfile.ZIP_STORED),
                                     MEMBER, compress_type=number)


def encrypted(w, tmp_path):
    return patch(repack(w.ckpt, tmp_path / "m.npz", zipfile.ZIP_STORED), MEMBER, flag_bits=1)


def edit_stored_bytes(name, edit):
    """A checkpoint repacked with method ``name`` whose member's compressed bytes
    (a bytearray view: start, length) ``edit(data, start, length)`` changes."""
    def make(w, tmp_path):
        path = repack(w.ckpt, tmp_path / "m.npz", METHODS[name])
        data = bytearray(path.read_bytes())
        with zipfile.ZipFile(path) as z:
            info = z.getinfo(MEMBER)
        edit(data, info.header_offset + 30 + len(MEMBER), info.compress_size)
        path.write_bytes(bytes(data))
        return path
    return make


def scramble(data, start, length):
    for i in range(start + 8, start + length):  # past LZMA's own header
        data[i] ^= 0x5A


def flip_a_float(data, start, length):
    data[start + 200] ^= 0xFF


def huge_dictionary(data, start, length):
    struct.pack_into("<I", data, start + 5, 0xFFFFFFFF)  # LZMA1 properties: 4 GiB


UNREAD = [
    ("a .npy header declaring 2**40 floats", huge_shape,
     "its .npy header declares float32 (1099511627776,), which is not the 16 bytes"),
    ("an array of pickled objects", object_array, "holds pickled objects"),
    ("PPMd (method 98)", method(98), "compressed by zip method 98, not one of stored, "
                                     "deflate, bzip2, LZMA"),
    ("AES (method 99)", method(99), "compressed by zip method 99"),
    ("Deflate64 (method 9)", method(9), "compressed by zip method 9"),
    ("encrypted", encrypted, "array 'param/by': it is encrypted"),
    ("a corrupted deflate stream", edit_stored_bytes("deflate", scramble),
     "its deflate stream is corrupted"),
    ("a corrupted bzip2 stream", edit_stored_bytes("bzip2", scramble),
     "its bzip2 stream is corrupted"),
    ("a corrupted LZMA stream", edit_stored_bytes("lzma", scramble), "array 'param/by'"),
    ("a CRC that differs", edit_stored_bytes("stored", flip_a_float),
     "its bytes do not match its zip header"),
    ("an LZMA dictionary of 4 GiB", edit_stored_bytes("lzma", huge_dictionary),
     "its LZMA dictionary (4,294,967,295 bytes)"),
]


@pytest.mark.parametrize("command", ["sample", "info"])
@pytest.mark.parametrize("name, make, fragment", UNREAD, ids=[u[0] for u in UNREAD])
def test_members_rnngen_does_not_read_are_one_line(w, tmp_path, name, make, fragment,
                                                   command):
    path = make(w, tmp_path)
    before = digest(path)
    assert_error(cli(COMMANDS[command](w, path)), fragment)
    assert digest(path) == before


def test_the_bound_counts_the_metadata_too(w, tmp_path):
    """meta is a string of at most MAX_META_BYTES; a longer one is refused as it inflates."""
    from rnngen import schema
    body = npy_header(f"<U{schema.MAX_META_BYTES}", ()) + bytes(schema.MAX_META_BYTES + 8192)
    path = repack(w.ckpt, tmp_path / "m.npz", zipfile.ZIP_DEFLATED, {"meta.npy": body})
    patch(path, "meta.npy", file_size=1000)
    assert_error(cli(["info", path]), "array 'meta': it decompresses to more than the")
