"""Reading one array of an .npz with a bound on the bytes it decompresses to.

A zip member's header declares its size, and a hostile file can lie; zipfile also
hands bzip2 and LZMA members to their decompressor a whole input chunk at a time,
however far it expands (a few KiB of bzip2 can hold gigabytes of zeros). So the
member's raw bytes are read here and fed to the decompressor with ``max_length``:
no call returns more than CHUNK bytes, and a member that decompresses past its
bound is refused after at most bound + CHUNK bytes. The array's own header (the
.npy dtype and shape) is checked against the bytes that follow before any array is
made. Methods: stored, deflate, bzip2 and LZMA; any other is refused.
"""
import bz2
import io
import lzma
import struct
import zipfile
import zlib

import numpy as np

CHUNK = 1 << 16  # bytes read or decompressed at a time
_LOCAL_HEADER = struct.Struct(zipfile.structFileHeader)  # a member's local header
MAX_LZMA_DICT = 64 << 20  # a dictionary larger than this and than the member is refused

METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate",
           zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "LZMA"}


class MemberError(ValueError):
    """A member is larger than its bound, corrupted, encrypted or of a method not read."""


def read_array(f, info, limit):
    """The array stored in member ``info`` (a ZipInfo) of the zip open as ``f`` (binary,
    seekable), decompressing at most ``limit`` bytes of .npy (header and data).

    Pickled (object) arrays are refused. The array is writable and owns no file.
    """
    data = read_member(f, info, limit)
    view = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(view)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(view)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(view)
        else:
            raise MemberError(f".npy format version {version} is not one rnngen reads")
    except ValueError as e:
        raise MemberError(f"a broken .npy header ({e})") from None
    if dtype.hasobject:
        raise MemberError("it holds pickled objects, which rnngen refuses to load")
    count = int(np.prod(shape, dtype=object))  # object: no overflow for a hostile shape
    if count * dtype.itemsize != len(data) - view.tell():
        raise MemberError(f"its .npy header declares {dtype} {shape}, which is not the "
                          f"{len(data) - view.tell()} bytes that follow")
    array = np.frombuffer(data, dtype=dtype, count=count, offset=view.tell())
    return array.reshape(shape, order="F" if fortran else "C")


def read_member(f, info, limit):
    """The decompressed bytes of member ``info``, as a bytearray of at most ``limit``
    bytes; MemberError for more, for a CRC or size that differs from the header's,
    for encryption, or for a compression method not in METHODS."""
    if info.flag_bits & 0x1:
        raise MemberError("it is encrypted")
    if info.compress_type not in METHODS:
        raise MemberError(f"it is compressed by zip method {info.compress_type}, not one of "
                          f"{', '.join(METHODS.values())}")
    out, crc = bytearray(), 0
    for piece in _decompressed(_raw(f, info), info.compress_type, limit):
        if len(out) + len(piece) > limit:
            raise MemberError(f"it decompresses to more than the {limit:,} bytes its "
                              "shape allows")
        out += piece
        crc = zlib.crc32(piece, crc)
    if crc != info.CRC or len(out) != info.file_size:
        raise MemberError("its bytes do not match its zip header (CRC or size)")
    return out


def _raw(f, info):
    """Yield the member's compressed bytes, CHUNK at a time."""
    f.seek(info.header_offset)
    header = f.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size or header[:4] != zipfile.stringFileHeader:
        raise MemberError("its local zip header is missing")
    fields = _LOCAL_HEADER.unpack(header)
    name_length, extra_length = fields[-2], fields[-1]
    f.seek(info.header_offset + _LOCAL_HEADER.size + name_length + extra_length)
    left = info.compress_size
    while left > 0:
        data = f.read(min(CHUNK, left))
        if not data:
            raise MemberError("it is cut short (the file is truncated)")
        left -= len(data)
        yield data


def _decompressed(raw, method, limit):
    """Yield the decompressed bytes of the raw chunks, each piece at most CHUNK bytes."""
    if method == zipfile.ZIP_STORED:
        yield from raw
        return
    if method == zipfile.ZIP_DEFLATED:
        inflate = zlib.decompressobj(-15)  # a raw deflate stream, as zip stores it
        try:
            for data in raw:
                while data:
                    yield inflate.decompress(data, CHUNK)
                    data = inflate.unconsumed_tail
            yield inflate.flush()  # what the last input left: less than one match
        except zlib.error as e:
            raise MemberError(f"its deflate stream is corrupted ({e})") from None
        return
    if method == zipfile.ZIP_BZIP2:
        decompressor, errors = bz2.BZ2Decompressor(), (OSError, EOFError)
    else:
        raw, decompressor = _lzma(raw, limit)
        errors = (lzma.LZMAError, EOFError)
    try:
        for data in raw:
            if decompressor.eof:
                break  # bytes after the end of the stream are never decompressed
            yield decompressor.decompress(data, CHUNK)
            while not decompressor.needs_input and not decompressor.eof:
                yield decompressor.decompress(b"", CHUNK)
    except errors as e:
        raise MemberError(f"its {METHODS[method]} stream is corrupted ({e})") from None


def _lzma(raw, limit):
    """(the rest of raw, a decompressor) for zip's LZMA: a 4-byte header (version,
    properties' size), the LZMA1 properties, then the raw stream."""
    head = b""
    raw = iter(raw)
    for data in raw:
        head += data
        if len(head) >= 9:
            break
    if len(head) < 4:
        raise MemberError("its LZMA header is cut short")
    size = struct.unpack("<H", head[2:4])[0]
    props = head[4:4 + size]
    if size != 5 or len(props) != 5:
        raise MemberError("its LZMA properties are not the 5 bytes of LZMA1")
    lc_lp_pb, dict_size = props[0], struct.unpack("<I", props[1:])[0]
    if lc_lp_pb >= 9 * 5 * 5:
        raise MemberError("its LZMA properties are out of range")
    if dict_size > max(MAX_LZMA_DICT, limit):  # the decoder allocates it up front
        raise MemberError(f"its LZMA dictionary ({dict_size:,} bytes) is larger than any "
                          "checkpoint needs")
    pb, rest = divmod(lc_lp_pb, 45)
    lp, lc = divmod(rest, 9)
    try:
        decompressor = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[
            {"id": lzma.FILTER_LZMA1, "dict_size": dict_size, "lc": lc, "lp": lp, "pb": pb}])
    except lzma.LZMAError as e:
        raise MemberError(f"its LZMA properties are not usable ({e})") from None

    def chain():
        yield head[4 + size:]
        yield from raw
    return chain(), decompressor
