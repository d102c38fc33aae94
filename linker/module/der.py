"""A minimal DER walker: just enough to find who signed a module, fast.

The loader's signature step needs only the first SignerInfo's issuer commonName and serial
number, for every module it loads; decoding the whole PKCS#7 structure with asn1crypto costs
~0.7 ms a module, this walk ~20 us. ``modinfo`` keeps using the full decoder.

    ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT SignedData }
    SignedData  ::= SEQUENCE { version, digestAlgorithms SET, contentInfo SEQUENCE,
                               certificates [0] IMPLICIT OPTIONAL, crls [1] OPTIONAL,
                               signerInfos SET OF SignerInfo }
    SignerInfo  ::= SEQUENCE { version, issuerAndSerialNumber SEQUENCE { issuer Name,
                               serialNumber INTEGER }, ... }
"""

from __future__ import annotations

from collections.abc import Iterator

from ..elf.records import BytesLike

OID_CN = bytes.fromhex("550403")  # 2.5.4.3, DER-encoded


class DerError(ValueError):
    pass


def tlv(buf: BytesLike, pos: int, end: int) -> tuple[int, int, int]:
    """``(tag, content_start, content_end)`` of the element at ``pos``."""
    if pos + 2 > end:
        raise DerError("truncated")
    tag, first = buf[pos], buf[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or pos + n > end:
            raise DerError("bad length")
        length = int.from_bytes(buf[pos:pos + n], "big")
        pos += n
    if pos + length > end:
        raise DerError("element runs past its parent")
    return tag, pos, pos + length


def children(buf: BytesLike, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    pos = start
    while pos < end:
        tag, cs, ce = tlv(buf, pos, end)
        yield tag, cs, ce
        pos = ce


def signer_id(blob: BytesLike) -> tuple[bytes | None, bytes] | None:
    """``(issuer commonName bytes or None, serial bytes)`` of the first signer, or None."""
    try:
        _, cs, ce = tlv(blob, 0, len(blob))                 # ContentInfo
        parts = list(children(blob, cs, ce))
        _, cs, ce = parts[1]                                # [0] EXPLICIT
        _, cs, ce = tlv(blob, cs, ce)                       # SignedData
        items = list(children(blob, cs, ce))
        tag, cs, ce = items[-1]                             # signerInfos SET
        if tag != 0x31:
            return None
        _, cs, ce = next(children(blob, cs, ce))            # first SignerInfo
        fields = list(children(blob, cs, ce))
        tag, cs, ce = fields[1]                             # issuerAndSerialNumber
        if tag != 0x30:
            return None                                     # [0] subjectKeyIdentifier
        (_, ns, ne), (_, ss, se) = list(children(blob, cs, ce))[:2]
        serial = bytes(blob[ss:se]).lstrip(b"\0")
        return _common_name(blob, ns, ne), serial
    except (DerError, IndexError, StopIteration, ValueError):
        return None


def _common_name(buf: BytesLike, start: int, end: int) -> bytes | None:
    for _, rs, re in children(buf, start, end):             # RDN SETs
        for _, as_, ae in children(buf, rs, re):            # AttributeTypeAndValue
            (_, os_, oe), (_, vs, ve) = list(children(buf, as_, ae))[:2]
            if buf[os_:oe] == OID_CN:
                return bytes(buf[vs:ve])
    return None
